"""Issuer certificates signed by a configured CA: our credentials and status lists carry
the chain, and a verifier that trusts only the CA (another tenant, through TrustService)
accepts our SD-JWT VCs and mdocs under the HAIP rules."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from eudi.connect.v1 import credential_service_pb2 as pb
from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc
from eudi.connect.v1 import trust_service_pb2 as trust_pb
from eudi.connect.v1 import trust_service_pb2_grpc as trust_grpc

from eudi_connect.api.convert import dict_to_struct
from eudi_connect.api.server import ServerOptions, start_server
from eudi_connect.core.jose import generate_p256_key, public_jwk, split_jws
from eudi_connect.core.keys import MasterKey
from eudi_connect.core.mdoc import verify_mdoc
from eudi_connect.core.templates import PID_EXAMPLE_SUBJECT
from eudi_connect.errors import ConfigurationError
from eudi_connect.services.app import open_services
from eudi_connect.services.settings import ServiceSettings

from .conftest import Tenant
from .foreign_issuer import der
from .trust_helpers import write_issuer_ca


@pytest.fixture
def ca_files(tmp_path: Path) -> tuple[str, str, x509.Certificate]:
    return write_issuer_ca(tmp_path)


@pytest.fixture
async def ca_server(
    db_url: str, settings: ServiceSettings, ca_files: tuple[str, str, x509.Certificate]
) -> AsyncIterator[tuple[grpc.aio.Channel, Tenant, Tenant]]:
    cert_path, key_path, _ = ca_files
    settings = ServiceSettings(
        **{**settings.__dict__, "issuer_ca_cert": cert_path, "issuer_ca_key": key_path}
    )
    services = await open_services(db_url, settings, master_key=MasterKey.generate())
    running = await start_server(services, ServerOptions(port=0, settings=settings))
    try:
        issuer = await services.tenants.create_tenant("Issuer")
        verifier = await services.tenants.create_tenant("Verifier")
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            yield (
                channel,
                Tenant(issuer.tenant_id, issuer.api_key),
                Tenant(verifier.tenant_id, verifier.api_key),
            )
    finally:
        await running.stop(grace=1.0)


async def test_ca_signed_certificates_carry_our_credentials_to_haip_verifiers(
    ca_server: tuple[grpc.aio.Channel, Tenant, Tenant],
    ca_files: tuple[str, str, x509.Certificate],
) -> None:
    channel, issuer, verifier = ca_server
    ca = ca_files[2]
    stub = pb_grpc.CredentialServiceStub(channel)
    holder = json.dumps(public_jwk(generate_p256_key().public_key()))
    sd_jwt = await stub.IssueCredential(
        pb.IssueCredentialRequest(
            template_id="pid", subject=dict_to_struct(PID_EXAMPLE_SUBJECT), holder_jwk=holder
        ),
        metadata=issuer.metadata,
    )
    mdoc = await stub.IssueCredential(
        pb.IssueCredentialRequest(
            template_id="pid",
            subject=dict_to_struct(PID_EXAMPLE_SUBJECT),
            holder_jwk=holder,
            format="mso_mdoc",
        ),
        metadata=issuer.metadata,
    )
    # The SD-JWT's x5c is the key's certificate alone, issued by the CA (never the anchor).
    header = split_jws(sd_jwt.credential.split("~")[0]).header
    [leaf_b64] = header["x5c"]
    leaf = x509.load_der_x509_certificate(base64.b64decode(leaf_b64))
    assert leaf.issuer == ca.subject
    leaf.verify_directly_issued_by(ca)
    # Its URI SAN is the credential's iss: how SD-JWT VC verifiers tie x5c to the issuer.
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    iss = split_jws(sd_jwt.credential.split("~")[0]).payload["iss"]
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [iss]
    # The status list token carries the same chain.
    token = (
        await stub.GetStatusList(
            pb.GetStatusListRequest(status_list_id=sd_jwt.status_list_id),
            metadata=issuer.metadata,
        )
    ).token
    assert split_jws(token).header["x5c"] == [leaf_b64]
    # GetIssuerKeys names the CA among the anchors; the mdoc chains to it alone.
    published = (
        await stub.GetIssuerKeys(pb.GetIssuerKeysRequest(), metadata=issuer.metadata)
    ).certificates
    assert der(ca) in published
    verify_mdoc(mdoc.credential, trust_anchors=[der(ca)], now=datetime.now(UTC))

    # Another tenant that trusts only the CA accepts both credentials.
    trust = trust_grpc.TrustServiceStub(channel)
    await trust.AddTrustAnchor(
        trust_pb.AddTrustAnchorRequest(certificate=der(ca)), metadata=verifier.metadata
    )
    for issued in (sd_jwt, mdoc):
        result = await stub.VerifyCredential(
            pb.VerifyCredentialRequest(credential=issued.credential),
            metadata=verifier.metadata,
        )
        assert result.valid, (issued.format, result.detail, list(result.checks))


async def test_a_ca_with_a_foreign_key_is_refused_at_start(
    db_url: str,
    settings: ServiceSettings,
    ca_files: tuple[str, str, x509.Certificate],
    tmp_path: Path,
) -> None:
    cert_path, _, _ = ca_files
    other_key = tmp_path / "other.key"
    other_key.write_bytes(
        generate_p256_key().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    for bad in (
        {"issuer_ca_cert": cert_path, "issuer_ca_key": str(other_key)},
        {"issuer_ca_cert": cert_path},
        {"issuer_country": "Germany"},
    ):
        bad_settings = ServiceSettings(**{**settings.__dict__, **bad})
        with pytest.raises(ConfigurationError):
            await open_services(db_url, bad_settings, master_key=MasterKey.generate())
