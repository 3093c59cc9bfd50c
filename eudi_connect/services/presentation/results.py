"""A transaction as callers see it (its effective state, its results), and the results'
JSON form in the store: each presentation's verification, as VerifyCredential reports it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eudi_connect.core.status_list import TokenStatus
from eudi_connect.core.verdicts import Check, VerificationFailureReason
from eudi_connect.services.verification import CheckResult, VerificationOutcome
from eudi_connect.store.presentations import (
    FINAL_PRESENTATION_STATES,
    OPEN_PRESENTATION_STATES,
    PresentationRecord,
)

#: A response still RESPONDED this long after it was claimed lost the instance verifying
#: it (stopped mid-way): reads report it FAILED. Verification itself is cut off sooner.
VERIFICATION_ABANDONED_SECONDS = 60


@dataclass(frozen=True)
class PresentedResult:
    credential_query_id: str
    index: int
    outcome: VerificationOutcome


@dataclass(frozen=True)
class PresentationView:
    record: PresentationRecord
    state: str
    results: tuple[PresentedResult, ...]
    authorization_request_uri: str

    @property
    def final(self) -> bool:
        return self.state in FINAL_PRESENTATION_STATES


def abandoned(record: PresentationRecord, now: int) -> bool:
    """Whether the response's verification has outlived every instance's time limit."""
    return record.state == "RESPONDED" and now >= record.updated_at + VERIFICATION_ABANDONED_SECONDS


def effective_state(record: PresentationRecord, now: int) -> str:
    """EXPIRED once the lifetime is over before a response; FAILED once a response's
    verification was abandoned."""
    if record.state in OPEN_PRESENTATION_STATES and now >= record.expires_at:
        return "EXPIRED"
    if abandoned(record, now):
        return "FAILED"
    return record.state


def outcome_json(outcome: VerificationOutcome) -> dict[str, Any]:
    return {
        "valid": outcome.valid,
        "status": None if outcome.status is None else int(outcome.status),
        "failure": None if outcome.failure is None else outcome.failure.value,
        "detail": outcome.detail,
        "claims": outcome.claims,
        "issuer": outcome.issuer,
        "vct": outcome.vct,
        "key_binding_verified": outcome.key_binding_verified,
        "checks": [
            [c.name.value, c.passed, None if c.failure is None else c.failure.value, c.detail]
            for c in outcome.checks
        ],
        "format": outcome.format,
    }


def _outcome(value: dict[str, Any]) -> VerificationOutcome:
    failure = value.get("failure")
    status = value.get("status")
    return VerificationOutcome(
        valid=bool(value["valid"]),
        status=None if status is None else TokenStatus(status),
        failure=None if failure is None else VerificationFailureReason(failure),
        detail=value.get("detail", ""),
        claims=value.get("claims") or {},
        issuer=value.get("issuer", ""),
        vct=value.get("vct", ""),
        key_binding_verified=bool(value.get("key_binding_verified")),
        checks=tuple(
            CheckResult(
                Check(name), bool(passed), None if f is None else VerificationFailureReason(f), d
            )
            for name, passed, f, d in value.get("checks", ())
        ),
        format=value.get("format", ""),
    )


def results_text(results: Sequence[PresentedResult]) -> str:
    return json.dumps(
        [
            {"id": r.credential_query_id, "index": r.index, "outcome": outcome_json(r.outcome)}
            for r in results
        ],
        separators=(",", ":"),
        ensure_ascii=False,
    )


def parse_results(text: str) -> tuple[PresentedResult, ...]:
    if not text:
        return ()
    return tuple(
        PresentedResult(item["id"], int(item["index"]), _outcome(item["outcome"]))
        for item in json.loads(text)
    )
