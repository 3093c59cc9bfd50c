"""Verifying what other issuers issued, through a real server: trust by JWKS and by x5c,
status lists fetched from loopback HTTP(S) servers, policies, typed checks, batches."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import zlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from eudi.connect.v1 import credential_service_pb2 as pb
from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc
from eudi.connect.v1 import trust_service_pb2 as trust_pb
from eudi.connect.v1 import trust_service_pb2_grpc as trust_grpc
from google.protobuf import json_format

from eudi_connect.api.convert import dict_to_struct
from eudi_connect.core.encoding import b64url_encode
from eudi_connect.core.jose import (
    SigningKey,
    generate_p256_key,
    private_key_from_jwk,
    public_jwk,
    sign_jws,
)
from eudi_connect.core.key_encryption import MasterKey
from eudi_connect.core.sdjwt import make_presentation
from eudi_connect.core.templates import PID_EXAMPLE_SUBJECT
from eudi_connect.core.verdicts import StatusReference
from eudi_connect.services.app import Services, open_services
from eudi_connect.services.fetch import FetchSettings
from eudi_connect.services.settings import ServiceSettings
from tests.integration.chunks import each_result
from tests.integration.client_helpers import issue_pid_mdoc
from tests.integration.conftest import Tenant
from tests.integration.foreign_issuer import (
    ForeignIssuer,
    LoopbackServer,
    der,
    make_certificate,
    make_pki,
    start_loopback,
    tls_pair,
)
from tests.integration.template_helpers import expect_error

VECTOR = json.loads(
    (
        Path(__file__).parents[1] / "fixtures" / "status_list" / "referenced_token_example.json"
    ).read_text()
)
F = pb  # VerificationFailure values live in the credential service's module


@pytest.fixture
async def http() -> AsyncIterator[LoopbackServer]:
    server, runner = await start_loopback()
    yield server
    await runner.cleanup()


@pytest.fixture
async def example_com() -> AsyncIterator[tuple[LoopbackServer, Any]]:
    """https://example.com served from loopback with a test CA (the draft's vector URIs)."""
    server_ctx, client_ctx, folder = tls_pair("example.com")
    server, runner = await start_loopback(server_ctx)
    yield server, client_ctx
    await runner.cleanup()
    folder.cleanup()


@pytest.fixture
async def services(
    db_url: str, settings: ServiceSettings, example_com: tuple[LoopbackServer, Any]
) -> AsyncIterator[Services]:
    tls_server, client_ctx = example_com
    port = int(tls_server.base_url.rsplit(":", 1)[1])
    fetch = FetchSettings(
        allow_http_loopback=True,
        allow_networks=(ipaddress.ip_network("127.0.0.0/8"),),  # the loopback servers here
        timeout_seconds=0.5,
        max_status_list_bytes=64 * 1024,
        min_cache_seconds=1,
        ssl_context=client_ctx,
        host_overrides={"example.com:443": ("127.0.0.1", port)},
    )
    opened = await open_services(db_url, settings, master_key=MasterKey.generate(), fetch=fetch)
    yield opened
    await opened.close()


@pytest.fixture
def trust(channel: grpc.aio.Channel) -> trust_grpc.TrustServiceStub:
    return trust_grpc.TrustServiceStub(channel)


async def _trust_jwks(
    trust: trust_grpc.TrustServiceStub, tenant: Tenant, issuer: ForeignIssuer
) -> None:
    await trust.AddTrustedIssuer(
        trust_pb.AddTrustedIssuerRequest(
            trusted_issuer=trust_pb.TrustedIssuer(
                issuer=issuer.issuer, jwks=json.dumps(issuer.jwks())
            )
        ),
        metadata=tenant.metadata,
    )


async def _verify(
    stub: pb_grpc.CredentialServiceStub, tenant: Tenant, credential: str, **fields: Any
) -> pb.VerifyCredentialResponse:
    response: pb.VerifyCredentialResponse = await stub.VerifyCredential(
        pb.VerifyCredentialRequest(credential=credential, **fields), metadata=tenant.metadata
    )
    return response


