"""Which key may have signed an SD-JWT VC, and what its status list is then trusted by.

In this order, the first that applies: the tenant's own key by `kid` when `iss` is the
tenant's issuer id; a trusted issuer's JWKS when `iss` is one; the leaf of an `x5c` chain
to one of the tenant's anchors (HAIP) whose certificate names `iss`. Anything else is an
untrusted issuer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey

from eudi_connect.core.jose import es256_verify
from eudi_connect.core.sdjwt import ParsedPresentation
from eudi_connect.core.trust_material import certificate_names_issuer, x5c_signer_key
from eudi_connect.core.verdicts import Check
from eudi_connect.core.verdicts import VerificationFailureReason as Reason
from eudi_connect.core.x509_chain import HAIP_POLICY, ChainError, ChainProblem
from eudi_connect.services.status_check import StatusTrust
from eudi_connect.services.trust import IssuerKeysUnavailable
from eudi_connect.services.verification.context import VerificationContext
from eudi_connect.services.verification.outcome import Refused

_FAILURE_OF_CHAIN = {
    ChainProblem.MALFORMED: Reason.MALFORMED,
    ChainProblem.UNTRUSTED: Reason.UNTRUSTED_ISSUER,
    ChainProblem.INVALID: Reason.CERTIFICATE_INVALID,
}


@dataclass(frozen=True)
class IssuerKey:
    """The key to check the signature with; `own` when it is one of the tenant's."""

    key: EllipticCurvePublicKey
    own: bool
    status_trust: StatusTrust
    detail: str


class IssuerKeyResolver:
    def __init__(self, context: VerificationContext) -> None:
        self._context = context

    async def resolve(self, tenant_id: str, parsed: ParsedPresentation) -> IssuerKey:
        """Our own key by kid; else a trusted issuer's JWKS; else an x5c chain (HAIP).

        Raises `Refused` (check ISSUER) when none of them vouches for the credential.
        """
        issuer, kid = parsed.issuer, parsed.kid
        # The tenant's fixed issuer id: credentials issued before a change of --public-url
        # are still its own.
        if issuer == (await self._context.urls.current(tenant_id)).issuer_id(tenant_id):
            found = await self._context.keys.public_key(tenant_id, kid) if kid else None
            if found is None:
                raise Refused(
                    Check.ISSUER, Reason.UNKNOWN_ISSUER_KEY, f"no issuer key with kid {kid!r}"
                )
            own_key: EllipticCurvePublicKey = found
            return IssuerKey(own_key, True, StatusTrust(keys=lambda _: [own_key]), f"own key {kid}")
        snapshot = await self._context.trust.snapshot(tenant_id)
        trusted = snapshot.issuers.get(issuer or "")
        if trusted is not None:
            try:
                keys = await self._context.trust.issuer_keys(trusted, kid)
            except IssuerKeysUnavailable as error:
                raise Refused(Check.ISSUER, Reason.ISSUER_KEYS_UNAVAILABLE, error.detail) from error
            candidates = keys.candidates(kid)
            if not candidates:
                raise Refused(
                    Check.ISSUER,
                    Reason.UNKNOWN_ISSUER_KEY,
                    f"trusted issuer has no key with kid {str(kid)[:64]!r}",
                )
            # Without a kid, the key whose signature verifies (a JWKS holds a few keys).
            key = next(
                (k for k in candidates if es256_verify(k, parsed.signing_input, parsed.signature)),
                candidates[0],
            )
            return IssuerKey(
                key,
                False,
                StatusTrust(keys=keys.candidates),
                f"trusted issuer {trusted.issuer[:128]}",
            )
        if "x5c" in parsed.header:
            at = datetime.fromtimestamp(self._context.clock(), UTC)
            try:
                key, signer = x5c_signer_key(parsed.header["x5c"], snapshot.anchors, at=at)
            except ChainError as error:
                raise Refused(
                    Check.ISSUER, _FAILURE_OF_CHAIN[error.problem], error.detail
                ) from error
            subject = signer.subject.rfc4514_string()[:128]
            if issuer is None or not certificate_names_issuer(signer, issuer):
                raise Refused(
                    Check.ISSUER,
                    Reason.ISSUER_CERTIFICATE_MISMATCH,
                    f"x5c chain of {subject} is trusted, but its leaf certificate does not "
                    "name the credential's iss (no URI SAN equal to it, no DNS SAN equal to "
                    "its https host)",
                )
            return IssuerKey(
                key,
                False,
                StatusTrust(keys=lambda _: [key], anchors=snapshot.anchors, policy=HAIP_POLICY),
                f"x5c chain of {subject}",
            )
        raise Refused(
            Check.ISSUER,
            Reason.UNTRUSTED_ISSUER,
            "issuer is not trusted by this tenant and the credential has no x5c",
        )
