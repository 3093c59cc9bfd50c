"""Issuer keys in a PKCS#11 token against the software key: ES256 signatures per second,
and credentials per second for a 10,000-item IssueCredentialBatch with each.

The token is a throwaway SoftHSM2 token in a temporary folder (Debian: apt-get install
softhsm2; python-pkcs11 from the `hsm` extra). Part one signs `--signatures` typical
SD-JWT signing inputs in this process, one after the other, with each key. Part two
starts one server process per backend on a fresh database (its default signing worker,
which opens its own token session) and issues `--items` credentials in one batch, after
one warm-up call.

The machine is shared and noisy: `--repeat N` interleaves the runs (software, token,
software, ...) and reports the median of each, with the slowest and fastest.

    python -m loadtest.benchmark_hsm [--signatures 5000] [--items 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc
from eudi.connect.v1 import credential_service_pb2 as pb
from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc

from eudi_connect.api.convert import dict_to_struct
from eudi_connect.core.key_encryption import new_issuer_key
from eudi_connect.core.pkcs11_signer import generate_key
from eudi_connect.core.pkcs11_token import TokenConfig
from eudi_connect.core.signer import Signer
from eudi_connect.core.templates import PID_EXAMPLE_SUBJECT
from eudi_connect.devtools.softhsm import CONFIG_ENV, SoftToken, make_token
from loadtest.lib.cpu import plan_cpus
from loadtest.lib.report import format_table, write_json
from loadtest.lib.service import REPO_ROOT, ServiceUnderTest, cli_command

# About the size of a PID SD-JWT VC's signing input (header and payload, base64url).
SIGNING_INPUT = b"e" * 1400


def _sign_rate(name: str, signer: Signer, count: int) -> dict[str, Any]:
    signer.sign(SIGNING_INPUT)  # opens the session (token) before the clock starts
    start = time.perf_counter()
    for _ in range(count):
        signer.sign(SIGNING_INPUT)
    elapsed = time.perf_counter() - start
    return {
        "run": f"ES256 sign, {name}",
        "items": count,
        "seconds": round(elapsed, 3),
        "per_s": round(count / elapsed, 1),
        "us_each": round(elapsed / count * 1e6, 1),
    }


def _cli(*args: str, env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [*cli_command(), "--log-level", "WARNING", *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
        env=env,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _request(person: int) -> pb.IssueCredentialRequest:
    """Each item its own subject, as in real bulk issuance."""
    subject = {**PID_EXAMPLE_SUBJECT, "given_name": f"Erika {person}"}
    return pb.IssueCredentialRequest(template_id="pid", subject=dict_to_struct(subject))


async def _batch(address: str, api_key: str, items: int) -> tuple[float, int]:
    metadata = (("x-api-key", api_key),)
    async with grpc.aio.insecure_channel(
        address, options=[("grpc.max_send_message_length", 64 * 1024 * 1024)]
    ) as channel:
        stub = pb_grpc.CredentialServiceStub(channel)
        await stub.IssueCredential(_request(0), metadata=metadata)  # warm the key and lease
        request = pb.IssueCredentialBatchRequest(
            items=pb.IssueCredentialBatchItems(items=[_request(i) for i in range(items)])
        )
        start = time.perf_counter()
        ok = 0
        async for chunk in stub.IssueCredentialBatch(request, metadata=metadata):
            ok += sum(result.WhichOneof("outcome") == "credential" for result in chunk.results)
        return time.perf_counter() - start, ok


def _batch_run(backend: str, token: SoftToken, items: int) -> dict[str, Any]:
    env = {**os.environ, **token.environment()}
    with tempfile.TemporaryDirectory(prefix="eudi-bench-hsm-") as name:
        service = ServiceUnderTest(Path(name), plan_cpus(pin=False), log_level="WARNING", env=env)
        created = _cli("tenant", "create", "benchmark", "--db", service.db_url, env=env)
        service.api_key = created["api_key"]
        flags = token.key_flags() if backend == "pkcs11" else ["--backend", "software"]
        _cli(
            "keys", "create", "--tenant", created["tenant_id"], *flags, "--db", service.db_url,
            env=env,
        )  # fmt: skip
        with service.session() as server:
            elapsed, ok = asyncio.run(_batch(server.address, service.api_key, items))
    return {
        "run": f"IssueCredentialBatch {items:,} items, {backend} key",
        "items": items,
        "ok": ok,
        "seconds": round(elapsed, 3),
        "per_s": round(ok / elapsed, 1) if elapsed else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signatures", type=int, default=5000)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="eudi-softhsm-") as folder:
        token = make_token(Path(folder))
        os.environ[CONFIG_ENV] = str(token.config)  # this process signs in part one
        in_token = generate_key(
            TokenConfig(module=token.module, token_label=token.label, pin_file=str(token.pin_file)),
            "bench",
        )
        software = new_issuer_key()
        signing_runs: list[dict[str, Any]] = []
        batch_runs: list[dict[str, Any]] = []
        for _ in range(args.repeat):
            signing_runs.append(_sign_rate("software key", software, args.signatures))
            signing_runs.append(_sign_rate("PKCS#11 (SoftHSM2)", in_token, args.signatures))
        for _ in range(args.repeat):
            for backend in ("software", "pkcs11"):
                batch_runs.append(_batch_run(backend, token, args.items))
    signing = _medians(signing_runs)
    batches = _medians(batch_runs)
    print(format_table(signing, ["run", "items", "per_s", "min_per_s", "max_per_s", "us_each"]))
    print()
    print(format_table(batches, ["run", "items", "ok", "per_s", "min_per_s", "max_per_s"]))
    if args.json:
        write_json(args.json, {"signing": signing_runs, "batches": batch_runs})
    return 0 if all(row["ok"] == row["items"] for row in batch_runs) else 1


def _medians(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per run name, the run with the median rate, and the range over all of them."""
    rows = []
    for name in dict.fromkeys(run["run"] for run in runs):
        same = sorted((r for r in runs if r["run"] == name), key=lambda r: r["per_s"])
        median = same[len(same) // 2]
        rows.append(
            {
                **median,
                "ok": min(r.get("ok", r["items"]) for r in same),
                "min_per_s": same[0]["per_s"],
                "max_per_s": same[-1]["per_s"],
            }
        )
    return rows


if __name__ == "__main__":
    raise SystemExit(main())