def _names(response: pb.VerifyCredentialResponse) -> list[tuple[str, bool]]:
    return [(c.name, c.passed) for c in response.checks]


async def test_the_drafts_referenced_token_is_revoked_at_index_0(
    stub: pb_grpc.CredentialServiceStub,
    trust: trust_grpc.TrustServiceStub,
    tenant: Tenant,
    example_com: tuple[LoopbackServer, Any],
) -> None:
    """The status list draft's SD-JWT example (as an SD-JWT VC, signed with the RFC 9901
    key) and its status list token, served at https://example.com: index 0 is INVALID."""
    server, _ = example_com
    key = SigningKey("12", private_key_from_jwk(VECTOR["issuer_private_jwk"]))
    server.serve(
        "/statuslists/1",
        sign_jws(
            {k: v for k, v in VECTOR["status_list_token_header"].items() if k != "alg"},
            VECTOR["status_list_token_payload"],
            key.private_key,
        ),
    )
    issuer = ForeignIssuer("https://example.com/issuer", key)
    await _trust_jwks(trust, tenant, issuer)
    _, *disclosures = VECTOR["referenced_token"].split("~")
    payload = {**VECTOR["referenced_token_payload"], "vct": "https://example.com/vct/example"}
    as_vc = sign_jws({"typ": "dc+sd-jwt"}, payload, key.private_key)
    response = await _verify(stub, tenant, "~".join([as_vc, *disclosures]))
    assert not response.valid
    assert response.failure == F.VERIFICATION_FAILURE_REVOKED
    assert response.status == pb.CREDENTIAL_STATUS_REVOKED
    assert json_format.MessageToDict(response.claims)["address"] == VECTOR["disclosed_address"]
    assert _names(response)[-1] == ("status", False)
    assert all(passed for _, passed in _names(response)[:-1])
    # As printed, its typ is example+sd-jwt: an SD-JWT VC verifier refuses the type.
    verbatim = await _verify(stub, tenant, VECTOR["referenced_token"])
    assert verbatim.failure == F.VERIFICATION_FAILURE_WRONG_TYPE


async def test_a_trusted_issuers_list_is_fetched_once_within_its_ttl(
    stub: pb_grpc.CredentialServiceStub,
    trust: trust_grpc.TrustServiceStub,
    tenant: Tenant,
    http: LoopbackServer,
) -> None:
    """Many verifications, one fetch; every check is reported, in order."""
    issuer = ForeignIssuer.new()
    uri = http.serve("/lists/a", "")
    http.serve("/lists/a", issuer.status_list_token(uri, {7: 1}))
    await _trust_jwks(trust, tenant, issuer)
    valid = issuer.credential(status=StatusReference(uri, 3))
    revoked = issuer.credential(status=StatusReference(uri, 7))
    results = await asyncio.gather(*(_verify(stub, tenant, valid) for _ in range(8)))
    assert all(r.valid and r.status == pb.CREDENTIAL_STATUS_VALID for r in results)
    assert _names(results[0]) == [
        (name, True)
        for name in ("format", "issuer", "signature", "validity", "type", "claims", "disclosures")
    ] + [("status", True)]
    assert (await _verify(stub, tenant, revoked)).failure == F.VERIFICATION_FAILURE_REVOKED
    assert http.hits["/lists/a"] == 1


async def test_a_list_is_fetched_again_once_its_ttl_has_passed(
    stub: pb_grpc.CredentialServiceStub,
    trust: trust_grpc.TrustServiceStub,
    tenant: Tenant,
    http: LoopbackServer,
) -> None:
    """ttl 1 s: a revocation published after it shows on the next fetch."""
    issuer = ForeignIssuer.new()
    uri = http.serve("/lists/b", "")
    http.serve("/lists/b", issuer.status_list_token(uri, {}, ttl=1))
    await _trust_jwks(trust, tenant, issuer)
    credential = issuer.credential(status=StatusReference(uri, 5))
    assert (await _verify(stub, tenant, credential)).valid
    http.serve("/lists/b", issuer.status_list_token(uri, {5: 2}, ttl=1))
    assert (await _verify(stub, tenant, credential)).valid  # still cached
    await asyncio.sleep(1.2)
    again = await _verify(stub, tenant, credential)
    assert again.failure == F.VERIFICATION_FAILURE_SUSPENDED
    assert http.hits["/lists/b"] == 2


