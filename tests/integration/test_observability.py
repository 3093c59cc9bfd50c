"""Metrics, spans and logs of real RPCs, read back through real exporters."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import grpc
import pytest
from eudi.connect.v1 import credential_service_pb2 as pb
from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from eudi_connect.core.jose import SigningKey, generate_p256_key, private_jwk, public_jwk
from eudi_connect.core.templates import PID_EXAMPLE_SUBJECT
from eudi_connect.monitoring.logs import configure_logging, flush_access_log
from eudi_connect.monitoring.performance_metrics import NO_TENANT, TIME_BUCKETS_MS
from eudi_connect.services.app import Services

from .chunks import all_results
from .client_helpers import pid_request
from .conftest import Tenant
from .observed import CREDENTIAL_SERVICE, Observed, observed_server


@pytest.fixture
async def observed(services: Services) -> AsyncIterator[Observed]:
    async with observed_server(services) as running:
        yield running


@pytest.fixture
async def stub(observed: Observed) -> AsyncIterator[pb_grpc.CredentialServiceStub]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{observed.running.port}") as channel:
        yield pb_grpc.CredentialServiceStub(channel)


async def test_successful_call_is_counted_and_timed(
    observed: Observed, stub: pb_grpc.CredentialServiceStub, tenant: Tenant
) -> None:
    """An IssueCredential that succeeds adds one OK count and one time sample for its tenant."""
    await stub.IssueCredential(pid_request(), metadata=tenant.metadata)
    assert observed.count("IssueCredential", "OK", tenant.tenant_id) == 1
    point = observed.histogram(
        "operation.time", operation=CREDENTIAL_SERVICE + "IssueCredential", tenant=tenant.tenant_id
    )
    assert point is not None
    assert point.count == 1
    assert point.sum > 0
    assert tuple(point.explicit_bounds) == TIME_BUCKETS_MS


async def test_unauthenticated_call_is_counted_without_tenant(
    observed: Observed, stub: pb_grpc.CredentialServiceStub
) -> None:
    """A call the auth interceptor aborts is counted as UNAUTHENTICATED with no tenant."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetIssuerKeys(pb.GetIssuerKeysRequest(), metadata=(("x-api-key", "nope"),))
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    await observed.wait_count("GetIssuerKeys", "UNAUTHENTICATED", NO_TENANT)
    assert observed.count("GetIssuerKeys", "OK", NO_TENANT) == 0


