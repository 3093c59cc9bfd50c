"""The one SLA table (docs/performance.md, "The SLA": P95 per operation) and our targets.

Every tool that judges figures takes its limits and verdicts from here: the credential
exchange benchmark, the scaling test (which operations exist) and the staging check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CAPACITY_TARGET",
    "OPEN_LOOP_P95_TARGET_MS",
    "OPERATIONS",
    "WALLET_TARGETS",
    "Operation",
    "WalletTarget",
    "operation",
    "sla_row",
    "target_rows",
    "verdict",
    "wallet_target_rows",
]

CAPACITY_TARGET = 0.60  # unary issuance throughput as a share of the echo ceiling
OPEN_LOOP_P95_TARGET_MS = 10.0  # issuance P95 in an open loop at 70 % of capacity


@dataclass(frozen=True)
class Operation:
    """One row of the SLA table and how the load generator exercises it."""

    key: str
    label: str
    scenario: str
    rpcs_per_call: int  # RPCs one scenario call makes (the lifecycle makes four)
    sla_mvp_ms: float  # docs/performance.md, "The SLA", P95
    sla_later_ms: float
    unloaded_p95_target_ms: float  # our own target at one call in flight


def _scenario(name: str) -> str:
    return f"loadtest.scenarios:{name}_scenario"


OPERATIONS: tuple[Operation, ...] = (
    Operation("issuance", "issuance", _scenario("issue"), 1, 500, 200, 2.0),
    # The same SLA row for the second format: an ISO/IEC 18013-5 mdoc per call.
    Operation("issuance_mdoc", "issuance (mso_mdoc)", _scenario("issue_mdoc"), 1, 500, 200, 2.0),
    Operation("verification", "verification", _scenario("verify"), 1, 200, 100, 1.5),
    Operation("revocation", "revocation", _scenario("revoke"), 1, 300, 150, 1.5),
    Operation(
        "lifecycle",
        "full lifecycle (issue, verify, revoke, verify)",
        _scenario("lifecycle"),
        4,
        800,
        300,
        6.0,
    ),
)


@dataclass(frozen=True)
class WalletTarget:
    """A P95 target of an OpenID4VCI wallet flow step, one flow in flight, on SQLite."""

    step: str  # a step of loadtest.benchmark_wallet_flows: "credential", "flow", ...
    proofs: int  # key proofs in the credential request
    p95_ms: float


WALLET_TARGETS: tuple[WalletTarget, ...] = (
    WalletTarget("credential", 10, 25.0),  # the credential request with 10 proofs
    WalletTarget("flow", 1, 15.0),  # a whole flow (offer to credential) with 1 proof
)


def wallet_target_rows(p95_ms: Mapping[tuple[str, int], float | None]) -> list[dict[str, Any]]:
    """The wallet flow targets against the measured P95 of (step, proofs)."""
    return [
        _target(
            f"{t.step} with {t.proofs} proof(s) P95, 1 in flight",
            p95_ms.get((t.step, t.proofs)),
            f"<= {t.p95_ms:g} ms",
            t.p95_ms,
        )
        for t in WALLET_TARGETS
    ]


def operation(key: str) -> Operation:
    """The SLA row named ``key``; KeyError for an unknown one."""
    for each in OPERATIONS:
        if each.key == key:
            return each
    raise KeyError(key)


def verdict(value: float | None, limit: float, *, at_least: bool = False) -> str:
    """``pass`` or ``FAIL`` against ``limit`` (an upper one unless ``at_least``), or n/a."""
    if value is None:
        return "n/a"
    return "pass" if (value >= limit if at_least else value <= limit) else "FAIL"


def sla_row(op: Operation, p95_ms: float | None, /, **columns: Any) -> dict[str, Any]:
    """A measured P95 against the MVP and later columns; ``columns`` go in front."""
    return {
        "operation": op.label,
        **columns,
        "mvp_ms": op.sla_mvp_ms,
        "mvp": verdict(p95_ms, op.sla_mvp_ms),
        "later_ms": op.sla_later_ms,
        "later": verdict(p95_ms, op.sla_later_ms),
    }


def target_rows(
    unloaded_p95_ms: Mapping[str, float | None],
    issuance_echo_fraction: float | None,
    open_loop: Mapping[str, Any] | None,
) -> list[dict[str, Any]]:
    """Our own targets: unloaded P95 per operation, issuance capacity, open-loop P95."""
    rows = []
    for op in OPERATIONS:
        if op.key not in unloaded_p95_ms:
            continue
        value = unloaded_p95_ms[op.key]
        limit = op.unloaded_p95_target_ms
        rows.append(_target(f"{op.key} P95, 1 in flight", value, f"<= {limit:g} ms", limit))
    if "issuance" in unloaded_p95_ms:
        rows.append(
            _target(
                "issuance throughput / echo ceiling",
                issuance_echo_fraction,
                f">= {CAPACITY_TARGET:.0%}",
                CAPACITY_TARGET,
                at_least=True,
            )
        )
    if open_loop is not None:
        rows.append(
            _target(
                f"issuance P95, open loop at {open_loop['rate']:g}/s",
                open_loop["p95_ms"],
                f"<= {OPEN_LOOP_P95_TARGET_MS:g} ms",
                OPEN_LOOP_P95_TARGET_MS,
            )
        )
    return rows


def _target(
    name: str, measured: float | None, shown: str, limit: float, *, at_least: bool = False
) -> dict[str, Any]:
    return {
        "target": name,
        "measured": measured,
        "limit": shown,
        "verdict": verdict(measured, limit, at_least=at_least),
    }