def _bomb_lst() -> str:
    return b64url_encode(zlib.compress(bytes(4 << 20), 9))  # 4 MiB of zeros, ~4 KiB


REFUSALS: dict[str, Any] = {
    "slow": F.VERIFICATION_FAILURE_STATUS_LIST_TIMEOUT,
    "oversized": F.VERIFICATION_FAILURE_STATUS_LIST_TOO_LARGE,
    "unsigned": F.VERIFICATION_FAILURE_STATUS_LIST_UNSIGNED,
    "bare_json": F.VERIFICATION_FAILURE_STATUS_LIST_UNSIGNED,
    "alg_none": F.VERIFICATION_FAILURE_STATUS_LIST_ALGORITHM_NOT_ALLOWED,
    "other_key": F.VERIFICATION_FAILURE_STATUS_LIST_BAD_SIGNATURE,
    "wrong_sub": F.VERIFICATION_FAILURE_STATUS_LIST_WRONG_SUBJECT,
    "expired": F.VERIFICATION_FAILURE_STATUS_LIST_EXPIRED,
    "bomb": F.VERIFICATION_FAILURE_STATUS_LIST_DECOMPRESSION_LIMIT,
    "index_out_of_range": F.VERIFICATION_FAILURE_STATUS_LIST_INDEX_OUT_OF_RANGE,
    "not_found": F.VERIFICATION_FAILURE_STATUS_LIST_UNREACHABLE,
    "wrong_typ": F.VERIFICATION_FAILURE_STATUS_LIST_INVALID,
}


def _refused_list(kind: str, issuer: ForeignIssuer, uri: str, http: LoopbackServer) -> None:
    path = uri.removeprefix(http.base_url)
    now = 1_900_000_000
    claims = {
        "sub": uri,
        "iat": now - 10**9,
        "exp": now,
        "status_list": {"bits": 2, "lst": b64url_encode(zlib.compress(bytes(256)))},
    }
    header = {"alg": "ES256", "typ": "statuslist+jwt", "kid": issuer.key.kid}
    good = issuer.status_list_token(uri, {})
    bodies: dict[str, Any] = {
        "slow": (good, {"delay": 2.0}),
        "oversized": ("x" * (65 * 1024), {}),
        "unsigned": (good.rsplit(".", 1)[0] + ".", {}),
        "bare_json": (json.dumps(claims["status_list"]), {}),
        "alg_none": (issuer.raw_token({**header, "alg": "none"}, claims, signature=b""), {}),
        "other_key": (ForeignIssuer.new().status_list_token(uri, {}), {}),
        "wrong_sub": (issuer.status_list_token(uri + "/other", {}), {}),
        "expired": (
            issuer.raw_token(header, {**claims, "iat": 1, "exp": 2}, signature=None),
            {},
        ),
        "bomb": (
            issuer.raw_token(
                header,
                {**claims, "status_list": {"bits": 2, "lst": _bomb_lst()}},
                signature=None,
            ),
            {},
        ),
        "index_out_of_range": (issuer.status_list_token(uri, {}, size=16), {}),
        "not_found": None,
        "wrong_typ": (issuer.raw_token({**header, "typ": "JWT"}, claims, signature=None), {}),
    }
    entry = bodies[kind]
    if entry is not None:
        http.serve(path, entry[0], **entry[1])