async def test_not_found_is_counted_with_tenant(
    observed: Observed, stub: pb_grpc.CredentialServiceStub, tenant: Tenant
) -> None:
    """A domain error after authentication is counted under its own code and the tenant."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetCredentialStatus(
            pb.GetCredentialStatusRequest(credential_id="0" * 32), metadata=tenant.metadata
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    await observed.wait_count("GetCredentialStatus", "NOT_FOUND", tenant.tenant_id)


async def test_invalid_argument_is_counted(
    observed: Observed, stub: pb_grpc.CredentialServiceStub, tenant: Tenant
) -> None:
    """A request the service refuses is counted as INVALID_ARGUMENT, not OK."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.IssueCredential(pid_request(holder_jwk="{"), metadata=tenant.metadata)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    await observed.wait_count("IssueCredential", "INVALID_ARGUMENT", tenant.tenant_id)


async def test_stream_items_and_time_to_first_item(
    observed: Observed, stub: pb_grpc.CredentialServiceStub, tenant: Tenant
) -> None:
    """A streamed batch records its item count and the time to its first result."""
    request = pb.IssueCredentialBatchRequest(
        items=pb.IssueCredentialBatchItems(items=[pid_request() for _ in range(5)])
    )
    results = await all_results(stub.IssueCredentialBatch(request, metadata=tenant.metadata))
    assert len(results) == 5
    operation = CREDENTIAL_SERVICE + "IssueCredentialBatch"
    assert observed.count("IssueCredentialBatch", "OK", tenant.tenant_id) == 1
    items = observed.histogram("operation.stream_items", operation=operation)
    assert items is not None
    assert (items.count, items.sum) == (1, 1)  # the five results travel in one message
    first = observed.histogram("operation.time_to_first_item", operation=operation)
    total = observed.histogram("operation.time", operation=operation)
    assert first is not None
    assert total is not None
    assert first.count == 1
    assert 0 < first.sum <= total.sum


async def test_refused_stream_counts_no_items(
    observed: Observed, stub: pb_grpc.CredentialServiceStub
) -> None:
    """A stream refused by authentication is UNAUTHENTICATED with zero items, no first item."""
    request = pb.IssueCredentialBatchRequest(
        items=pb.IssueCredentialBatchItems(items=[pid_request()])
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for _ in stub.IssueCredentialBatch(request):
            pass
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    await observed.wait_count("IssueCredentialBatch", "UNAUTHENTICATED", NO_TENANT)
    operation = CREDENTIAL_SERVICE + "IssueCredentialBatch"
    items = observed.histogram("operation.stream_items", operation=operation)
    assert items is not None
    assert (items.count, items.sum) == (1, 0)
    assert observed.histogram("operation.time_to_first_item", operation=operation) is None


async def test_client_cancelled_stream_is_counted_as_cancelled(
    observed: Observed, stub: pb_grpc.CredentialServiceStub, tenant: Tenant
) -> None:
    """A stream the client abandons after its first result is counted as CANCELLED."""
    request = pb.IssueCredentialBatchRequest(
        items=pb.IssueCredentialBatchItems(items=[pid_request() for _ in range(2000)])
    )
    call = stub.IssueCredentialBatch(request, metadata=tenant.metadata)
    await call.read()
    call.cancel()
    await observed.wait_count("IssueCredentialBatch", "CANCELLED", tenant.tenant_id)


async def test_health_checks_are_counted(observed: Observed) -> None:
    """Public RPCs (health) are counted too, with no tenant."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{observed.running.port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        await health.Check(health_pb2.HealthCheckRequest(service=""))
    points = [
        p
        for p in observed.points("operation.count")
        if dict(p.attributes)
        == {"operation": "/grpc.health.v1.Health/Check", "grpc.status_code": "OK", "tenant": ""}
    ]
    assert [p.value for p in points] == [1]


async def test_issuance_steps_are_timed_inside_the_rpc_span(
    observed: Observed, stub: pb_grpc.CredentialServiceStub, tenant: Tenant
) -> None:
    """Render, sign and store are timed into operation.time and traced as child spans."""
    await stub.IssueCredential(pid_request(), metadata=tenant.metadata)
    for step in ("issuance.render", "issuance.sign", "issuance.store"):
        point = observed.histogram("operation.time", operation=step)
        assert point is not None, step
        assert point.count >= 1
    spans = {span.name: span for span in observed.spans.get_finished_spans()}
    rpc = spans["/eudi.connect.v1.CredentialService/IssueCredential"]
    assert rpc.context is not None
    for step in ("issuance.render", "issuance.sign", "issuance.store"):
        child = spans[step]
        assert child.parent is not None, step
        assert child.parent.span_id == rpc.context.span_id, step
        assert child.context is not None
        assert child.context.trace_id == rpc.context.trace_id


async def test_prometheus_scrape_shows_rpc_metrics(
    observed: Observed, stub: pb_grpc.CredentialServiceStub, tenant: Tenant
) -> None:
    """GET /metrics on the metrics port shows the counts, statuses and buckets in text format."""
    await stub.IssueCredential(pid_request(), metadata=tenant.metadata)
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.GetIssuerKeys(pb.GetIssuerKeysRequest())
    await observed.wait_count("GetIssuerKeys", "UNAUTHENTICATED", NO_TENANT)
    async with (
        aiohttp.ClientSession() as session,
        session.get(observed.metrics_url + "/metrics") as response,
    ):
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    samples = [line for line in text.splitlines() if not line.startswith("#")]

    def has(name: str, *labels: str) -> bool:
        return any(s.startswith(name + "{") and all(lb in s for lb in labels) for s in samples)

    issue = f'operation="{CREDENTIAL_SERVICE}IssueCredential"'
    assert has("operation_count_total", issue, 'grpc_status_code="OK"', tenant.tenant_id)
    assert has("operation_time_milliseconds_bucket", issue, 'le="0.1"')
    assert has("operation_time_milliseconds_bucket", issue, 'le="10000"')
    keys = f'operation="{CREDENTIAL_SERVICE}GetIssuerKeys"'
    assert has("operation_count_total", keys, 'grpc_status_code="UNAUTHENTICATED"')
    assert has("operation_time_milliseconds_count", 'operation="issuance.sign"')


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """Everything the service logs, at DEBUG, through the JSON formatter `serve` uses."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logging.getLogger("aiosqlite").level)
    buffer = io.StringIO()
    handler = configure_logging("json", "DEBUG", stream=buffer)
    try:
        yield buffer
    finally:
        handler.close()
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging.getLogger("aiosqlite").setLevel(saved[2])


def access_lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    flush_access_log()
    lines = [json.loads(line) for line in buffer.getvalue().splitlines() if line]
    return [line for line in lines if line["logger"] == "eudi_connect.access"]


async def test_one_json_access_line_per_rpc(
    observed: Observed, stub: pb_grpc.CredentialServiceStub, tenant: Tenant, log_output: io.StringIO
) -> None:
    """Each RPC writes one JSON line: method, status, duration, tenant, request id, peer."""
    await stub.IssueCredential(pid_request(request_id="req-42"), metadata=tenant.metadata)
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.GetIssuerKeys(pb.GetIssuerKeysRequest())
    await observed.wait_count("GetIssuerKeys", "UNAUTHENTICATED", NO_TENANT)
    lines = access_lines(log_output)
    issued = [line for line in lines if line["method"].endswith("/IssueCredential")]
    assert len(issued) == 1
    line = issued[0]
    assert line["level"] == "INFO"
    assert line["status"] == "OK"
    assert line["tenant"] == tenant.tenant_id
    assert line["request_id"] == "req-42"
    assert line["peer"].startswith("ipv4:127.0.0.1:")
    assert isinstance(line["duration_ms"], float)
    refused = [line for line in lines if line["method"].endswith("/GetIssuerKeys")]
    assert [(r["status"], r["tenant"]) for r in refused] == [("UNAUTHENTICATED", "")]
    assert "request_id" not in refused[0]


async def test_logs_never_contain_secrets(
    observed: Observed,
    stub: pb_grpc.CredentialServiceStub,
    tenant: Tenant,
    services: Services,
    log_output: io.StringIO,
) -> None:
    """At DEBUG, issuing, verifying, revoking and failing log no claim, credential or key."""
    subject = {
        **PID_EXAMPLE_SUBJECT,
        "family_name": "Qzxvbnfamily7731",
        "given_name": "Wkjhgivenname4419",
        "birthdate": "1911-11-11",
        "place_of_birth": {"locality": "Plxcitysecret", "country": "DE"},
    }
    holder = generate_p256_key()
    holder_jwk = json.dumps(public_jwk(holder.public_key()))
    issued = await stub.IssueCredential(
        pid_request(subject, holder_jwk=holder_jwk, request_id="secrecy-1"),
        metadata=tenant.metadata,
    )
    verified = await stub.VerifyCredential(
        pb.VerifyCredentialRequest(credential=issued.credential), metadata=tenant.metadata
    )
    assert verified.valid
    tampered = issued.credential.replace(".", ".x", 1)
    await stub.VerifyCredential(
        pb.VerifyCredentialRequest(credential=tampered), metadata=tenant.metadata
    )
    await stub.RevokeCredential(
        pb.RevokeCredentialRequest(credential_id=issued.credential_id, reason="Rsnsecretreason"),
        metadata=tenant.metadata,
    )
    wrong_key = "ek_0123456789abcdef.Wrongkeysecret9999999"
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.GetIssuerKeys(pb.GetIssuerKeysRequest(), metadata=(("x-api-key", wrong_key),))
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.IssueCredential(
            pid_request({"given_name": "Missingfieldsecret"}), metadata=tenant.metadata
        )
    await observed.wait_count("IssueCredential", "INVALID_ARGUMENT", tenant.tenant_id)

    assert len(access_lines(log_output)) >= 6, "the access log was not captured"
    output = log_output.getvalue()
    signing_key = await services.keys.signing_key(tenant.tenant_id)
    assert isinstance(signing_key, SigningKey)  # the software key: its secret is at hand
    issuer_jwt, *disclosures = issued.credential.rstrip("~").split("~")
    secrets = {
        "claim values": ["Qzxvbnfamily7731", "Wkjhgivenname4419", "1911-11-11", "Plxcitysecret"],
        "api keys": [tenant.api_key, tenant.api_key.split(".")[-1], wrong_key],
        "credential": [issued.credential, issuer_jwt, issuer_jwt.split(".")[2], *disclosures],
        "private keys": [private_jwk(signing_key.private_key)["d"], private_jwk(holder)["d"]],
        "other input": ["Rsnsecretreason", "Missingfieldsecret"],
    }
    for kind, values in secrets.items():
        for value in values:
            assert value not in output, f"{kind} leaked into the log"
