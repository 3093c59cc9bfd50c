"""Issuing ISO/IEC 18013-5 mdocs through the real server: unary, batch, copies, stream,
the worker process, revocation through the shared status list, and every refusal."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import cbor2
import grpc
import pytest
from eudi.connect.v1 import credential_service_pb2 as pb
from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc
from eudi.connect.v1 import template_service_pb2 as tpb
from eudi.connect.v1 import template_service_pb2_grpc as tpb_grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from eudi_connect.api.convert import dict_to_struct
from eudi_connect.api.server import RunningServer, ServerOptions, start_server
from eudi_connect.core.encoding import b64url_decode
from eudi_connect.core.jose import generate_p256_key, public_jwk
from eudi_connect.core.key_encryption import MasterKey
from eudi_connect.core.mdoc import MDL_DOCTYPE, PID_DOCTYPE, PID_NAMESPACE, verify_mdoc
from eudi_connect.core.status_list import TokenStatus
from eudi_connect.core.templates import MDL_EXAMPLE_SUBJECT, PID_EXAMPLE_SUBJECT
from eudi_connect.services.app import open_services
from eudi_connect.services.settings import ServiceSettings

from .chunks import all_results
from .client_helpers import run_cli, status_list_entry
from .conftest import Tenant
from .template_helpers import credential_template

MDOC = "mso_mdoc"


def holder_jwk() -> str:
    return json.dumps(public_jwk(generate_p256_key().public_key()))


def mdoc_request(
    template_id: str = "pid", subject: Any = PID_EXAMPLE_SUBJECT, **fields: Any
) -> pb.IssueCredentialRequest:
    fields.setdefault("holder_jwk", holder_jwk())
    return pb.IssueCredentialRequest(
        template_id=template_id, subject=dict_to_struct(subject), format=MDOC, **fields
    )


async def anchors(stub: pb_grpc.CredentialServiceStub, tenant: Tenant) -> list[bytes]:
    keys = await stub.GetIssuerKeys(pb.GetIssuerKeysRequest(), metadata=tenant.metadata)
    return list(keys.certificates)


def error_reason(error: grpc.aio.AioRpcError) -> str:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    return str(info.reason)


async def test_pid_as_mdoc_verifies_with_the_published_certificate(
    stub: pb_grpc.CredentialServiceStub, tenant: Tenant
) -> None:
    holder = generate_p256_key()
    issued = await stub.IssueCredential(
        mdoc_request(holder_jwk=json.dumps(public_jwk(holder.public_key()))),
        metadata=tenant.metadata,
    )
    assert issued.format == MDOC
    verified = verify_mdoc(
        issued.credential,
        trust_anchors=await anchors(stub, tenant),
        now=datetime.now(UTC),
        expected_doc_type=PID_DOCTYPE,
    )
    elements = verified.claims[PID_NAMESPACE]
    assert elements["family_name"] == "Mustermann"
    assert elements["birth_date"] == date(1964, 8, 12)
    assert elements["age_over_18"] is True
    assert elements["nationality"] == ["DE"]
    assert verified.device_jwk == public_jwk(holder.public_key())
    # The MSO names the same status entry as the response: one list for both formats.
    assert verified.status is not None
    assert verified.status.idx == issued.status_index
    assert verified.status.uri.endswith("/" + issued.status_list_id)
    assert verified.validity.valid_until == issued.expires_at.ToDatetime(UTC)


async def test_mdl_builtin_as_mdoc(stub: pb_grpc.CredentialServiceStub, tenant: Tenant) -> None:
    issued = await stub.IssueCredential(
        mdoc_request("mdl", MDL_EXAMPLE_SUBJECT), metadata=tenant.metadata
    )
    verified = verify_mdoc(
        issued.credential,
        trust_anchors=await anchors(stub, tenant),
        now=datetime.now(UTC),
        expected_doc_type=MDL_DOCTYPE,
    )
    elements = verified.claims["org.iso.18013.5.1"]
    assert elements["document_number"] == "B072RRE2I55"
    assert elements["expiry_date"] == date(2039, 1, 14)
    assert elements["driving_privileges"][0] == {
        "vehicle_category_code": "B",
        "issue_date": date(1982, 9, 1),
    }
    # The same template still issues SD-JWT VCs by default.
    sd_jwt = await stub.IssueCredential(
        pb.IssueCredentialRequest(template_id="mdl", subject=dict_to_struct(MDL_EXAMPLE_SUBJECT)),
        metadata=tenant.metadata,
    )
    assert sd_jwt.format == "dc+sd-jwt"
    assert "~" in sd_jwt.credential


async def test_certificate_is_stable_and_in_x5chain(
    stub: pb_grpc.CredentialServiceStub, tenant: Tenant
) -> None:
    first = await stub.IssueCredential(mdoc_request(), metadata=tenant.metadata)
    second = await stub.IssueCredential(mdoc_request(), metadata=tenant.metadata)
    published = await anchors(stub, tenant)
    assert len(published) == 1
    for issued in (first, second):
        issuer_auth = cbor2.loads(b64url_decode(issued.credential))["issuerAuth"]
        assert issuer_auth[1][33] == published[0]


async def test_revoked_mdoc_shows_in_the_status_list(
    stub: pb_grpc.CredentialServiceStub, tenant: Tenant
) -> None:
    issued = await stub.IssueCredential(mdoc_request(), metadata=tenant.metadata)
    await stub.RevokeCredential(
        pb.RevokeCredentialRequest(credential_id=issued.credential_id, reason="lost"),
        metadata=tenant.metadata,
    )
    verified = verify_mdoc(
        issued.credential, trust_anchors=await anchors(stub, tenant), now=datetime.now(UTC)
    )
    assert verified.status is not None
    assert verified.status.idx == issued.status_index
    assert await status_list_entry(stub, tenant, issued) == TokenStatus.INVALID


async def test_mdoc_copies_are_unlinkable(
    stub: pb_grpc.CredentialServiceStub, tenant: Tenant
) -> None:
    holders = [holder_jwk() for _ in range(5)]
    request = pb.IssueCredentialBatchRequest(
        copies=pb.CredentialCopies(
            template_id="pid",
            subject=dict_to_struct(PID_EXAMPLE_SUBJECT),
            holder_jwks=holders,
            request_id="mdoc-copies",
            format=MDOC,
        )
    )
    results = await all_results(stub.IssueCredentialBatch(request, metadata=tenant.metadata))
    assert all(r.WhichOneof("outcome") == "credential" for r in results), results
    trusted = await anchors(stub, tenant)
    now = datetime.now(UTC)
    verified = [
        verify_mdoc(r.credential.credential, trust_anchors=trusted, now=now) for r in results
    ]
    assert [json.dumps(v.device_jwk, sort_keys=True) for v in verified] == [
        json.dumps(json.loads(h), sort_keys=True) for h in holders
    ]
    assert len({v.status.idx for v in verified if v.status}) == 5
    # Same claims and validity, coarsened to the day, so timestamps do not link them.
    assert len({json.dumps(v.claims, sort_keys=True, default=str) for v in verified}) == 1
    assert len({v.validity.signed for v in verified}) == 1
    assert verified[0].validity.signed.time().isoformat() == "00:00:00"
    # Fresh salts: no two copies share an item digest.
    digests = [
        cbor2.loads(b64url_decode(r.credential.credential))["nameSpaces"][PID_NAMESPACE]
        for r in results
    ]
    encoded = [bytes(item.value) for items in digests for item in items]
    assert len(encoded) == len(set(encoded))
    # Resending the set returns the same credentials.
    again = await all_results(stub.IssueCredentialBatch(request, metadata=tenant.metadata))
    assert [r.credential.credential for r in again] == [r.credential.credential for r in results]


async def test_stream_mixes_formats(stub: pb_grpc.CredentialServiceStub, tenant: Tenant) -> None:
    async def requests() -> AsyncIterator[pb.IssueCredentialRequest]:
        for i in range(6):
            if i % 2:
                yield mdoc_request(request_id=f"s{i}")
            else:
                yield pb.IssueCredentialRequest(
                    template_id="pid", subject=dict_to_struct(PID_EXAMPLE_SUBJECT)
                )

    results = await all_results(stub.IssueCredentialStream(requests(), metadata=tenant.metadata))
    assert [r.credential.format for r in results] == ["dc+sd-jwt", MDOC] * 3


@pytest.mark.parametrize(
    ("request_fields", "reason"),
    [
        ({"format": "jwt_vc_json"}, "FORMAT_UNSUPPORTED"),
        ({"format": MDOC, "holder_jwk": ""}, "HOLDER_KEY_REQUIRED"),
    ],
)
async def test_bad_format_requests(
    stub: pb_grpc.CredentialServiceStub,
    tenant: Tenant,
    request_fields: dict[str, str],
    reason: str,
) -> None:
    request = pb.IssueCredentialRequest(
        template_id="pid",
        subject=dict_to_struct(PID_EXAMPLE_SUBJECT),
        format=request_fields["format"],
        holder_jwk=request_fields.get("holder_jwk", ""),
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.IssueCredential(request, metadata=tenant.metadata)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(caught.value) == reason


async def test_template_without_doctype_refuses_mdoc(
    stub: pb_grpc.CredentialServiceStub, channel: grpc.aio.Channel, tenant: Tenant
) -> None:
    templates = tpb_grpc.TemplateServiceStub(channel)
    await templates.CreateTemplate(
        tpb.CreateTemplateRequest(template=credential_template("diploma")),
        metadata=tenant.metadata,
    )
    request = mdoc_request("diploma", {"given_name": "Erika", "degree": "MSc", "grades": ["A"]})
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.IssueCredential(request, metadata=tenant.metadata)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(caught.value) == "FORMAT_NOT_OFFERED"
    assert "diploma" in (caught.value.details() or "")


async def test_mdoc_batch_signed_in_worker_process(db_url: str, settings: ServiceSettings) -> None:
    services = await open_services(
        db_url, settings, master_key=MasterKey.generate(), sign_workers=1
    )
    running = await start_server(services, ServerOptions(port=0, settings=settings))
    try:
        created = await services.tenants.create_tenant("Pooled mdoc")
        tenant = Tenant(created.tenant_id, created.api_key)
        items = [mdoc_request(request_id=f"w{i}") for i in range(40)]
        items[7] = mdoc_request(request_id="w7", holder_jwk="")
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            stub = pb_grpc.CredentialServiceStub(channel)
            request = pb.IssueCredentialBatchRequest(
                items=pb.IssueCredentialBatchItems(items=items)
            )
            results = await all_results(
                stub.IssueCredentialBatch(request, metadata=tenant.metadata)
            )
            trusted = await anchors(stub, tenant)
        assert results[7].WhichOneof("outcome") == "error"
        now = datetime.now(UTC)
        for result in results[:7] + results[8:]:
            verify_mdoc(result.credential.credential, trust_anchors=trusted, now=now)
    finally:
        await running.stop(grace=1.0)


async def test_tenant_template_with_its_own_doctype_and_namespace(
    stub: pb_grpc.CredentialServiceStub, channel: grpc.aio.Channel, tenant: Tenant
) -> None:
    """A tenant template that declares a docType and namespace issues mdocs with every
    claim as an element of that namespace; the declaration survives a read back."""
    template = credential_template("diploma")
    template.credential.mdoc_doc_type = "org.example.diploma.1"
    template.credential.mdoc_namespace = "org.example.diploma.1.ns"
    templates = tpb_grpc.TemplateServiceStub(channel)
    await templates.CreateTemplate(
        tpb.CreateTemplateRequest(template=template), metadata=tenant.metadata
    )
    stored = await templates.GetTemplate(
        tpb.GetTemplateRequest(template_id="diploma"), metadata=tenant.metadata
    )
    assert stored.template.credential.mdoc_doc_type == "org.example.diploma.1"
    issued = await stub.IssueCredential(
        mdoc_request("diploma", {"given_name": "Erika", "degree": "MSc", "grades": ["A", "B"]}),
        metadata=tenant.metadata,
    )
    verified = verify_mdoc(
        issued.credential,
        trust_anchors=await anchors(stub, tenant),
        now=datetime.now(UTC),
        expected_doc_type="org.example.diploma.1",
    )
    elements = verified.claims["org.example.diploma.1.ns"]
    assert elements["degree"] == "MSc"
    assert elements["grades"] == ["A", "B"]


async def test_cli_issues_mdocs(
    capsys: pytest.CaptureFixture[str],
    server: RunningServer,
    stub: pb_grpc.CredentialServiceStub,
    tenant: Tenant,
    tmp_path: Path,
) -> None:
    """`issue --format mso_mdoc` and `issue-batch --format mso_mdoc`, whose result lines
    carry the new device keys; every mdoc verifies and is bound to its line's key."""
    subject = tmp_path / "subject.json"
    subject.write_text(json.dumps(dict(PID_EXAMPLE_SUBJECT)), encoding="utf-8")
    holder = generate_p256_key()
    holder_file = tmp_path / "holder.json"
    holder_file.write_text(json.dumps(public_jwk(holder.public_key())), encoding="utf-8")
    single = json.loads(
        await run_cli(
            capsys, server, tenant, "issue", "--template", "pid", "--subject", str(subject),
            "--holder-jwk", f"@{holder_file}", "--format", MDOC,
        )
    )  # fmt: skip
    assert single["format"] == MDOC
    subjects = tmp_path / "subjects.jsonl"
    subjects.write_text(
        "\n".join(json.dumps({**PID_EXAMPLE_SUBJECT, "given_name": f"E{i}"}) for i in range(4)),
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    await run_cli(
        capsys, server, tenant, "issue-batch", "--template", "pid", "--subjects", str(subjects),
        "--format", MDOC, "--out", str(out),
    )  # fmt: skip
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 4
    trusted = await anchors(stub, tenant)
    now = datetime.now(UTC)
    for i, line in enumerate(lines):
        verified = verify_mdoc(line["credential"], trust_anchors=trusted, now=now)
        assert verified.claims[PID_NAMESPACE]["given_name"] == f"E{i}"
        device = {k: v for k, v in line["holder_private_jwk"].items() if k != "d"}
        assert verified.device_jwk == device