@pytest.mark.parametrize("kind", sorted(REFUSALS))
async def test_each_bad_status_list_is_refused_with_its_own_reason(
    kind: str,
    stub: pb_grpc.CredentialServiceStub,
    trust: trust_grpc.TrustServiceStub,
    tenant: Tenant,
    http: LoopbackServer,
) -> None:
    """Slow, oversized, unsigned, alg none, foreign key, wrong sub, expired, zlib bomb,
    index out of range, missing, wrong typ: each its own reason, never a crash."""
    issuer = ForeignIssuer.new()
    uri = f"{http.base_url}/lists/{kind}"
    _refused_list(kind, issuer, uri, http)
    await _trust_jwks(trust, tenant, issuer)
    credential = issuer.credential(status=StatusReference(uri, 100))
    response = await _verify(stub, tenant, credential)
    assert not response.valid
    assert response.failure == REFUSALS[kind], response.detail
    assert _names(response)[-1] == ("status", False)
    assert response.checks[-1].failure == REFUSALS[kind]


# --- x5c (HAIP) ----------------------------------------------------------------------------


async def _add_anchor(
    trust: trust_grpc.TrustServiceStub, tenant: Tenant, certificate: bytes
) -> trust_pb.TrustAnchor:
    added = await trust.AddTrustAnchor(
        trust_pb.AddTrustAnchorRequest(certificate=certificate), metadata=tenant.metadata
    )
    anchor: trust_pb.TrustAnchor = added.trust_anchor
    return anchor


async def test_an_x5c_chain_to_a_configured_anchor_is_trusted_and_so_is_its_list(
    stub: pb_grpc.CredentialServiceStub,
    trust: trust_grpc.TrustServiceStub,
    tenant: Tenant,
    http: LoopbackServer,
) -> None:
    """HAIP: the credential and its status list token both carry x5c to the anchor."""
    pki = make_pki(uri="https://haip.example/issuer")
    issuer = ForeignIssuer(
        "https://haip.example/issuer", SigningKey("s1", pki.signer_key), x5c=[der(pki.signer)]
    )
    await _add_anchor(trust, tenant, der(pki.root))
    uri = http.serve("/lists/x5c", "")
    http.serve("/lists/x5c", issuer.status_list_token(uri, {9: 1}))
    ok = await _verify(stub, tenant, issuer.credential(status=StatusReference(uri, 1)))
    assert ok.valid, ok.detail
    assert "x5c chain" in ok.checks[1].detail
    revoked = await _verify(stub, tenant, issuer.credential(status=StatusReference(uri, 9)))
    assert revoked.failure == F.VERIFICATION_FAILURE_REVOKED


@pytest.mark.parametrize(
    ("case", "failure"),
    [
        ("expired_leaf", F.VERIFICATION_FAILURE_CERTIFICATE_INVALID),
        ("wrong_anchor", F.VERIFICATION_FAILURE_UNTRUSTED_ISSUER),
        ("anchor_inside", F.VERIFICATION_FAILURE_CERTIFICATE_INVALID),
        ("self_signed_leaf", F.VERIFICATION_FAILURE_CERTIFICATE_INVALID),
        ("no_key_usage", F.VERIFICATION_FAILURE_CERTIFICATE_INVALID),
        ("not_base64", F.VERIFICATION_FAILURE_MALFORMED),
    ],
)
async def test_bad_x5c_chains_are_refused_at_the_issuer_check(
    case: str,
    failure: Any,
    stub: pb_grpc.CredentialServiceStub,
    trust: trust_grpc.TrustServiceStub,
    tenant: Tenant,
) -> None:
    """Expired leaf, another anchor, the anchor sent inside x5c, a self-signed leaf."""
    past = datetime.now(UTC) - timedelta(days=10)
    options: dict[str, dict[str, Any]] = {
        "expired_leaf": {"not_before": past, "not_after": past + timedelta(days=1)},
        "no_key_usage": {"key_usage": False},
    }
    pki = make_pki(**options.get(case, {}))
    anchor, chain = pki.root, [der(pki.signer)]
    signer_key = pki.signer_key
    if case == "wrong_anchor":
        anchor = make_pki("Other").root
    elif case == "anchor_inside":
        chain = [der(pki.signer), der(pki.root)]
    elif case == "self_signed_leaf":
        signer_key = generate_p256_key()
        chain = [der(make_certificate("Self", signer_key))]
    await _add_anchor(trust, tenant, der(anchor))
    issuer = ForeignIssuer("https://haip.example/issuer", SigningKey("s1", signer_key))
    credential = issuer.credential(x5c=chain)
    if case == "not_base64":
        _header, rest = credential.split(".", 1)
        bad = {"alg": "ES256", "typ": "dc+sd-jwt", "x5c": ["%%%"]}
        credential = b64url_encode(json.dumps(bad).encode()) + "." + rest
    response = await _verify(stub, tenant, credential)
    assert response.failure == failure, response.detail
    assert _names(response) == [("format", True), ("issuer", False)]


