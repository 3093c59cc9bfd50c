"""An SD-JWT VC or presentation: format, issuer, then the verifier's steps, then status.

The format checks themselves are `core.sdjwt`'s pure functions; here they run against the
tenant's trust (`issuer_keys`) and clock, and each step is recorded as it passes.
"""

from __future__ import annotations

from eudi_connect.core.formats import SD_JWT_VC_FORMAT
from eudi_connect.core.sdjwt import SdJwtVerificationError, parse_presentation, verify_presentation
from eudi_connect.core.verdicts import Check, StatusReference
from eudi_connect.services.status_check import StatusResult
from eudi_connect.services.verification.commands import VerifyCommand
from eudi_connect.services.verification.context import VerificationContext
from eudi_connect.services.verification.issuer_keys import IssuerKey, IssuerKeyResolver
from eudi_connect.services.verification.outcome import CheckRun, Refused, VerificationOutcome

#: The order the SD-JWT verifier runs its steps in, after the issuer is resolved.
_STEPS = (
    Check.SIGNATURE,
    Check.VALIDITY,
    Check.TYPE,
    Check.CLAIMS,
    Check.DISCLOSURES,
    Check.KEY_BINDING,
)


class SdJwtVerifier:
    def __init__(self, context: VerificationContext, issuer_keys: IssuerKeyResolver) -> None:
        self._context = context
        self._issuer_keys = issuer_keys

    async def verify(self, tenant_id: str, command: VerifyCommand) -> VerificationOutcome:
        run = CheckRun(SD_JWT_VC_FORMAT)
        policy = command.policy
        skew = policy.clock_skew(self._context.settings.clock_skew_seconds)
        try:
            try:
                parsed = parse_presentation(command.credential)
            except SdJwtVerificationError as error:
                raise Refused(Check.FORMAT, error.failure, error.detail) from error
            run.passed(Check.FORMAT)
            issuer_key = await self._issuer_keys.resolve(tenant_id, parsed)
            run.passed(Check.ISSUER, issuer_key.detail)
            try:
                verified = verify_presentation(
                    parsed,
                    issuer_key=issuer_key.key,
                    now=int(self._context.clock()),
                    clock_skew_seconds=skew,
                    expected_audience=command.expected_audience or None,
                    expected_nonce=command.expected_nonce or None,
                    require_key_binding=policy.require_key_binding,
                    max_key_binding_age_seconds=policy.key_binding_age(
                        self._context.settings.max_key_binding_age_seconds
                    ),
                    allowed_vcts=policy.allowed_vcts,
                )
            except SdJwtVerificationError as error:
                failed = error.check or Check.FORMAT
                for step in _STEPS[: _STEPS.index(failed)] if failed in _STEPS else ():
                    if step is not Check.KEY_BINDING:
                        run.passed(step)
                raise Refused(failed, error.failure, error.detail) from error
            for step in _STEPS:
                if step is not Check.KEY_BINDING or verified.key_binding_verified:
                    run.passed(step)
            run.found = {
                "claims": verified.claims,
                "issuer": verified.issuer,
                "vct": verified.vct,
                "key_binding_verified": verified.key_binding_verified,
                "disclosed": verified.disclosed,
            }
            if parsed.key_binding_jwt is not None and not verified.key_binding_verified:
                run.note = (
                    "key binding not verified: the KB-JWT is not held to an expected_audience "
                    "and expected_nonce, so it could have been made for any verifier"
                )
            if not policy.check_status:
                return run.outcome()
            result = await self._status_of(tenant_id, issuer_key, verified.status, skew)
        except Refused as refusal:
            return run.refused(refusal)
        return run.finish(result)

    async def _status_of(
        self, tenant_id: str, issuer_key: IssuerKey, reference: StatusReference | None, skew: int
    ) -> StatusResult | None:
        if issuer_key.own:
            return await self._context.status.own(
                reference, await self._context.urls.current(tenant_id)
            )
        if reference is None:
            return None  # a foreign credential need not have a status
        return await self._context.status.foreign(reference, issuer_key.status_trust, leeway=skew)
