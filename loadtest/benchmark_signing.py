"""The signing worker's cost per credential, in this process: render + build + sign of the
built-in PID as an SD-JWT VC (holder-bound, with a status reference) and as an mdoc, with
ES256 alone and each step alone beside them.

What a signing worker does per draft is `sign_draft` on a draft whose claims are not yet
rendered; this measures exactly that, on one core, with no I/O. Each figure is the median
of `--runs` runs of `--iterations` calls (CPU time of this thread), so a busy machine moves
it less than a mean would.

    .venv/bin/python -m loadtest.benchmark_signing --runs 7 --iterations 2000 --json sign.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from eudi_connect.core.credential_builder import CredentialDraft, sign_draft
from eudi_connect.core.formats import MDOC_FORMAT
from eudi_connect.core.jose import (
    SigningKey,
    checked_public_jwk,
    es256_sign,
    generate_p256_key,
    public_jwk,
)
from eudi_connect.core.mdoc import make_issuer_certificate
from eudi_connect.core.templates import PID_EXAMPLE_SUBJECT, TemplateEnvironment, builtin_template
from eudi_connect.core.verdicts import StatusReference

__all__ = ["main", "measure"]

#: The target this benchmark reports against: render + build + sign of one PID.
TARGET_US_PER_PID = 120.0
ISSUER = "https://issuer.example.com/issuers/bench"
STATUS_URI = "https://issuer.example.com/status-lists/bench"


def _median_us(work: Callable[[], object], runs: int, iterations: int) -> float:
    """Median over `runs` of the thread CPU time of `iterations` calls, per call in µs."""
    for _ in range(max(iterations // 10, 1)):  # warm caches and the allocator first
        work()
    figures = []
    for _ in range(runs):
        start = time.thread_time_ns()
        for _ in range(iterations):
            work()
        figures.append((time.thread_time_ns() - start) / iterations / 1000)
    return round(statistics.median(figures), 1)


def _drafts() -> tuple[CredentialDraft, CredentialDraft, SigningKey]:
    template = builtin_template("pid")
    assert template is not None
    key = SigningKey("bench-key", generate_p256_key())
    now = int(time.time())
    certificate = make_issuer_certificate(
        key,
        issuer_name="Bench Issuer",
        country="DE",
        not_before=datetime.now(UTC) - timedelta(days=1),
        not_after=datetime.now(UTC) + timedelta(days=365),
    )
    draft = CredentialDraft(
        template=template,
        issuer=ISSUER,
        issued_at=now,
        expires_at=now + template.validity(None),
        status=StatusReference(uri=STATUS_URI, idx=12345),
        # as the service hands it on: checked once when the request is read
        holder_jwk=checked_public_jwk(public_jwk(generate_p256_key().public_key())),
        subject=dict(PID_EXAMPLE_SUBJECT),
    )
    mdoc = replace(draft, format=MDOC_FORMAT, certificate_chain=(certificate,))
    return draft, mdoc, key


def measure(runs: int, iterations: int) -> dict[str, Any]:
    """Every figure of the report, in µs per call."""
    draft, mdoc_draft, key = _drafts()
    environment = TemplateEnvironment()
    claims = environment.render_claims(draft.template, draft.subject)
    signing_input = b"x" * 900  # about the size of a PID's header and payload, base64url

    rendered = replace(draft, claims=claims)  # sign_draft then skips the render

    rows = {
        "es256_sign": _median_us(
            lambda: es256_sign(key.private_key, signing_input), runs, iterations
        ),
        "render_pid": _median_us(
            lambda: environment.render_claims(draft.template, draft.subject), runs, iterations
        ),
        "sd_jwt_build_and_sign": _median_us(
            lambda: sign_draft(rendered, key, environment), runs, iterations
        ),
        "pid_sd_jwt": _median_us(lambda: sign_draft(draft, key, environment), runs, iterations),
        "pid_mdoc": _median_us(lambda: sign_draft(mdoc_draft, key, environment), runs, iterations),
    }
    return {
        "us_per_call": rows,
        "target_us_per_pid": TARGET_US_PER_PID,
        "pid_within_target": rows["pid_sd_jwt"] <= TARGET_US_PER_PID,
        "runs": runs,
        "iterations": iterations,
        "python": platform.python_version(),
    }


_LABELS = {
    "es256_sign": "ES256 alone (one signature, r||s)",
    "render_pid": "render the PID claims",
    "sd_jwt_build_and_sign": "SD-JWT VC from rendered claims (disclosures, payload, ES256)",
    "pid_sd_jwt": "PID as SD-JWT VC: render + build + sign",
    "pid_mdoc": "PID as mdoc: render + map + CBOR + COSE sign",
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per figure (the median)")
    parser.add_argument("--iterations", type=int, default=2000, help="calls per run")
    parser.add_argument("--json", help="write the report here as JSON")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.iterations < 1:
        parser.error("--runs and --iterations must be positive")
    report = measure(args.runs, args.iterations)
    for key, label in _LABELS.items():
        print(f"{label:<62} {report['us_per_call'][key]:>8.1f} µs")
    verdict = "within" if report["pid_within_target"] else "over"
    print(f"target {TARGET_US_PER_PID:.0f} µs per PID credential: {verdict}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(report, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
