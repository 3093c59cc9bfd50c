"""Clients that walk away from response streams, round after round, against a real server
process: by cancelling, by letting their deadline pass, or by dying (SIGKILL). Under uvloop
and asyncio, signing in worker processes or in the server, traced or not: the server stays
up and SERVING, serves the next call and has stored every credential it reported; in the
end it shuts down at once, with no error logged, every call's clean-up done (one access
line per call, one ended span per traced call) and no child process left."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import grpc
import pytest
from eudi.connect.v1 import credential_service_pb2 as pb
from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as trace_pb

from eudi_connect.core.templates import PID_EXAMPLE_SUBJECT

from .client_helpers import pid_request
from .db_inspect import integrity_ok, query, stored_slots
from .observed import eventually
from .processes import child_pids, create_tenant, running, start_server
from .streaming_calls import (
    FULL_NAMES,
    ISSUE_BATCH,
    ISSUE_STREAM,
    RESULTS_BEFORE_READY,
    STREAMING_METHODS,
    WATCH,
    CallInput,
    credential_id,
    open_call,
    results_of,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes in /proc"),
]

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = 5
DEADLINE_SECONDS = 2.0
# A call stuck in its clean-up would hold a graceful stop for the whole grace period.
GRACE_SECONDS = 30
STOP_SECONDS = 10.0
TRACE_SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"


@dataclass(frozen=True)
class ServerKind:
    flags: tuple[str, ...]
    traced: bool = False


SERVER_KINDS = {
    "uvloop-sign-workers": ServerKind(("--sign-workers", "1")),
    "uvloop-in-process": ServerKind(("--sign-workers", "0")),
    "asyncio-sign-workers": ServerKind(("--no-uvloop", "--sign-workers", "1")),
    "asyncio-in-process": ServerKind(("--no-uvloop", "--sign-workers", "0")),
    "uvloop-sign-workers-traced": ServerKind(("--sign-workers", "1"), traced=True),
}


@dataclass
class Served:
    """A server process and what its clients were told."""

    process: subprocess.Popen[str]
    address: str
    given: CallInput
    db: str
    log_path: Path
    input_file: Path
    reported: set[str] = field(default_factory=set)
    # Streaming calls made, and those of them that sent a result (so surely ran a handler:
    # a deadline may end a call on a busy machine before the server started it).
    calls: Counter[str] = field(default_factory=Counter)
    answered: Counter[str] = field(default_factory=Counter)

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("x-api-key", self.given.api_key),)


@asynccontextmanager
async def trace_sink() -> AsyncIterator[tuple[int, list[bytes]]]:
    """An OTLP trace collector on loopback that keeps the export requests it receives."""
    received: list[bytes] = []

    async def export(request: bytes, context: Any) -> bytes:
        received.append(request)
        return b""  # an empty ExportTraceServiceResponse

    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                TRACE_SERVICE, {"Export": grpc.unary_unary_rpc_method_handler(export)}
            )
        ]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield port, received
    finally:
        await server.stop(None)


def server_spans(exports: list[bytes]) -> Counter[str]:
    """How many server spans of each method the collector received."""
    names: Counter[str] = Counter()
    for raw in exports:
        request = trace_pb.ExportTraceServiceRequest.FromString(raw)
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                for span in scope.spans:
                    if span.kind == span.SPAN_KIND_SERVER:
                        names[span.name] += 1
    return names


def record(served: Served, method: str, results: list[Any]) -> None:
    served.calls[method] += 1
    served.answered[method] += bool(results)
    served.reported.update(filter(None, map(credential_id, results)))


async def died(served: Served, error: grpc.aio.AioRpcError) -> None:
    """Fails plainly when `error` came from the server's death (it may take a moment to
    exit after its connections drop)."""
    try:
        code = await asyncio.to_thread(served.process.wait, 2)
    except subprocess.TimeoutExpired:
        return
    raise AssertionError(f"the server died (exit {code})") from error


def deadline_codes(method: str) -> set[grpc.StatusCode]:
    """The status a client sees when its deadline ends a `method` call. grpc's client says
    INTERNAL ("Internal error from Core") when the deadline stops it while it is still
    writing a streamed request."""
    if method == ISSUE_STREAM:
        return {grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.INTERNAL}
    return {grpc.StatusCode.DEADLINE_EXCEEDED}


async def walk_away(served: Served, channel: grpc.aio.Channel, method: str, mode: str) -> None:
    """Opens a long `method` stream, reads its first results, then cancels it or stops
    reading until its deadline passes."""
    deadline = DEADLINE_SECONDS if mode == "deadline" else None
    tag = f"{mode}-{served.calls[method]}"
    call = open_call(channel, method, served.given, tag=tag, timeout=deadline)
    wanted = 1 if method == WATCH else RESULTS_BEFORE_READY
    results: list[Any] = []
    try:
        async for message in call:
            results.extend(results_of(message))
            if len(results) >= wanted:
                break
    except grpc.aio.AioRpcError as error:
        await died(served, error)
        # A busy machine may let the deadline pass before the first few results.
        if mode != "deadline" or error.code() not in deadline_codes(method):
            raise
    else:
        if mode == "deadline":
            assert await call.code() in deadline_codes(method)
        else:
            call.cancel()
    record(served, method, results)


async def killed_client(served: Served, tag: str) -> None:
    """A client process opens every stream, reads their first results and is killed."""
    client = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.integration.streaming_calls",
        served.address,
        served.given.api_key,
        str(served.input_file),
        tag,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    assert client.stdout is not None
    results: dict[str, list[str]] = {method: [] for method in STREAMING_METHODS}
    try:
        async with asyncio.timeout(60):
            while (line := (await client.stdout.readline()).decode().strip()) != "READY":
                assert line, "the client ended before all its streams were under way"
                method, credential = line.split()
                results[method].append(credential)
    finally:
        client.kill()
        await client.wait()
    for method, credentials in results.items():
        served.calls[method] += 1
        served.answered[method] += bool(credentials)
        served.reported.update(c for c in credentials if c != "-")


async def assert_whole(served: Served, channel: grpc.aio.Channel) -> None:
    """The server runs, says SERVING, issues a credential and knows it, and has stored
    every credential it reported, each in a slot of its own."""
    assert served.process.poll() is None, f"the server died (exit {served.process.returncode})"
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", "eudi.connect.v1.CredentialService"):
        answer = await health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
    stub = pb_grpc.CredentialServiceStub(channel)
    issued = await stub.IssueCredential(pid_request(), metadata=served.metadata, timeout=30)
    status = await stub.GetCredentialStatus(
        pb.GetCredentialStatusRequest(credential_id=issued.credential_id),
        metadata=served.metadata,
        timeout=10,
    )
    assert status.status == pb.CREDENTIAL_STATUS_VALID
    stored = {
        str(row[0]) for row in await query(served.db, "SELECT credential_id FROM credentials")
    }
    assert served.reported <= stored, "a credential was reported but not stored"
    slots = await stored_slots(served.db)
    assert len(slots) == len(set(slots))
    assert await integrity_ok(served.db)


async def stop(served: Served) -> list[dict[str, Any]]:
    """SIGTERM; the server must exit 0 well within its grace period and leave no child
    process behind. Returns its log lines."""
    children = child_pids(served.process.pid)
    served.process.send_signal(signal.SIGTERM)
    try:
        code = await asyncio.to_thread(served.process.wait, STOP_SECONDS)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"no exit {STOP_SECONDS} s after SIGTERM: a call is stuck") from None
    assert code == 0
    await eventually(lambda: not any(map(running, children)))
    lines = served.log_path.read_text().splitlines()
    assert all(line.startswith("{") for line in lines), [t for t in lines if t[:1] != "{"]
    return [json.loads(line) for line in lines]


@pytest.mark.parametrize("mode", ["cancel", "deadline", "killed-client"])
@pytest.mark.parametrize("kind", list(SERVER_KINDS))
async def test_abandoned_streams_leave_the_server_whole(
    tmp_path: Path, kind: str, mode: str
) -> None:
    """Every streaming RPC abandoned mid-stream by `mode`, ROUNDS times: the server stays
    whole after each round and stops cleanly, having finished and logged every call."""
    server_kind = SERVER_KINDS[kind]
    db = f"sqlite:///{tmp_path / 'aborts.db'}"
    tenant = create_tenant(db, "Walked Away From")
    async with trace_sink() as (sink_port, exports):
        env = {}
        if server_kind.traced:
            env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = f"http://127.0.0.1:{sink_port}"
        log_path = tmp_path / "server.log"
        with log_path.open("w") as log:
            process, address = start_server(
                db,
                "--grace",
                str(GRACE_SECONDS),
                *server_kind.flags,
                log=log,
                log_level="INFO",
                env=env,
            )
        given = CallInput(tenant["api_key"], dict(PID_EXAMPLE_SUBJECT))
        served = Served(process, address, given, db, log_path, tmp_path / "calls.json")
        try:
            async with grpc.aio.insecure_channel(address) as channel:
                seed = open_call(channel, ISSUE_BATCH, given, tag="seed", count=20)
                seeded = [result async for message in seed for result in results_of(message)]
                record(served, ISSUE_BATCH, seeded)
                credentials = [r.credential.credential for r in seeded]
                served.given = replace(given, credentials=credentials)
                served.input_file.write_text(
                    json.dumps({"subject": given.subject, "credentials": credentials})
                )
                for round_number in range(ROUNDS):
                    if mode == "killed-client":
                        await killed_client(served, f"killed-{round_number}")
                    else:
                        await asyncio.gather(
                            *(walk_away(served, channel, m, mode) for m in STREAMING_METHODS)
                        )
                    await assert_whole(served, channel)
            entries = await stop(served)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
        errors = [e for e in entries if e.get("level") in ("ERROR", "CRITICAL")]
        assert not errors, errors
        access = Counter(e["method"] for e in entries if e.get("logger") == "eudi_connect.access")
        for method in STREAMING_METHODS:
            logged = access[FULL_NAMES[method]]
            assert served.answered[method] <= logged <= served.calls[method], method
        if server_kind.traced:
            spans = server_spans(exports)
            for method in STREAMING_METHODS:
                if method != WATCH:  # health is not traced
                    ended = spans[FULL_NAMES[method]]
                    assert served.answered[method] <= ended <= served.calls[method], method