# --- trusted issuers by JWKS URL, and untrusted ones ---------------------------------------


async def test_a_jwks_url_is_fetched_and_cached(
    stub: pb_grpc.CredentialServiceStub,
    trust: trust_grpc.TrustServiceStub,
    tenant: Tenant,
    http: LoopbackServer,
) -> None:
    """First use fetches the JWKS; later verifications reuse it."""
    issuer = ForeignIssuer.new("https://jwks-url.example")
    url = http.serve("/jwks.json", json.dumps(issuer.jwks()), content_type="application/json")
    await trust.AddTrustedIssuer(
        trust_pb.AddTrustedIssuerRequest(
            trusted_issuer=trust_pb.TrustedIssuer(issuer=issuer.issuer, jwks_uri=url)
        ),
        metadata=tenant.metadata,
    )
    for _ in range(3):
        assert (await _verify(stub, tenant, issuer.credential())).valid
    assert http.hits["/jwks.json"] == 1
    other = ForeignIssuer(issuer.issuer, SigningKey("unknown-kid", generate_p256_key()))
    unknown = await _verify(stub, tenant, other.credential())
    assert unknown.failure == F.VERIFICATION_FAILURE_UNKNOWN_ISSUER_KEY


async def test_an_unreachable_jwks_url_is_its_own_reason(
    stub: pb_grpc.CredentialServiceStub,
    trust: trust_grpc.TrustServiceStub,
    tenant: Tenant,
    http: LoopbackServer,
) -> None:
    issuer = ForeignIssuer.new("https://gone.example")
    await trust.AddTrustedIssuer(
        trust_pb.AddTrustedIssuerRequest(
            trusted_issuer=trust_pb.TrustedIssuer(
                issuer=issuer.issuer, jwks_uri=f"{http.base_url}/missing.json"
            )
        ),
        metadata=tenant.metadata,
    )
    response = await _verify(stub, tenant, issuer.credential())
    assert response.failure == F.VERIFICATION_FAILURE_ISSUER_KEYS_UNAVAILABLE


async def test_an_issuer_nobody_trusts_is_untrusted(
    stub: pb_grpc.CredentialServiceStub, tenant: Tenant
) -> None:
    response = await _verify(stub, tenant, ForeignIssuer.new().credential())
    assert response.failure == F.VERIFICATION_FAILURE_UNTRUSTED_ISSUER
    assert _names(response) == [("format", True), ("issuer", False)]


# --- policy --------------------------------------------------------------------------------


