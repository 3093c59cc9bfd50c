"""What other conformant wallets do differently, through a real server: a request URI
POST without metadata, a form with a charset, parameters the verifier must ignore, and an
operator-set DNS name, which wallets check against the response URI's host (§5.9.3)."""

from __future__ import annotations

import asyncio
import subprocess
import time
from typing import Any
from urllib.parse import urlencode

import grpc
import pytest

from tests.integration.conftest import Tenant
from tests.integration.oid4vci.issuer_processes import Cluster, server_env
from tests.integration.processes import CLI
from tests.wallet import (
    PresentationWallet,
    ResponseOptions,
    load_pem_certificates,
    parse_authorization_request_uri,
    verify_request_object,
)

from . import verifier_client
from .verifier_client import state_name
from .verifier_helpers import Holder, Presentations, dcql, final_state, mdoc_query, sd_jwt_query

#: The server keeps a tenant's verifier identity this long before reading it again (5 s).
IDENTITY_REFRESH_BOUND = 10.0


async def test_a_request_uri_post_without_wallet_metadata(
    presentations: Presentations, holder: Holder
) -> None:
    """request_uri_method=post with an empty form (both parameters are optional): the
    request object still comes, and verifies."""
    created = await presentations.create(dcql(sd_jwt_query()), request_uri_method="post")
    link = parse_authorization_request_uri(created.transaction.authorization_request_uri)
    reply = await holder.wallet.fetch_request_object(link, raw_body="")
    assert reply.status == 200, reply.describe()
    request = verify_request_object(
        reply.body.decode().strip(), trusted=holder.wallet.trusted, link=link
    )
    assert request.client_id == created.transaction.client_id


async def test_a_form_with_a_charset_parameter_is_accepted(
    presentations: Presentations, holder: Holder
) -> None:
    """Content-Type application/x-www-form-urlencoded;charset=UTF-8, as browsers send it."""
    created = await presentations.create(dcql(sd_jwt_query()))
    request = await holder.wallet.fetch_request(created.transaction.authorization_request_uri)
    assert request.response_uri is not None
    answer = holder.wallet.build_response(request)
    headers = {"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"}
    async with holder.wallet.session.post(
        request.response_uri, data=answer.body.encode(), headers=headers
    ) as reply:
        assert reply.status == 200, await reply.text()
    result = await final_state(presentations, created.transaction.transaction_id)
    assert state_name(result) == "VERIFIED"


@pytest.mark.parametrize("response_mode", ["direct_post", "direct_post.jwt"])
async def test_unknown_response_parameters_are_ignored(
    presentations: Presentations, holder: Holder, response_mode: str
) -> None:
    """§8.1: the client MUST ignore unrecognized parameters, in the form or in the JWE."""
    created = await presentations.create(
        dcql(sd_jwt_query(), mdoc_query()), response_mode=response_mode
    )
    options = ResponseOptions(extra_parameters={"wallet_extension": "x"})
    presented = await holder.wallet.present(created.transaction.authorization_request_uri, options)
    assert presented.reply.status == 200, presented.reply.describe()
    if response_mode == "direct_post.jwt":
        again = await presentations.create(dcql(sd_jwt_query(), mdoc_query()))
        request = await holder.wallet.fetch_request(again.transaction.authorization_request_uri)
        answer = holder.wallet.build_response(request)
        body = urlencode({**answer.form, "another": "y"})
        reply = await holder.wallet.post_response(request, answer, raw_body=body)
        assert reply.status == 200, reply.describe()


def set_dns_name(cluster: Cluster, tenant: Tenant, dns_name: str) -> str:
    command = [*CLI, "verifier", "set-dns-name", "--tenant", tenant.tenant_id, dns_name]
    completed = subprocess.run(
        [*command, "-q", "--db", cluster.db_url],
        capture_output=True,
        text=True,
        timeout=60,
        env=server_env(cluster.master),
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout.strip()


async def identity_named(presentations: verifier_client.Presentations, dns_name: str) -> Any:
    """GetVerifierIdentity once it names `dns_name` (instances refresh it within seconds)."""
    deadline = time.monotonic() + IDENTITY_REFRESH_BOUND
    while True:
        identity = await presentations.identity()
        if identity.dns_name == dns_name or time.monotonic() > deadline:
            return identity
        await asyncio.sleep(0.5)


async def test_an_operator_set_dns_name_names_the_client_and_its_certificate(
    presentations: Presentations, holder: Holder, issuer_cluster: Cluster
) -> None:
    """`verifier set-dns-name verifier.example` while the public URL's host is 127.0.0.1:
    the identity, client ids and certificate follow; x509_san_dns requests are refused
    (a wallet would refuse their response URI, §5.9.3), x509_hash ones work with the new
    certificate."""
    await presentations.identity()  # the tenant's identity exists before the change
    printed = await asyncio.to_thread(
        set_dns_name, issuer_cluster, presentations.tenant, "verifier.example"
    )
    assert printed == "verifier.example"
    identity = await identity_named(presentations, "verifier.example")
    assert identity.dns_name == "verifier.example"
    assert "x509_san_dns:verifier.example" in identity.client_ids
    trusted = load_pem_certificates(identity.certificate_chain_pem)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await presentations.create(dcql(sd_jwt_query()))
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    created = await presentations.create(dcql(sd_jwt_query()), client_id_prefix="x509_hash")
    assert created.transaction.client_id in identity.client_ids
    wallet = PresentationWallet(holder.wallet.session, trusted=trusted)
    wallet.held.extend(holder.wallet.held)
    wallet.keys.extend(holder.wallet.keys)
    presented = await wallet.present(created.transaction.authorization_request_uri)
    assert presented.reply.status == 200, presented.reply.describe()


async def test_a_request_made_before_a_dns_name_change_is_still_answered(
    presentations: Presentations, holder: Holder, issuer_cluster: Cluster
) -> None:
    """A request handed out (QR code shown) before `verifier set-dns-name`: its link names
    the old client id, and the request object it leads to must still be signed for it, so
    the wallet can answer until the request expires."""
    before = await presentations.create(dcql(sd_jwt_query()), client_id_prefix="x509_hash")
    await asyncio.to_thread(set_dns_name, issuer_cluster, presentations.tenant, "renamed.example")
    renamed = await identity_named(presentations, "renamed.example")
    await asyncio.sleep(1.0)
    # The wallet trusts both certificates: only the request object's signer is in question.
    holder.wallet.trusted.extend(load_pem_certificates(renamed.certificate_chain_pem))
    old = await holder.wallet.present(before.transaction.authorization_request_uri)
    assert old.request.client_id == before.transaction.client_id
    assert old.reply.status == 200, old.reply.describe()
