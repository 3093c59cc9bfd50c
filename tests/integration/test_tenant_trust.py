"""Tenants of one server are strangers to each other's verifications, through real server
processes: a shared issuer CA makes no tenant trust another's mdocs, and a credential's
status comes from the verifying tenant's store only when that tenant signed it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import pytest
from cryptography import x509
from eudi.connect.v1 import credential_service_pb2 as pb

from eudi_connect.core.jose import generate_p256_key, public_jwk
from eudi_connect.core.sdjwt import StatusReference

from .client_helpers import issue_pid_mdoc, pid_request
from .conftest import Tenant
from .foreign_issuer import ForeignIssuer, der
from .trust_helpers import (
    Served,
    ServerProcess,
    checks,
    connected,
    issuer_id,
    server_process,
    status_list_uri,
    write_issuer_ca,
)


@pytest.fixture(scope="module")
def ca_process(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ServerProcess, x509.Certificate]]:
    folder = tmp_path_factory.mktemp("ca")
    cert_path, key_path, ca = write_issuer_ca(folder)
    flags = ("--issuer-ca-cert", cert_path, "--issuer-ca-key", key_path)
    with server_process(folder, *flags) as running:
        yield running, ca


@pytest.fixture(scope="module")
def plain_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with server_process(tmp_path_factory.mktemp("plain")) as running:
        yield running


@pytest.fixture
async def ca_served(
    ca_process: tuple[ServerProcess, x509.Certificate],
) -> AsyncIterator[Served]:
    async with connected(ca_process[0].address, ca_process[0].tenants) as connection:
        yield connection


@pytest.fixture
async def plain_served(plain_process: ServerProcess) -> AsyncIterator[Served]:
    async with connected(plain_process.address, plain_process.tenants) as connection:
        yield connection


async def _issue_sd_jwt(served: Served, tenant: Tenant) -> pb.IssueCredentialResponse:
    holder = json.dumps(public_jwk(generate_p256_key().public_key()))
    issued: pb.IssueCredentialResponse = await served.credentials.IssueCredential(
        pid_request(holder_jwk=holder), metadata=tenant.metadata
    )
    return issued


async def _revoke(served: Served, tenant: Tenant, issued: pb.IssueCredentialResponse) -> None:
    await served.credentials.RevokeCredential(
        pb.RevokeCredentialRequest(credential_id=issued.credential_id), metadata=tenant.metadata
    )


async def test_a_shared_issuer_ca_makes_no_tenant_trust_anothers_credentials(
    ca_served: Served, ca_process: tuple[ServerProcess, x509.Certificate]
) -> None:
    """With --issuer-ca-cert, the Issuer tenant's mdoc and SD-JWT VC are refused by the
    Verifier tenant until it configures the CA itself; then they verify as foreign
    credentials, their status read from the list they name and following a revocation."""
    verifier, issuer = ca_served.tenants["Verifier"], ca_served.tenants["Issuer"]
    mdoc = await issue_pid_mdoc(ca_served.credentials, issuer)
    sd_jwt = await _issue_sd_jwt(ca_served, issuer)

    refused = await ca_served.verify(verifier, mdoc.credential)
    assert refused.failure == pb.VERIFICATION_FAILURE_UNKNOWN_ISSUER_KEY, refused.detail
    assert checks(refused) == [("format", True), ("issuer", False)]
    untrusted = await ca_served.verify(verifier, sd_jwt.credential)
    assert untrusted.failure == pb.VERIFICATION_FAILURE_UNTRUSTED_ISSUER

    # To the Issuer its mdoc is its own: named by its issuer id, status from its store.
    own = await ca_served.verify(issuer, mdoc.credential)
    assert own.valid, own.detail
    assert own.issuer == issuer_id(issuer)
    assert own.checks[1].detail == "own key certificate"
    assert own.checks[-1].detail == "valid in the status list of this issuer"

    await ca_served.add_anchor(verifier, der(ca_process[1]))
    for issued in (mdoc, sd_jwt):
        accepted = await ca_served.verify(verifier, issued.credential)
        assert accepted.valid, (issued.format, accepted.detail)
        assert accepted.status == pb.CREDENTIAL_STATUS_VALID
        assert accepted.checks[-1].name == "status"
        assert status_list_uri(issued.status_list_id) in accepted.checks[-1].detail
    foreign_mdoc = await ca_served.verify(verifier, mdoc.credential)
    assert foreign_mdoc.issuer != issuer_id(issuer)  # its certificate's subject instead
    assert f"EUDI-Connect issuer {issuer.tenant_id}" in foreign_mdoc.issuer

    for issued in (mdoc, sd_jwt):
        await _revoke(ca_served, issuer, issued)
        revoked = await ca_served.verify(verifier, issued.credential)
        assert revoked.failure == pb.VERIFICATION_FAILURE_REVOKED, issued.format


async def test_a_foreign_credential_naming_our_lists_gets_no_status_from_our_store(
    plain_served: Served,
) -> None:
    """A trusted foreign issuer's credentials that name another tenant's list, the
    verifying tenant's own list, or a list never made here are judged by that list under
    the foreign issuer's keys: STATUS_LIST_BAD_SIGNATURE, STATUS_LIST_UNREACHABLE."""
    verifier, issuer = plain_served.tenants["Verifier"], plain_served.tenants["Issuer"]
    theirs = await _issue_sd_jwt(plain_served, issuer)
    ours = await _issue_sd_jwt(plain_served, verifier)
    foreign = ForeignIssuer.new("https://foreign.example/issuer")
    await plain_served.trust_foreign(verifier, foreign)

    def naming(issued: pb.IssueCredentialResponse) -> str:
        uri = status_list_uri(issued.status_list_id)
        return foreign.credential(status=StatusReference(uri, issued.status_index))

    for issued in (theirs, ours):
        response = await plain_served.verify(verifier, naming(issued))
        assert response.failure == pb.VERIFICATION_FAILURE_STATUS_LIST_BAD_SIGNATURE, (
            response.detail
        )
        assert response.status == pb.CREDENTIAL_STATUS_UNSPECIFIED
        assert checks(response)[-1] == ("status", False)
    # Nor can it borrow a revocation: the entry's state there says nothing about it.
    await _revoke(plain_served, issuer, theirs)
    borrowed = await plain_served.verify(verifier, naming(theirs))
    assert borrowed.failure == pb.VERIFICATION_FAILURE_STATUS_LIST_BAD_SIGNATURE

    missing = foreign.credential(status=StatusReference(status_list_uri("0" * 32), 1))
    unreachable = await plain_served.verify(verifier, missing)
    assert unreachable.failure == pb.VERIFICATION_FAILURE_STATUS_LIST_UNREACHABLE


async def test_another_tenant_trusted_by_its_jwks_is_judged_by_its_published_list(
    plain_served: Served,
) -> None:
    """Trusting the Issuer tenant by its issuer id and JWKS: its credential verifies with
    the status of the list it names, checked under those keys; a revocation shows at once."""
    verifier, issuer = plain_served.tenants["Verifier"], plain_served.tenants["Issuer"]
    issued = await _issue_sd_jwt(plain_served, issuer)
    keys = await plain_served.credentials.GetIssuerKeys(
        pb.GetIssuerKeysRequest(), metadata=issuer.metadata
    )
    await plain_served.trust_jwks(verifier, issuer_id(issuer), json.loads(keys.jwks))
    accepted = await plain_served.verify(verifier, issued.credential)
    assert accepted.valid, accepted.detail
    assert accepted.checks[1].detail.startswith("trusted issuer")
    assert status_list_uri(issued.status_list_id) in accepted.checks[-1].detail
    await _revoke(plain_served, issuer, issued)
    revoked = await plain_served.verify(verifier, issued.credential)
    assert revoked.failure == pb.VERIFICATION_FAILURE_REVOKED