async def test_policy_options_each_change_the_answer(
    stub: pb_grpc.CredentialServiceStub,
    trust: trust_grpc.TrustServiceStub,
    tenant: Tenant,
    http: LoopbackServer,
) -> None:
    """allowed_vcts, require_key_binding, max KB age, check_status off, clock skew."""
    issuer = ForeignIssuer.new()
    await _trust_jwks(trust, tenant, issuer)
    holder = generate_p256_key()
    uri = f"{http.base_url}/lists/policy-missing"
    credential = issuer.credential(
        status=StatusReference(uri, 1), holder_jwk=public_jwk(holder.public_key())
    )
    policy = pb.VerificationPolicy

    wrong_type = await _verify(
        stub, tenant, credential, policy=policy(allowed_vcts=["urn:other"], check_status=False)
    )
    assert wrong_type.failure == F.VERIFICATION_FAILURE_WRONG_TYPE
    assert _names(wrong_type)[-1] == ("type", False)
    allowed = await _verify(
        stub,
        tenant,
        credential,
        policy=policy(allowed_vcts=["urn:example:foreign:1"], check_status=False),
    )
    assert allowed.valid
    assert "status" not in [c.name for c in allowed.checks]
    assert "/lists/policy-missing" not in http.hits  # check_status off: no fetch

    session = {"expected_audience": "https://v.example", "expected_nonce": "n"}
    no_kb = await _verify(
        stub,
        tenant,
        credential,
        policy=policy(require_key_binding=True, check_status=False),
        **session,
    )
    assert no_kb.failure == F.VERIFICATION_FAILURE_KEY_BINDING_REQUIRED
    old = make_presentation(
        credential,
        holder_key=holder,
        audience="https://v.example",
        nonce="n",
        issued_at=int(datetime.now(UTC).timestamp()) - 120,
    )
    too_old = await _verify(
        stub,
        tenant,
        old,
        policy=policy(require_key_binding=True, max_key_binding_age_seconds=30, check_status=False),
        **session,
    )
    assert too_old.failure == F.VERIFICATION_FAILURE_KEY_BINDING_INVALID
    fresh_enough = await _verify(
        stub,
        tenant,
        old,
        policy=policy(
            require_key_binding=True, max_key_binding_age_seconds=600, check_status=False
        ),
        **session,
    )
    assert fresh_enough.valid
    assert fresh_enough.key_binding_verified
    assert ("key_binding", True) in _names(fresh_enough)

    expired = issuer.credential(expires_in=-30)
    strict = await _verify(
        stub, tenant, expired, policy=policy(clock_skew_seconds=0, check_status=False)
    )
    assert strict.failure == F.VERIFICATION_FAILURE_EXPIRED
    lenient = await _verify(
        stub, tenant, expired, policy=policy(clock_skew_seconds=120, check_status=False)
    )
    assert lenient.valid

    status_on = await _verify(stub, tenant, credential)
    assert status_on.failure == F.VERIFICATION_FAILURE_STATUS_LIST_UNREACHABLE


@pytest.mark.parametrize(
    "bad",
    [
        {"clock_skew_seconds": -1},
        {"clock_skew_seconds": 3601},
        {"max_key_binding_age_seconds": 0},
        {"allowed_vcts": [""]},
    ],
)
async def test_a_policy_out_of_bounds_is_invalid_argument(
    bad: dict[str, Any], stub: pb_grpc.CredentialServiceStub, tenant: Tenant
) -> None:
    """Bounds: skew 0 to 3600, KB age 1 to 86400, no empty type."""
    await expect_error(
        _verify(stub, tenant, "x~", policy=pb.VerificationPolicy(**bad)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "POLICY_INVALID",
    )


# --- batch ---------------------------------------------------------------------------------


async def test_the_batch_rpc_answers_every_item_by_index(
    stub: pb_grpc.CredentialServiceStub,
    trust: trust_grpc.TrustServiceStub,
    tenant: Tenant,
    http: LoopbackServer,
) -> None:
    """Own valid, foreign revoked, garbage, untrusted, and a bad policy (an item error)."""
    own = await stub.IssueCredential(
        pb.IssueCredentialRequest(template_id="pid", subject=dict_to_struct(PID_EXAMPLE_SUBJECT)),
        metadata=tenant.metadata,
    )
    issuer = ForeignIssuer.new()
    await _trust_jwks(trust, tenant, issuer)
    uri = http.serve("/lists/batch", "")
    http.serve("/lists/batch", issuer.status_list_token(uri, {2: 1}))
    items = [
        pb.VerifyCredentialRequest(credential=own.credential),
        pb.VerifyCredentialRequest(credential=issuer.credential(status=StatusReference(uri, 2))),
        pb.VerifyCredentialRequest(credential="garbage~"),
        pb.VerifyCredentialRequest(credential=ForeignIssuer.new("https://nobody").credential()),
        pb.VerifyCredentialRequest(
            credential=own.credential, policy=pb.VerificationPolicy(clock_skew_seconds=-5)
        ),
    ]
    results = {
        r.index: r
        async for r in each_result(
            stub.VerifyCredentialBatch(
                pb.VerifyCredentialBatchRequest(items=items), metadata=tenant.metadata
            )
        )
    }
    assert sorted(results) == [0, 1, 2, 3, 4]
    assert results[0].result.valid
    assert results[1].result.failure == F.VERIFICATION_FAILURE_REVOKED
    assert results[2].result.failure == F.VERIFICATION_FAILURE_MALFORMED
    assert results[3].result.failure == F.VERIFICATION_FAILURE_UNTRUSTED_ISSUER
    assert results[4].WhichOneof("outcome") == "error"
    assert results[4].error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]


