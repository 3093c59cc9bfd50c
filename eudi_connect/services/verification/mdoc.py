"""An mdoc: IssuerSigned, or a DeviceResponse whose device signature is the key binding.

`core.mdoc` checks the structure, the x5chain, the signature, the MSO, the validity and
the digests in one call; here the chain's anchors are the tenant's own key certificates and
its configured trust anchors, the call's failure is mapped back to the check it belongs to,
and the device signature and the status follow.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey

from eudi_connect.core.encoding import b64url_encode
from eudi_connect.core.formats import MDOC_FORMAT
from eudi_connect.core.mdoc import (
    MdocVerificationError,
    OpenedMdoc,
    VerifiedMdoc,
    open_mdoc,
    verify_decoded_issuer_signed,
    verify_device_authentication,
)
from eudi_connect.core.trust_material import certificate_der
from eudi_connect.core.verdicts import Check
from eudi_connect.core.verdicts import VerificationFailureReason as Reason
from eudi_connect.core.x509_chain import MDOC_POLICY
from eudi_connect.services.status_check import StatusResult, StatusTrust
from eudi_connect.services.verification.commands import VerifyCommand
from eudi_connect.services.verification.context import VerificationContext
from eudi_connect.services.verification.outcome import CheckRun, Refused, VerificationOutcome

#: mdoc verification runs as one call; its steps, and which step each reason comes from.
_STEPS = (Check.FORMAT, Check.ISSUER, Check.SIGNATURE, Check.TYPE, Check.VALIDITY)
_CHECK_OF = {
    Reason.MALFORMED: Check.FORMAT,
    Reason.UNKNOWN_ISSUER_KEY: Check.ISSUER,
    Reason.CERTIFICATE_INVALID: Check.ISSUER,
    Reason.BAD_SIGNATURE: Check.SIGNATURE,
    Reason.WRONG_TYPE: Check.TYPE,
    Reason.EXPIRED: Check.VALIDITY,
    Reason.NOT_YET_VALID: Check.VALIDITY,
    Reason.DIGEST_MISMATCH: Check.DISCLOSURES,
    Reason.DUPLICATE_DISCLOSURE: Check.DISCLOSURES,
}


class MdocVerifier:
    def __init__(self, context: VerificationContext) -> None:
        self._context = context

    async def verify(self, tenant_id: str, command: VerifyCommand) -> VerificationOutcome:
        """Raises InvalidArgumentError for a DeviceResponse without a usable session
        transcript."""
        run = CheckRun(MDOC_FORMAT)
        policy = command.policy
        skew = policy.clock_skew(self._context.settings.clock_skew_seconds)
        # The tenant's own key certificates vouch for its own mdocs alone; an issuer CA
        # shared by every tenant is no anchor here, only if a tenant configures it.
        own = await self._context.keys.own_certificates(tenant_id)
        snapshot = await self._context.trust.snapshot(tenant_id)
        anchors = [*own, *snapshot.anchor_ders]
        try:
            try:
                opened = open_mdoc(command.credential)
                # Before any signature work: a request without one cannot be answered.
                transcript = command.session_transcript() if opened.document else b""
                verified = verify_decoded_issuer_signed(
                    opened.issuer_signed,
                    trust_anchors=anchors,
                    now=datetime.fromtimestamp(self._context.clock(), UTC),
                    clock_skew_seconds=skew,
                )
            except MdocVerificationError as error:
                failure = error.failure
                failed = _CHECK_OF.get(failure, Check.FORMAT)
                for step in _STEPS[: _STEPS.index(failed)] if failed in _STEPS else _STEPS:
                    run.passed(step)
                raise Refused(failed, failure, error.detail) from error
            signer = verified.issuer_certificate
            own_signed = certificate_der(signer) in own
            # Ours as our SD-JWT VCs name us; anyone else by the subject its anchor vouches for.
            issuer = (
                self._context.settings.issuer_id(tenant_id)
                if own_signed
                else signer.subject.rfc4514_string()
            )
            claims = {ns: json_safe(elements) for ns, elements in verified.claims.items()}
            run.found = {"claims": claims, "issuer": issuer, "vct": verified.doc_type}
            run.passed(Check.FORMAT)
            run.passed(
                Check.ISSUER,
                "own key certificate"
                if own_signed
                else f"x5chain of {issuer[:128]} to a configured trust anchor",
            )
            run.passed(Check.SIGNATURE)
            if policy.allowed_vcts and verified.doc_type not in policy.allowed_vcts:
                raise Refused(Check.TYPE, Reason.WRONG_TYPE, "docType is not an allowed type")
            run.passed(Check.TYPE)
            run.passed(Check.VALIDITY)
            run.passed(Check.DISCLOSURES)
            _check_device_authentication(run, command, opened, verified, transcript)
            if not policy.check_status:
                return run.outcome()
            result = await self._status_of(tenant_id, verified, own_signed, snapshot.anchors, skew)
        except Refused as refusal:
            return run.refused(refusal)
        return run.finish(result)

    async def _status_of(
        self,
        tenant_id: str,
        verified: VerifiedMdoc,
        own_signed: bool,
        anchors: Sequence[x509.Certificate],
        skew: int,
    ) -> StatusResult | None:
        if own_signed:
            return await self._context.status.own(
                verified.status, await self._context.urls.current(tenant_id)
            )
        if verified.status is None:
            return None
        key = verified.issuer_certificate.public_key()
        keys = [key] if isinstance(key, EllipticCurvePublicKey) else []
        trust = StatusTrust(keys=lambda _: keys, anchors=tuple(anchors), policy=MDOC_POLICY)
        return await self._context.status.foreign(verified.status, trust, leeway=skew)


def _check_device_authentication(
    run: CheckRun,
    command: VerifyCommand,
    opened: OpenedMdoc,
    verified: VerifiedMdoc,
    transcript: bytes,
) -> None:
    """The mdoc's key binding step: the device signature over the session transcript."""
    if opened.document is None:
        if command.asks_for_device_authentication():
            raise Refused(
                Check.KEY_BINDING,
                Reason.KEY_BINDING_REQUIRED,
                "an IssuerSigned mdoc carries no device authentication; present a DeviceResponse",
            )
        return
    try:
        verify_device_authentication(opened.document, verified, transcript)
    except MdocVerificationError as error:
        raise Refused(Check.KEY_BINDING, error.failure, error.detail) from error
    run.found["key_binding_verified"] = True
    source = "given" if command.mdoc_session_transcript else "OpenID4VP"
    run.passed(Check.KEY_BINDING, f"device signature over the {source} session transcript")


def json_safe(value: Any) -> Any:
    """mdoc element values as JSON: dates in ISO 8601, byte strings in base64url."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, bytes):
        return b64url_encode(value)
    if isinstance(value, date):  # datetime is a date too
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
