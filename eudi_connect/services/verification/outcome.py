"""The answer of one verification and the record it is made from.

A format's verifier notes each check as it passes (`CheckRun.passed`) and raises `Refused`
at the first that fails; the run then becomes the outcome, with every check performed in
order, the failed one last. The status check comes last of all (`finish`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eudi_connect.core.status_list import TokenStatus
from eudi_connect.core.verdicts import Check, VerificationFailureReason
from eudi_connect.services.status_check import StatusResult


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
    #: SD-JWT: the paths of the claims revealed by disclosures (`address.street_address`,
    #: `nationalities[0]`), which a DCQL match needs to refuse what was not asked for.
    disclosed: tuple[str, ...] = ()


class Refused(Exception):
    """A failed check inside one verification; becomes the outcome, never escapes."""

    def __init__(self, check: Check, failure: VerificationFailureReason, detail: str) -> None:
        super().__init__(detail)
        self.check = check
        self.failure = failure
        self.detail = detail


@dataclass
class CheckRun:
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

    def refused(self, refusal: Refused, status: TokenStatus | None = None) -> VerificationOutcome:
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

    def finish(self, result: StatusResult | None) -> VerificationOutcome:
        """The outcome once every other check passed: `result` is the status check's, or
        None when none was made."""
        if result is None:
            return self.outcome()
        if result.failure is not None:
            return self.refused(Refused(Check.STATUS, result.failure, result.detail), result.status)
        self.passed(Check.STATUS, result.detail)
        return self.outcome(result.status)
