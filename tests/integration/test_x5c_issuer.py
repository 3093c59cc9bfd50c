"""An x5c chain to a trusted anchor vouches only for the `iss` its leaf certificate names
(SD-JWT VC: a URI SAN equal to `iss`, or a DNS SAN equal to its host), through a real
server process: another issuer's URL or another tenant's issuer id is refused."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from eudi.connect.v1 import credential_service_pb2 as pb

from eudi_connect.core.jose import SigningKey, generate_p256_key

from .foreign_issuer import ForeignIssuer, Pki, der, make_certificate, make_pki
from .trust_helpers import (
    Served,
    ServerProcess,
    checks,
    connected,
    issuer_id,
    server_process,
)

MISMATCH = pb.VERIFICATION_FAILURE_ISSUER_CERTIFICATE_MISMATCH
HAIP_ISSUER = "https://haip.example/issuer"


@pytest.fixture(scope="module")
def process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with server_process(tmp_path_factory.mktemp("x5c")) as running:
        yield running


@pytest.fixture
async def served(process: ServerProcess) -> AsyncIterator[Served]:
    async with connected(process.address, process.tenants) as connection:
        yield connection


def _signing_as(pki: Pki, iss: str) -> ForeignIssuer:
    """Credentials signed by the PKI's leaf key with `iss`, the leaf in their x5c."""
    return ForeignIssuer(iss, SigningKey("leaf-1", pki.signer_key), x5c=[der(pki.signer)])


async def test_a_trusted_leaf_cannot_sign_for_another_issuer(served: Served) -> None:
    """A leaf naming haip.example (URI and DNS SAN) signs credentials for other issuers:
    each is refused at the issuer check, and the iss it claims is not reported."""
    verifier = served.tenants["Verifier"]
    pki = make_pki(uri=HAIP_ISSUER, dns_name="haip.example")
    await served.add_anchor(verifier, der(pki.root))
    assert (await served.verify(verifier, _signing_as(pki, HAIP_ISSUER).credential())).valid
    for claimed in (
        "https://bank.example/issuer",
        "https://haip.example.evil.example/issuer",  # a longer host that starts alike
        "https://haip.example@evil.example/issuer",  # userinfo: the host is evil.example
        "http://haip.example/issuer",  # a DNS SAN speaks for https only
        "dns:evil.example",
        "urn:example:haip",
    ):
        response = await served.verify(verifier, _signing_as(pki, claimed).credential())
        assert response.failure == MISMATCH, (claimed, response.detail)
        assert checks(response) == [("format", True), ("issuer", False)]
        assert response.issuer == ""
        assert response.checks[1].failure == MISMATCH


async def test_a_trusted_leaf_cannot_claim_another_tenants_issuer_id(served: Served) -> None:
    """A foreign leaf, with a SAN of its own or none, signs with another tenant's issuer
    id (and with the verifying tenant's): never accepted as that tenant."""
    verifier, victim = served.tenants["Verifier"], served.tenants["Issuer"]
    named = make_pki(uri=HAIP_ISSUER)
    unnamed = make_pki("Unnamed")
    for pki in (named, unnamed):
        await served.add_anchor(verifier, der(pki.root))
    for pki in (named, unnamed):
        response = await served.verify(verifier, _signing_as(pki, issuer_id(victim)).credential())
        assert response.failure == MISMATCH, response.detail
        assert response.issuer == ""
    # Its own issuer id is looked up among its own keys, never taken from an x5c.
    own = await served.verify(verifier, _signing_as(named, issuer_id(verifier)).credential())
    assert own.failure == pb.VERIFICATION_FAILURE_UNKNOWN_ISSUER_KEY


@pytest.mark.parametrize(
    ("san", "iss"),
    [
        ({"uri": "https://pid.example/issuers/1"}, "https://pid.example/issuers/1"),
        ({"dns_name": "pid.example"}, "https://pid.example/issuers/1"),
        ({"dns_name": "pid.example"}, "https://PID.Example/other"),
        ({"dns_name": "pid.example"}, "dns:pid.example"),
    ],
)
async def test_a_leaf_that_names_its_iss_vouches_for_it(
    san: dict[str, Any], iss: str, served: Served
) -> None:
    """A URI SAN equal to iss; a DNS SAN equal to the host of an https iss (in any case),
    or to the name of a dns: iss: valid, and that iss is the issuer reported."""
    verifier = served.tenants["Verifier"]
    pki = make_pki(**san)
    await served.add_anchor(verifier, der(pki.root))
    response = await served.verify(verifier, _signing_as(pki, iss).credential())
    assert response.valid, response.detail
    assert response.issuer == iss
    assert "x5c chain" in response.checks[1].detail


async def test_a_wildcard_dns_san_names_no_issuer(served: Served) -> None:
    """A leaf whose DNS SAN is *.pid.example speaks for no host, not even one it covers
    under TLS rules."""
    verifier = served.tenants["Verifier"]
    root_key, leaf_key = generate_p256_key(), generate_p256_key()
    root = make_certificate("Wildcard Root CA", root_key, ca=True)
    leaf = make_certificate(
        "Wildcard Signer", leaf_key, issuer=root, issuer_key=root_key, dns_name="*.pid.example"
    )
    await served.add_anchor(verifier, der(root))
    for iss in ("https://a.pid.example/issuer", "https://*.pid.example/issuer"):
        signer = ForeignIssuer(iss, SigningKey("leaf-1", leaf_key), x5c=[der(leaf)])
        response = await served.verify(verifier, signer.credential())
        assert response.failure == MISMATCH, (iss, response.detail)
