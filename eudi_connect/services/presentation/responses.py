"""Verifying what a wallet presented: every presentation through the verification service
(key binding to this request's client identifier or origin and nonce; mdoc through its
OpenID4VP session transcript), then the DCQL match over what verified (OpenID4VP 1.0
sections 6.4 and 8.6), and the transaction's outcome from both."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from eudi_connect.core.formats import MDOC_FORMAT
from eudi_connect.core.jose import MalformedJwsError, split_jws
from eudi_connect.core.oid4vp import (
    DcqlQuery,
    MatchFailure,
    Presented,
    QueryMatch,
    ResponseEncryptionKey,
    ResponseMode,
    dc_api_audience,
    dc_api_session_transcript,
    disclosed_paths,
    match_query,
)
from eudi_connect.core.oid4vp.transaction_data import entries_for, hashes_problem
from eudi_connect.core.verdicts import Check, VerificationFailureReason
from eudi_connect.errors import InvalidArgumentError
from eudi_connect.reasons import Reason
from eudi_connect.services.presentation.results import PresentedResult
from eudi_connect.services.verification import (
    CheckResult,
    VerificationOutcome,
    VerificationPolicy,
    VerificationService,
    VerifyCommand,
)
from eudi_connect.store.presentations import PresentationRecord

#: Verifications of one response that run at once.
VERIFY_CONCURRENCY = 8
MAX_DETAIL = 1000


@dataclass(frozen=True)
class Verdict:
    results: tuple[PresentedResult, ...]
    match: QueryMatch
    failure_reason: str = ""
    failure_detail: str = ""

    @property
    def verified(self) -> bool:
        return not self.failure_reason


def _command(
    record: PresentationRecord,
    presentation: str,
    policy: VerificationPolicy,
    key: ResponseEncryptionKey | None,
    origin: str | None,
) -> VerifyCommand:
    if ResponseMode(record.response_mode).dc_api:
        jwk = None if key is None else key.public_jwk()
        origin = origin or ""
        return VerifyCommand(
            credential=presentation,
            expected_audience=dc_api_audience(origin),
            expected_nonce=record.nonce,
            policy=policy,
            mdoc_session_transcript=dc_api_session_transcript(
                origin=origin, nonce=record.nonce, encryption_jwk=jwk
            ),
        )
    return VerifyCommand(
        credential=presentation,
        expected_audience=record.client_id,
        expected_nonce=record.nonce,
        policy=policy,
        expected_response_uri=record.response_uri or "",
        expected_jwk_thumbprint=b"" if key is None else key.thumbprint(),
    )


def presented(outcome: VerificationOutcome) -> Presented:
    """What the DCQL match sees of one verified (or refused) presentation."""
    if not outcome.valid:
        failure = outcome.failure.value if outcome.failure is not None else "INVALID"
        return Presented.refused(format=outcome.format, failure=failure, detail=outcome.detail)
    if outcome.format == MDOC_FORMAT:
        return Presented.mdoc(
            doctype=outcome.vct,
            namespaces=outcome.claims,
            holder_bound=outcome.key_binding_verified,
        )
    return Presented.sd_jwt(
        vct=outcome.vct,
        claims=outcome.claims,
        disclosed=disclosed_paths(outcome.claims, outcome.disclosed),
        holder_bound=outcome.key_binding_verified,
    )


def _with_transaction_data(
    outcome: VerificationOutcome, presentation: str, entries: Sequence[str]
) -> VerificationOutcome:
    """Appendix B.3.3: the verified KB-JWT must hash every transaction data entry for its
    credential id; otherwise the presentation is refused as a key binding failure."""
    problem: str | None = "an mdoc cannot carry transaction data here"
    if outcome.format != MDOC_FORMAT:
        try:
            problem = hashes_problem(split_jws(presentation.rsplit("~", 1)[1]).payload, entries)
        except MalformedJwsError:
            problem = "the presentation has no KB-JWT to carry transaction data hashes"
    if problem is None:
        return outcome
    failure = VerificationFailureReason.KEY_BINDING_INVALID
    return replace(
        outcome,
        valid=False,
        failure=failure,
        detail=problem,
        checks=(*outcome.checks, CheckResult(Check.KEY_BINDING, False, failure, problem)),
    )


def _refused_outcome(presentation: str, error: InvalidArgumentError) -> VerificationOutcome:
    fmt = MDOC_FORMAT if "~" not in presentation else "dc+sd-jwt"
    return VerificationOutcome(valid=False, detail=f"{error.reason}: {error.message}", format=fmt)


async def verify_response(
    verification: VerificationService,
    record: PresentationRecord,
    query: DcqlQuery,
    vp_token: Mapping[str, Sequence[str]],
    *,
    policy: VerificationPolicy,
    key: ResponseEncryptionKey | None,
    origin: str | None = None,
) -> Verdict:
    semaphore = asyncio.Semaphore(VERIFY_CONCURRENCY)

    async def one(credential_id: str, index: int, presentation: str) -> PresentedResult:
        command = _command(record, presentation, policy, key, origin)
        async with semaphore:
            try:
                outcome = await verification.verify(record.tenant_id, command)
            except InvalidArgumentError as error:
                outcome = _refused_outcome(presentation, error)
        entries = entries_for(record.transaction_data, credential_id)
        if entries and outcome.valid:
            outcome = _with_transaction_data(outcome, presentation, entries)
        return PresentedResult(credential_id, index, outcome)

    results = tuple(
        await asyncio.gather(
            *(
                one(credential_id, index, presentation)
                for credential_id, presentations in vp_token.items()
                for index, presentation in enumerate(presentations)
            )
        )
    )
    by_id: dict[str, list[Presented]] = {}
    for result in results:
        by_id.setdefault(result.credential_query_id, []).append(presented(result.outcome))
    match = match_query(query, by_id)
    if match.satisfied:
        return Verdict(results, match)
    return Verdict(results, match, _failure_reason(match, results), match.detail[:MAX_DETAIL])


def _failure_reason(match: QueryMatch, results: Sequence[PresentedResult]) -> Reason:
    if match.failure is MatchFailure.NOT_REQUESTED:
        return Reason.CREDENTIAL_NOT_REQUESTED
    failed = {m.failure for m in match.credentials.values() if not m.matched}
    if MatchFailure.VERIFICATION_FAILED in failed:
        return Reason.PRESENTATION_INVALID
    return Reason.DCQL_QUERY_NOT_SATISFIED
