"""Verification of credentials and presentations: our own tenants' and other issuers'.

A credential that fails a check is an answer (`valid=False` with a reason), not an error;
every check performed is reported, passed ones included. SD-JWT VCs are trusted as our
own (by `kid`), as a trusted issuer's (its JWKS), or by an `x5c` chain to a configured
anchor (HAIP) whose leaf names their `iss`; mdocs by their x5chain to the tenant's own key
certificates or a configured anchor. Status comes last, only for a credential that passed
everything else: from the store for the tenant's own credentials, from the list they name
for every other.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey

from eudi_connect.core.formats import MDOC_FORMAT, SD_JWT_VC_FORMAT
from eudi_connect.core.jose import b64url_encode, es256_verify
from eudi_connect.core.mdoc import (
    MdocVerificationError,
    OpenedMdoc,
    VerifiedMdoc,
    check_session_transcript,
    open_mdoc,
    openid4vp_session_transcript,
    verify_decoded_issuer_signed,
    verify_device_authentication,
)
from eudi_connect.core.sdjwt import (
    Check,
    ParsedPresentation,
    SdJwtVerificationError,
    StatusReference,
    VerificationFailureReason,
    parse_presentation,
    verify_presentation,
)
from eudi_connect.core.status_list import TokenStatus
from eudi_connect.core.trust import certificate_der, certificate_names_issuer, x5c_signer_key
from eudi_connect.core.x509_chain import HAIP_POLICY, MDOC_POLICY, ChainError, ChainProblem
from eudi_connect.errors import InvalidArgumentError
from eudi_connect.services.keys import KeyService
from eudi_connect.services.public_urls import TenantUrls
from eudi_connect.services.settings import ServiceSettings
from eudi_connect.services.status_check import StatusChecker, StatusResult, StatusTrust
from eudi_connect.services.trust import IssuerKeysUnavailable, TrustService

Reason = VerificationFailureReason
MAX_CLOCK_SKEW_SECONDS = 3600
MAX_KEY_BINDING_AGE_SECONDS = 86_400
MAX_ALLOWED_VCTS = 100

#: The order the SD-JWT verifier runs its steps in, after the issuer is resolved.
_SD_JWT_STEPS = (
    Check.SIGNATURE,
    Check.VALIDITY,
    Check.TYPE,
    Check.CLAIMS,
    Check.DISCLOSURES,
    Check.KEY_BINDING,
)
#: mdoc verification runs as one call; its steps, and which step each reason comes from.
_MDOC_STEPS = (Check.FORMAT, Check.ISSUER, Check.SIGNATURE, Check.TYPE, Check.VALIDITY)
_MDOC_CHECK_OF = {
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
_FAILURE_OF_CHAIN = {
    ChainProblem.MALFORMED: Reason.MALFORMED,
    ChainProblem.UNTRUSTED: Reason.UNTRUSTED_ISSUER,
    ChainProblem.INVALID: Reason.CERTIFICATE_INVALID,
}


@dataclass(frozen=True, kw_only=True)
class VerificationPolicy:
    """A caller's policy; None means the server's default."""

    require_key_binding: bool = False
    max_key_binding_age_seconds: int | None = None
    allowed_vcts: frozenset[str] = frozenset()
    check_status: bool = True
    clock_skew_seconds: int | None = None

    def check(self) -> None:
        """InvalidArgumentError(POLICY_INVALID) for values outside their bounds."""
        age, skew = self.max_key_binding_age_seconds, self.clock_skew_seconds
        problem = ""
        if age is not None and not 1 <= age <= MAX_KEY_BINDING_AGE_SECONDS:
            problem = f"max_key_binding_age_seconds must be 1 to {MAX_KEY_BINDING_AGE_SECONDS}"
        elif skew is not None and not 0 <= skew <= MAX_CLOCK_SKEW_SECONDS:
            problem = f"clock_skew_seconds must be 0 to {MAX_CLOCK_SKEW_SECONDS}"
        elif len(self.allowed_vcts) > MAX_ALLOWED_VCTS or "" in self.allowed_vcts:
            problem = f"allowed_vcts holds 1 to {MAX_ALLOWED_VCTS} non-empty types"
        if problem:
            raise InvalidArgumentError(problem, reason="POLICY_INVALID")


@dataclass(frozen=True, kw_only=True)
class VerifyCommand:
    credential: str
    expected_audience: str = ""
    expected_nonce: str = ""
    policy: VerificationPolicy = field(default_factory=VerificationPolicy)
    # mdoc DeviceResponse: the transcript as given, else built from the OpenID4VP fields
    # (expected_audience as client_id, expected_nonce, the response uri and thumbprint).
    mdoc_session_transcript: bytes = b""
    expected_response_uri: str = ""
    expected_jwk_thumbprint: bytes = b""

    def session_transcript(self) -> bytes:
        """The SessionTranscript a DeviceResponse's device signature must cover.

        InvalidArgumentError (SESSION_TRANSCRIPT_MISSING or _INVALID) when there is none:
        without it no device signature can be checked, and an unchecked one proves nothing.
        """
        if self.mdoc_session_transcript:
            check_session_transcript(self.mdoc_session_transcript)
            return self.mdoc_session_transcript
        if not (self.expected_audience and self.expected_nonce and self.expected_response_uri):
            raise InvalidArgumentError(
                "a DeviceResponse is verified against its session transcript: set "
                "mdoc_session_transcript, or expected_audience (client_id), expected_nonce "
                "and expected_response_uri",
                reason="SESSION_TRANSCRIPT_MISSING",
            )
        return openid4vp_session_transcript(
            client_id=self.expected_audience,
            nonce=self.expected_nonce,
            response_uri=self.expected_response_uri,
            jwk_thumbprint=self.expected_jwk_thumbprint or None,
        )

    def check_key_binding_request(self) -> None:
        """SD-JWT: InvalidArgumentError (KEY_BINDING_CHECK_INCOMPLETE) when key binding is
        asked for (required, or an audience or a nonce expected) without both an audience
        and a nonce. A KB-JWT held to less proves nothing about this verifier or session:
        one made for any other verifier would pass and could be replayed here.
        """
        asked = self.policy.require_key_binding or self.expected_audience or self.expected_nonce
        if asked and not (self.expected_audience and self.expected_nonce):
            raise InvalidArgumentError(
                "key binding is checked against the verifier and the session: set both "
                "expected_audience and expected_nonce (the KB-JWT's aud and nonce)",
                reason="KEY_BINDING_CHECK_INCOMPLETE",
            )

    def asks_for_device_authentication(self) -> bool:
        return bool(
            self.policy.require_key_binding
            or self.expected_audience
            or self.expected_nonce
            or self.mdoc_session_transcript
            or self.expected_response_uri
        )


@dataclass(frozen=True)
class CheckResult:
    name: Check
    passed: bool
    failure: VerificationFailureReason | None = None
    detail: str = ""


@dataclass(frozen=True, kw_only=True)
class VerificationOutcome:
    valid: bool
    status: TokenStatus | None = None
    failure: VerificationFailureReason | None = None
    detail: str = ""
    claims: dict[str, Any] = field(default_factory=dict)
    issuer: str = ""
    vct: str = ""
    key_binding_verified: bool = False
    checks: tuple[CheckResult, ...] = ()
    format: str = ""


class _Refused(Exception):
    """A failed check inside one verification; becomes the outcome, never escapes."""

    def __init__(self, check: Check, failure: Reason, detail: str) -> None:
        super().__init__(detail)
        self.check = check
        self.failure = failure
        self.detail = detail


@dataclass
class _Run:
    """The checks of one verification as they happen."""

    format: str
    checks: list[CheckResult] = field(default_factory=list)
    found: dict[str, Any] = field(default_factory=dict)
    #: The detail of a valid outcome: what was not checked that a reader might assume was.
    note: str = ""

    def passed(self, check: Check, detail: str = "") -> None:
        self.checks.append(CheckResult(check, True, None, detail))

    def outcome(self, status: TokenStatus | None = None) -> VerificationOutcome:
        return VerificationOutcome(
            valid=True,
            status=status,
            detail=self.note,
            checks=tuple(self.checks),
            format=self.format,
            **self.found,
        )

    def refused(self, refusal: _Refused, status: TokenStatus | None = None) -> VerificationOutcome:
        self.checks.append(CheckResult(refusal.check, False, refusal.failure, refusal.detail))
        return VerificationOutcome(
            valid=False,
            status=status,
            failure=refusal.failure,
            detail=refusal.detail,
            checks=tuple(self.checks),
            format=self.format,
            **self.found,
        )


@dataclass(frozen=True)
class _IssuerKey:
    key: EllipticCurvePublicKey
    own: bool
    status_trust: StatusTrust
    detail: str


class VerificationService:
    def __init__(
        self,
        *,
        keys: KeyService,
        trust: TrustService,
        status: StatusChecker,
        settings: ServiceSettings,
        urls: TenantUrls,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = keys
        self._trust = trust
        self._status = status
        self._settings = settings
        self._urls = urls
        self._clock = clock

    async def verify(self, tenant_id: str, command: VerifyCommand) -> VerificationOutcome:
        """Raises InvalidArgumentError only for a policy out of bounds, an SD-JWT key
        binding check without an audience and a nonce, or an mdoc DeviceResponse without a
        usable session transcript.
        """
        command.policy.check()
        if isinstance(command.credential, str) and "~" not in command.credential:
            return await self._verify_mdoc(tenant_id, command)
        command.check_key_binding_request()
        return await self._verify_sd_jwt(tenant_id, command)

    async def verify_many(
        self, tenant_id: str, commands: Sequence[VerifyCommand], *, concurrency: int = 16
    ) -> Any:
        """Yields (index, outcome or InvalidArgumentError) as each verification finishes."""
        semaphore = asyncio.Semaphore(concurrency)

        async def one(index: int, command: VerifyCommand) -> tuple[int, Any]:
            async with semaphore:
                try:
                    return index, await self.verify(tenant_id, command)
                except InvalidArgumentError as error:
                    return index, error

        tasks = [asyncio.ensure_future(one(i, c)) for i, c in enumerate(commands)]
        try:
            for finished in asyncio.as_completed(tasks):
                yield await finished
        finally:
            for task in tasks:
                task.cancel()

    # --- SD-JWT VC -------------------------------------------------------------------
    async def _verify_sd_jwt(self, tenant_id: str, command: VerifyCommand) -> VerificationOutcome:
        run = _Run(SD_JWT_VC_FORMAT)
        policy = command.policy
        skew = _or(policy.clock_skew_seconds, self._settings.clock_skew_seconds)
        try:
            try:
                parsed = parse_presentation(command.credential)
            except SdJwtVerificationError as error:
                raise _Refused(Check.FORMAT, error.failure, error.detail) from error
            run.passed(Check.FORMAT)
            issuer_key = await self._issuer_key(tenant_id, parsed)
            run.passed(Check.ISSUER, issuer_key.detail)
            try:
                verified = verify_presentation(
                    parsed,
                    issuer_key=issuer_key.key,
                    now=int(self._clock()),
                    clock_skew_seconds=skew,
                    expected_audience=command.expected_audience or None,
                    expected_nonce=command.expected_nonce or None,
                    require_key_binding=policy.require_key_binding,
                    max_key_binding_age_seconds=_or(
                        policy.max_key_binding_age_seconds,
                        self._settings.max_key_binding_age_seconds,
                    ),
                    allowed_vcts=policy.allowed_vcts,
                )
            except SdJwtVerificationError as error:
                failed = error.check or Check.FORMAT
                for step in (
                    _SD_JWT_STEPS[: _SD_JWT_STEPS.index(failed)] if failed in _SD_JWT_STEPS else ()
                ):
                    if step is not Check.KEY_BINDING:
                        run.passed(step)
                raise _Refused(failed, error.failure, error.detail) from error
            for step in _SD_JWT_STEPS:
                if step is not Check.KEY_BINDING or verified.key_binding_verified:
                    run.passed(step)
            run.found = {
                "claims": verified.claims,
                "issuer": verified.issuer,
                "vct": verified.vct,
                "key_binding_verified": verified.key_binding_verified,
            }
            if parsed.key_binding_jwt is not None and not verified.key_binding_verified:
                run.note = (
                    "key binding not verified: the KB-JWT is not held to an expected_audience "
                    "and expected_nonce, so it could have been made for any verifier"
                )
            if not policy.check_status:
                return run.outcome()
            result = await self._status_of(tenant_id, issuer_key, verified.status, skew)
        except _Refused as refusal:
            return run.refused(refusal)
        return _finish(run, result)

    async def _issuer_key(self, tenant_id: str, parsed: ParsedPresentation) -> _IssuerKey:
        """Our own key by kid; else a trusted issuer's JWKS; else an x5c chain (HAIP)."""
        issuer, kid = parsed.issuer, parsed.kid
        # The tenant's fixed issuer id: credentials issued before a change of --public-url
        # are still its own.
        if issuer == (await self._urls.current(tenant_id)).issuer_id(tenant_id):
            found = await self._keys.public_key(tenant_id, kid) if kid else None
            if found is None:
                raise _Refused(
                    Check.ISSUER, Reason.UNKNOWN_ISSUER_KEY, f"no issuer key with kid {kid!r}"
                )
            own_key: EllipticCurvePublicKey = found
            return _IssuerKey(
                own_key, True, StatusTrust(keys=lambda _: [own_key]), f"own key {kid}"
            )
        snapshot = await self._trust.snapshot(tenant_id)
        trusted = snapshot.issuers.get(issuer or "")
        if trusted is not None:
            try:
                keys = await self._trust.issuer_keys(trusted, kid)
            except IssuerKeysUnavailable as error:
                raise _Refused(
                    Check.ISSUER, Reason.ISSUER_KEYS_UNAVAILABLE, error.detail
                ) from error
            candidates = keys.candidates(kid)
            if not candidates:
                raise _Refused(
                    Check.ISSUER,
                    Reason.UNKNOWN_ISSUER_KEY,
                    f"trusted issuer has no key with kid {str(kid)[:64]!r}",
                )
            # Without a kid, the key whose signature verifies (a JWKS holds a few keys).
            key = next(
                (k for k in candidates if es256_verify(k, parsed.signing_input, parsed.signature)),
                candidates[0],
            )
            return _IssuerKey(
                key,
                False,
                StatusTrust(keys=keys.candidates),
                f"trusted issuer {trusted.issuer[:128]}",
            )
        if "x5c" in parsed.header:
            at = datetime.fromtimestamp(self._clock(), UTC)
            try:
                key, signer = x5c_signer_key(parsed.header["x5c"], snapshot.anchors, at=at)
            except ChainError as error:
                raise _Refused(
                    Check.ISSUER, _FAILURE_OF_CHAIN[error.problem], error.detail
                ) from error
            subject = signer.subject.rfc4514_string()[:128]
            if issuer is None or not certificate_names_issuer(signer, issuer):
                raise _Refused(
                    Check.ISSUER,
                    Reason.ISSUER_CERTIFICATE_MISMATCH,
                    f"x5c chain of {subject} is trusted, but its leaf certificate does not "
                    "name the credential's iss (no URI SAN equal to it, no DNS SAN equal to "
                    "its https host)",
                )
            return _IssuerKey(
                key,
                False,
                StatusTrust(keys=lambda _: [key], anchors=snapshot.anchors, policy=HAIP_POLICY),
                f"x5c chain of {subject}",
            )
        raise _Refused(
            Check.ISSUER,
            Reason.UNTRUSTED_ISSUER,
            "issuer is not trusted by this tenant and the credential has no x5c",
        )

    async def _status_of(
        self, tenant_id: str, issuer_key: _IssuerKey, reference: StatusReference | None, skew: int
    ) -> StatusResult | None:
        if issuer_key.own:
            return await self._status.own(reference, await self._urls.current(tenant_id))
        if reference is None:
            return None  # a foreign credential need not have a status
        return await self._status.foreign(reference, issuer_key.status_trust, leeway=skew)

    # --- mdoc ------------------------------------------------------------------------
    async def _verify_mdoc(self, tenant_id: str, command: VerifyCommand) -> VerificationOutcome:
        """IssuerSigned, or a DeviceResponse whose device signature is the key binding.

        Raises InvalidArgumentError for a DeviceResponse without a usable session transcript.
        """
        run = _Run(MDOC_FORMAT)
        policy = command.policy
        skew = _or(policy.clock_skew_seconds, self._settings.clock_skew_seconds)
        # The tenant's own key certificates vouch for its own mdocs alone; an issuer CA
        # shared by every tenant is no anchor here, only if a tenant configures it.
        own = await self._keys.own_certificates(tenant_id)
        snapshot = await self._trust.snapshot(tenant_id)
        anchors = [*own, *snapshot.anchor_ders]
        try:
            try:
                opened = open_mdoc(command.credential)
                # Before any signature work: a request without one cannot be answered.
                transcript = command.session_transcript() if opened.document else b""
                verified = verify_decoded_issuer_signed(
                    opened.issuer_signed,
                    trust_anchors=anchors,
                    now=datetime.fromtimestamp(self._clock(), UTC),
                    clock_skew_seconds=skew,
                )
            except MdocVerificationError as error:
                failure = Reason(error.failure.value)
                failed = _MDOC_CHECK_OF.get(failure, Check.FORMAT)
                for step in (
                    _MDOC_STEPS[: _MDOC_STEPS.index(failed)]
                    if failed in _MDOC_STEPS
                    else _MDOC_STEPS
                ):
                    run.passed(step)
                raise _Refused(failed, failure, error.detail) from error
            signer = verified.issuer_certificate
            own_signed = certificate_der(signer) in own
            # Ours as our SD-JWT VCs name us; anyone else by the subject its anchor vouches for.
            issuer = (
                self._settings.issuer_id(tenant_id)
                if own_signed
                else signer.subject.rfc4514_string()
            )
            claims = {ns: _json_safe(elements) for ns, elements in verified.claims.items()}
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
                raise _Refused(Check.TYPE, Reason.WRONG_TYPE, "docType is not an allowed type")
            run.passed(Check.TYPE)
            run.passed(Check.VALIDITY)
            run.passed(Check.DISCLOSURES)
            self._check_device_authentication(run, command, opened, verified, transcript)
            if not policy.check_status:
                return run.outcome()
            result = await self._mdoc_status(
                tenant_id, verified, own_signed, snapshot.anchors, skew
            )
        except _Refused as refusal:
            return run.refused(refusal)
        return _finish(run, result)

    @staticmethod
    def _check_device_authentication(
        run: _Run,
        command: VerifyCommand,
        opened: OpenedMdoc,
        verified: VerifiedMdoc,
        transcript: bytes,
    ) -> None:
        """The mdoc's key binding step: the device signature over the session transcript."""
        if opened.document is None:
            if command.asks_for_device_authentication():
                raise _Refused(
                    Check.KEY_BINDING,
                    Reason.KEY_BINDING_REQUIRED,
                    "an IssuerSigned mdoc carries no device authentication; present a "
                    "DeviceResponse",
                )
            return
        try:
            verify_device_authentication(opened.document, verified, transcript)
        except MdocVerificationError as error:
            raise _Refused(Check.KEY_BINDING, Reason(error.failure.value), error.detail) from error
        run.found["key_binding_verified"] = True
        source = "given" if command.mdoc_session_transcript else "OpenID4VP"
        run.passed(Check.KEY_BINDING, f"device signature over the {source} session transcript")

    async def _mdoc_status(
        self,
        tenant_id: str,
        verified: VerifiedMdoc,
        own_signed: bool,
        anchors: Any,
        skew: int,
    ) -> StatusResult | None:
        if own_signed:
            return await self._status.own(verified.status, await self._urls.current(tenant_id))
        if verified.status is None:
            return None
        key = verified.issuer_certificate.public_key()
        keys = [key] if isinstance(key, EllipticCurvePublicKey) else []
        trust = StatusTrust(keys=lambda _: keys, anchors=tuple(anchors), policy=MDOC_POLICY)
        return await self._status.foreign(verified.status, trust, leeway=skew)


def _json_safe(value: Any) -> Any:
    """mdoc element values as JSON: dates in ISO 8601, byte strings in base64url."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, bytes):
        return b64url_encode(value)
    if isinstance(value, date):  # datetime is a date too
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


def _finish(run: _Run, result: StatusResult | None) -> VerificationOutcome:
    if result is None:
        return run.outcome()
    if result.failure is not None:
        return run.refused(_Refused(Check.STATUS, result.failure, result.detail), result.status)
    run.passed(Check.STATUS, result.detail)
    return run.outcome(result.status)
