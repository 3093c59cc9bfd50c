"""With `--issuer-ca-cert/--issuer-ca-key` the verifier certificates come from that CA:
GetVerifierIdentity returns the leaf and the CA, and a request object's x5c holds the leaf
alone (HAIP: the trust anchor is not sent), signed under the CA."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from eudi_connect.api.server import ServerOptions, start_server
from eudi_connect.core.key_encryption import MasterKey
from eudi_connect.services.app import open_services
from eudi_connect.services.settings import ServiceSettings
from tests.integration.conftest import Tenant
from tests.integration.trust_helpers import write_issuer_ca

from .verifier_client import PID_QUERY, Presentations, jws_parts


async def test_a_configured_ca_signs_the_verifier_certificate(
    db_url: str, settings: ServiceSettings, tmp_path: Path
) -> None:
    """The chain is leaf then CA; the leaf names the public URL's host and verifies under
    the CA; the request object carries the leaf only."""
    cert_path, key_path, ca = write_issuer_ca(tmp_path)
    settings = ServiceSettings(
        **{**settings.__dict__, "issuer_ca_cert": cert_path, "issuer_ca_key": key_path}
    )
    services = await open_services(db_url, settings, master_key=MasterKey.generate())
    running = await start_server(services, ServerOptions(port=0, settings=settings))
    try:
        created = await services.tenants.create_tenant("Verifier")
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            presentations = Presentations(channel, Tenant(created.tenant_id, created.api_key))
            identity = await presentations.identity()
            request = await presentations.create(
                json.dumps(PID_QUERY),
                response_mode="dc_api.jwt",
                expected_origins=["https://rp.example"],
            )
    finally:
        await running.stop(grace=1.0)
    leaf, authority = x509.load_pem_x509_certificates(identity.certificate_chain_pem.encode())
    assert authority == ca
    assert identity.dns_name == "issuer.test"
    assert leaf.issuer == ca.subject
    signature_hash = leaf.signature_hash_algorithm
    assert signature_hash is not None
    ca_key = ca.public_key()
    assert isinstance(ca_key, ec.EllipticCurvePublicKey)
    ca_key.verify(leaf.signature, leaf.tbs_certificate_bytes, ec.ECDSA(signature_hash))
    header, claims = jws_parts(request.request_object)
    assert [x509.load_der_x509_certificate(base64.b64decode(c)) for c in header["x5c"]] == [leaf]
    assert claims["client_id"] == "x509_san_dns:issuer.test"