async def test_a_batch_over_the_limit_is_resource_exhausted(
    stub: pb_grpc.CredentialServiceStub, tenant: Tenant
) -> None:
    request = pb.VerifyCredentialBatchRequest(
        items=[pb.VerifyCredentialRequest(credential="x~")] * 1001
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        async for _ in stub.VerifyCredentialBatch(request, metadata=tenant.metadata):
            pass
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


# --- mdoc ----------------------------------------------------------------------------------


async def test_our_own_mdoc_verifies_with_checks_and_status(
    stub: pb_grpc.CredentialServiceStub, tenant: Tenant
) -> None:
    """mdoc: chain to our own certificate, status from our store; revocation shows."""
    issued = await issue_pid_mdoc(stub, tenant)
    response = await _verify(stub, tenant, issued.credential)
    assert response.valid, response.detail
    assert response.format == "mso_mdoc"
    assert _names(response)[-1] == ("status", True)
    kb = await _verify(
        stub, tenant, issued.credential, policy=pb.VerificationPolicy(require_key_binding=True)
    )
    assert kb.failure == F.VERIFICATION_FAILURE_KEY_BINDING_REQUIRED
    await stub.RevokeCredential(
        pb.RevokeCredentialRequest(credential_id=issued.credential_id), metadata=tenant.metadata
    )
    revoked = await _verify(stub, tenant, issued.credential)
    assert revoked.failure == F.VERIFICATION_FAILURE_REVOKED


async def test_another_tenants_mdoc_is_refused_at_the_issuer_check(
    stub: pb_grpc.CredentialServiceStub, tenant: Tenant, other_tenant: Tenant
) -> None:
    issued = await issue_pid_mdoc(stub, tenant)
    response = await _verify(stub, other_tenant, issued.credential)
    assert response.failure == F.VERIFICATION_FAILURE_UNKNOWN_ISSUER_KEY
    assert _names(response) == [("format", True), ("issuer", False)]


# --- the TrustService ----------------------------------------------------------------------


async def test_trust_configuration_is_added_listed_and_removed(
    trust: trust_grpc.TrustServiceStub, tenant: Tenant, other_tenant: Tenant
) -> None:
    """Issuers and anchors per tenant, paged, with precise errors for every misuse."""
    issuer = ForeignIssuer.new()
    for name in ("https://a.example", "https://b.example", "https://c.example"):
        await trust.AddTrustedIssuer(
            trust_pb.AddTrustedIssuerRequest(
                trusted_issuer=trust_pb.TrustedIssuer(issuer=name, jwks=json.dumps(issuer.jwks()))
            ),
            metadata=tenant.metadata,
        )
    first = await trust.ListTrustedIssuers(
        trust_pb.ListTrustedIssuersRequest(page_size=2), metadata=tenant.metadata
    )
    assert [t.issuer for t in first.trusted_issuers] == ["https://a.example", "https://b.example"]
    rest = await trust.ListTrustedIssuers(
        trust_pb.ListTrustedIssuersRequest(page_token=first.next_page_token),
        metadata=tenant.metadata,
    )
    assert [t.issuer for t in rest.trusted_issuers] == ["https://c.example"]
    assert rest.next_page_token == ""
    others = await trust.ListTrustedIssuers(
        trust_pb.ListTrustedIssuersRequest(), metadata=other_tenant.metadata
    )
    assert list(others.trusted_issuers) == []

    def add(**fields: Any) -> Any:
        return trust.AddTrustedIssuer(
            trust_pb.AddTrustedIssuerRequest(trusted_issuer=trust_pb.TrustedIssuer(**fields)),
            metadata=tenant.metadata,
        )

    jwks = json.dumps(issuer.jwks())
    code = grpc.StatusCode
    await expect_error(
        add(issuer="https://a.example", jwks=jwks), code.ALREADY_EXISTS, "TRUSTED_ISSUER_EXISTS"
    )
    await expect_error(
        add(issuer="https://d.example"), code.INVALID_ARGUMENT, "TRUSTED_ISSUER_KEYS_REQUIRED"
    )
    await expect_error(add(issuer="", jwks=jwks), code.INVALID_ARGUMENT, "ISSUER_INVALID")
    await expect_error(
        add(issuer="https://d.example", jwks="{"), code.INVALID_ARGUMENT, "JWKS_INVALID"
    )
    private = json.dumps({"keys": [{**issuer.key.public_jwk(), "d": "AAAA"}]})
    await expect_error(
        add(issuer="https://d.example", jwks=private), code.INVALID_ARGUMENT, "JWKS_INVALID"
    )
    await expect_error(
        add(issuer="https://d.example", jwks_uri="http://jwks.example/keys"),
        code.INVALID_ARGUMENT,
        "JWKS_URI_INVALID",
    )
    await trust.RemoveTrustedIssuer(
        trust_pb.RemoveTrustedIssuerRequest(issuer="https://b.example"), metadata=tenant.metadata
    )
    await expect_error(
        trust.RemoveTrustedIssuer(
            trust_pb.RemoveTrustedIssuerRequest(issuer="https://b.example"),
            metadata=tenant.metadata,
        ),
        code.NOT_FOUND,
        "TRUSTED_ISSUER_NOT_FOUND",
    )

    root = make_pki().root
    anchor = await _add_anchor(trust, tenant, der(root))
    assert anchor.subject == "CN=Foreign Root CA"
    from cryptography.hazmat.primitives import serialization

    await expect_error(
        trust.AddTrustAnchor(
            trust_pb.AddTrustAnchorRequest(
                certificate=root.public_bytes(serialization.Encoding.PEM)
            ),
            metadata=tenant.metadata,
        ),
        code.ALREADY_EXISTS,
        "TRUST_ANCHOR_EXISTS",
    )
    await expect_error(
        trust.AddTrustAnchor(
            trust_pb.AddTrustAnchorRequest(certificate=b"not a certificate"),
            metadata=tenant.metadata,
        ),
        code.INVALID_ARGUMENT,
        "TRUST_ANCHOR_INVALID",
    )
    listed = await trust.ListTrustAnchors(
        trust_pb.ListTrustAnchorsRequest(), metadata=tenant.metadata
    )
    assert [a.anchor_id for a in listed.trust_anchors] == [anchor.anchor_id]
    await expect_error(
        trust.ListTrustAnchors(
            trust_pb.ListTrustAnchorsRequest(page_token="%%"), metadata=tenant.metadata
        ),
        code.INVALID_ARGUMENT,
        "PAGE_TOKEN_INVALID",
    )
    await trust.RemoveTrustAnchor(
        trust_pb.RemoveTrustAnchorRequest(anchor_id=anchor.anchor_id), metadata=tenant.metadata
    )
    await expect_error(
        trust.RemoveTrustAnchor(
            trust_pb.RemoveTrustAnchorRequest(anchor_id=anchor.anchor_id),
            metadata=tenant.metadata,
        ),
        code.NOT_FOUND,
        "TRUST_ANCHOR_NOT_FOUND",
    )
