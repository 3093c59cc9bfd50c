"""Numbers a client sends that no credential can carry: integer literals past what the
sandbox computes with, and validity periods past what a timestamp can hold. Each is a
client error (INVALID_ARGUMENT with a reason), never INTERNAL, through a server process."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from eudi.connect.v1 import credential_service_pb2 as pb
from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc
from eudi.connect.v1 import template_service_pb2 as tpb
from eudi.connect.v1 import template_service_pb2_grpc as tpb_grpc

from eudi_connect.api.convert import dict_to_struct
from eudi_connect.core.jose import generate_p256_key, public_jwk
from eudi_connect.core.mdoc import verify_mdoc
from eudi_connect.core.templates import MAX_VALIDITY_SECONDS

from .processes import create_tenant, server_running
from .template_helpers import DIPLOMA_DATA, credential_template, expect_error

#: More digits than Python turns into an int by default (4,300).
HUGE_INTEGER = "9" * 5000
#: Fewer digits than that limit, but far more than the sandbox's integers may have.
LARGE_INTEGER = "9" * 400
#: 10^15 seconds: some 31 million years.
EONS = 10**15
DOC_TYPE = "org.example.diploma.1"


@dataclass
class Service:
    address: str
    metadata: tuple[tuple[str, str], ...]
    db_path: Path


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    db_path = tmp_path_factory.mktemp("range") / "range.db"
    db = f"sqlite:///{db_path}"
    tenant = create_tenant(db, "Range")
    with server_running(db) as (_, address):
        yield Service(address, (("x-api-key", tenant["api_key"]),), db_path)


@pytest.fixture
async def channel(service: Service) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(service.address) as opened:
        yield opened


def holder_jwk() -> str:
    return json.dumps(public_jwk(generate_p256_key().public_key()))


def diploma(template_id: str, **fields: int) -> tpb.Template:
    template = credential_template(template_id, **fields)  # type: ignore[arg-type]
    template.credential.mdoc_doc_type = DOC_TYPE
    return template


def issue_request(template_id: str, **fields: object) -> pb.IssueCredentialRequest:
    return pb.IssueCredentialRequest(
        template_id=template_id,
        subject=dict_to_struct(DIPLOMA_DATA),
        holder_jwk=holder_jwk(),
        **fields,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("digits", [HUGE_INTEGER, LARGE_INTEGER], ids=["5000", "400"])
async def test_integer_literal_too_large_is_refused_at_creation(
    service: Service, channel: grpc.aio.Channel, digits: str
) -> None:
    """A template whose expression holds an integer literal larger than the sandbox's
    integers is refused with TEMPLATE_LIMIT_EXCEEDED and the literal's position."""
    templates = tpb_grpc.TemplateServiceStub(channel)
    source = '{\n  "n": {{ ' + digits + " }}\n}"
    template = credential_template(f"literal-{len(digits)}", claims_template=source)
    _, info = await expect_error(
        templates.CreateTemplate(
            tpb.CreateTemplateRequest(template=template), metadata=service.metadata
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "TEMPLATE_LIMIT_EXCEEDED",
    )
    assert info.metadata["field"] == "claims_template"
    assert (info.metadata["line"], info.metadata["column"]) == ("2", "11")


async def test_rendered_integer_too_large_is_refused(
    service: Service, channel: grpc.aio.Channel
) -> None:
    """Template text that renders a 5,000-digit number fails the render and the issuance
    with TEMPLATE_LIMIT_EXCEEDED, not INTERNAL."""
    templates = tpb_grpc.TemplateServiceStub(channel)
    credentials = pb_grpc.CredentialServiceStub(channel)
    source = '{"n": ' + HUGE_INTEGER + ', "name": {{ given_name }}}'
    template = credential_template("rendered-huge", claims_template=source)
    await templates.CreateTemplate(
        tpb.CreateTemplateRequest(template=template), metadata=service.metadata
    )
    await expect_error(
        templates.RenderTemplate(
            tpb.RenderTemplateRequest(
                template_id="rendered-huge", data=dict_to_struct(DIPLOMA_DATA)
            ),
            metadata=service.metadata,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "TEMPLATE_LIMIT_EXCEEDED",
    )
    await expect_error(
        credentials.IssueCredential(issue_request("rendered-huge"), metadata=service.metadata),
        grpc.StatusCode.INVALID_ARGUMENT,
        "TEMPLATE_LIMIT_EXCEEDED",
    )


@pytest.mark.parametrize("field", ["max_validity_seconds", "default_validity_seconds"])
async def test_validity_beyond_the_bound_is_refused_at_creation(
    service: Service, channel: grpc.aio.Channel, field: str
) -> None:
    """A template may not let credentials live longer than the service's bound (100 years)."""
    templates = tpb_grpc.TemplateServiceStub(channel)
    values = {"default_validity_seconds": 86_400, "max_validity_seconds": EONS}
    if field == "default_validity_seconds":
        values = {"default_validity_seconds": EONS, "max_validity_seconds": EONS}
    _, info = await expect_error(
        templates.CreateTemplate(
            tpb.CreateTemplateRequest(template=diploma(f"eons-{field[:3]}", **values)),
            metadata=service.metadata,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "TEMPLATE_INVALID",
    )
    assert info.metadata["field"] == field


@pytest.mark.parametrize("credential_format", ["mso_mdoc", "dc+sd-jwt"])
async def test_longest_validity_issues_and_longer_is_refused(
    service: Service, channel: grpc.aio.Channel, credential_format: str
) -> None:
    """With the largest allowed maximum, a credential valid for the full bound is issued
    (its mdoc verifies, its expiry is a real date) and 10^15 seconds is VALIDITY_OUT_OF_RANGE."""
    templates = tpb_grpc.TemplateServiceStub(channel)
    credentials = pb_grpc.CredentialServiceStub(channel)
    template_id = f"century-{credential_format[-4:]}"
    await templates.CreateTemplate(
        tpb.CreateTemplateRequest(
            template=diploma(template_id, max_validity_seconds=MAX_VALIDITY_SECONDS)
        ),
        metadata=service.metadata,
    )
    await expect_error(
        credentials.IssueCredential(
            issue_request(template_id, format=credential_format, validity_seconds=EONS),
            metadata=service.metadata,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "VALIDITY_OUT_OF_RANGE",
    )
    issued = await credentials.IssueCredential(
        issue_request(template_id, format=credential_format, validity_seconds=MAX_VALIDITY_SECONDS),
        metadata=service.metadata,
    )
    assert issued.expires_at.seconds - issued.issued_at.seconds >= MAX_VALIDITY_SECONDS
    assert datetime.fromtimestamp(issued.expires_at.seconds, UTC).year > datetime.now(UTC).year + 99
    verified = await credentials.VerifyCredential(
        pb.VerifyCredentialRequest(credential=issued.credential), metadata=service.metadata
    )
    assert verified.valid, verified.detail
    if credential_format == "mso_mdoc":
        keys = await credentials.GetIssuerKeys(pb.GetIssuerKeysRequest(), metadata=service.metadata)
        mdoc = verify_mdoc(
            issued.credential,
            trust_anchors=list(keys.certificates),
            now=datetime.now(UTC),
        )
        assert mdoc.validity.valid_until.year > datetime.now(UTC).year + 99


async def test_stored_template_with_unbounded_validity_is_held_to_the_bound(
    tmp_path: Path,
) -> None:
    """A template stored before the bound existed (max_validity_seconds = 10^18) still
    issues, but an mdoc asking for 10^15 seconds is VALIDITY_OUT_OF_RANGE, not INTERNAL."""
    db_path = tmp_path / "old.db"
    db = f"sqlite:///{db_path}"
    tenant = create_tenant(db, "Old")
    metadata = (("x-api-key", tenant["api_key"]),)
    with server_running(db) as (_, address):
        async with grpc.aio.insecure_channel(address) as channel:
            await tpb_grpc.TemplateServiceStub(channel).CreateTemplate(
                tpb.CreateTemplateRequest(template=diploma("old")), metadata=metadata
            )
    with sqlite3.connect(db_path) as connection:
        (definition,) = connection.execute(
            "SELECT definition FROM templates WHERE template_id = 'old'"
        ).fetchone()
        changed = {**json.loads(definition), "max_validity_seconds": 10**18}
        connection.execute(
            "UPDATE templates SET definition = ? WHERE template_id = 'old'",
            (json.dumps(changed),),
        )
    with server_running(db) as (_, address):
        async with grpc.aio.insecure_channel(address) as channel:
            credentials = pb_grpc.CredentialServiceStub(channel)
            stored = await tpb_grpc.TemplateServiceStub(channel).GetTemplate(
                tpb.GetTemplateRequest(template_id="old"), metadata=metadata
            )
            assert stored.template.credential.max_validity_seconds == MAX_VALIDITY_SECONDS
            await expect_error(
                credentials.IssueCredential(
                    issue_request("old", format="mso_mdoc", validity_seconds=EONS),
                    metadata=metadata,
                ),
                grpc.StatusCode.INVALID_ARGUMENT,
                "VALIDITY_OUT_OF_RANGE",
            )
            issued = await credentials.IssueCredential(
                issue_request("old", format="mso_mdoc"), metadata=metadata
            )
            assert issued.credential
