"""Wallet and key attestations through a real issuer process: the tenant's wallet policy
(GetWalletPolicy / UpdateWalletPolicy), key attestations accepted and refused (untrusted
provider, expired, revoked, too weak, key not attested, missing), the `attestation` proof
type, and wallet attestations at the token endpoint (OpenID4VCI 1.0 Appendices D, E, F;
draft-ietf-oauth-attestation-based-client-auth).

The test wallet provider serves its status list over https on `localhost`; the server
processes trust its TLS CA (`SSL_CERT_FILE`) and may fetch from loopback (the operator's
allow-list), as a deployment would reach a provider on the web.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import pytest
from eudi.connect.v1 import offer_service_pb2 as opb

from tests.integration.template_helpers import expect_error
from tests.wallet import (
    ISO_18045_BASIC,
    ISO_18045_HIGH,
    CertificateAuthority,
    FlowFailed,
    KeyPair,
    ProviderHost,
    Wallet,
    WalletProvider,
    status_reference,
)

from .issuer_processes import (
    Cluster,
    Offers,
    ProviderTls,
    authorized,
    make_provider_tls,
    sqlite_cluster,
)


@pytest.fixture(scope="module")
def provider_tls(tmp_path_factory: pytest.TempPathFactory) -> ProviderTls:
    return make_provider_tls(tmp_path_factory.mktemp("provider-tls"))


@pytest.fixture(scope="module")
def issuer_cluster(
    tmp_path_factory: pytest.TempPathFactory, provider_tls: ProviderTls
) -> Iterator[Cluster]:
    yield from sqlite_cluster(tmp_path_factory, ca=provider_tls)


@pytest.fixture
def provider_ca() -> CertificateAuthority:
    return CertificateAuthority.generate()


@pytest.fixture
def provider(provider_ca: CertificateAuthority) -> WalletProvider:
    """A wallet provider that signs with an x5c chain under its CA."""
    return WalletProvider(ca=provider_ca.intermediate("Wallet Provider Issuing CA"))


@pytest.fixture
async def provider_host(
    provider: WalletProvider, provider_tls: ProviderTls
) -> AsyncIterator[ProviderHost]:
    async with ProviderHost(
        provider, ssl_context=provider_tls.server_context, host="localhost"
    ) as host:
        yield host


def trusting(ca: CertificateAuthority, **fields: Any) -> dict[str, Any]:
    """Policy fields that trust `ca`'s providers and require high key attestations."""
    return {
        "key_attestation_required": True,
        "key_storage": [ISO_18045_HIGH],
        "user_authentication": [ISO_18045_HIGH],
        "wallet_provider_certificates": [ca.certificate_pem.encode("ascii")],
        **fields,
    }


# --- the policy ----------------------------------------------------------------------------


async def test_a_new_tenant_asks_wallets_for_no_attestation(offers: Offers, wallet: Wallet) -> None:
    """Defaults: nothing required, nobody trusted; the metadata says anonymous access and
    plain jwt proofs."""
    policy = await offers.policy()
    assert policy == opb.WalletPolicy()
    created = await offers.create()
    offer = await wallet.resolve_offer(created.offer.credential_offer_uri)
    metadata, server = await wallet.discover(offer)
    configuration = metadata.configuration("pid.dc+sd-jwt")
    assert set(configuration.proof_types) == {"jwt"}
    assert "key_attestations_required" not in configuration.raw["proof_types_supported"]["jwt"]
    assert server.raw["token_endpoint_auth_methods_supported"] == ["none"]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"wallet_provider_certificates": [b"not a certificate"]}, "CERTIFICATE_INVALID"),
        ({"wallet_provider_certificates": [b"-----BEGIN CERTIFICATE-----"]}, "CERTIFICATE_INVALID"),
        ({"wallet_provider_jwks": "{not json"}, "JWKS_INVALID"),
        ({"wallet_provider_jwks": '{"keys": []}'}, "JWKS_INVALID"),
        ({"key_attestation_required": True, "key_storage": ["iso 18045 high"]}, "LEVEL_INVALID"),
        ({"key_attestation_required": True, "key_storage": [""]}, "LEVEL_INVALID"),
        ({"key_storage": [ISO_18045_HIGH]}, "LEVELS_WITHOUT_ATTESTATION"),
        ({"key_attestation_required": True}, "TRUST_MISSING"),
        ({"wallet_attestation_required": True}, "TRUST_MISSING"),
    ],
)
async def test_a_policy_that_cannot_work_is_refused(
    offers: Offers, fields: dict[str, Any], reason: str
) -> None:
    """Bad certificates or JWKS, levels that are no level or apply to nothing, attestations
    required from nobody: INVALID_ARGUMENT with its reason, and the policy is unchanged."""
    await expect_error(
        offers.set_policy(**fields), grpc.StatusCode.INVALID_ARGUMENT, f"WALLET_POLICY_{reason}"
    )
    assert await offers.policy() == opb.WalletPolicy()


async def test_an_end_entity_certificate_is_no_provider_anchor(
    offers: Offers, provider: WalletProvider
) -> None:
    """x5c chains end at a CA: the provider's own leaf is refused as an anchor."""
    assert provider.certificate is not None
    from cryptography.hazmat.primitives import serialization

    leaf = provider.certificate.public_bytes(serialization.Encoding.DER)
    await expect_error(
        offers.set_policy(wallet_provider_certificates=[leaf]),
        grpc.StatusCode.INVALID_ARGUMENT,
        "WALLET_POLICY_CERTIFICATE_INVALID",
    )


async def test_a_jwks_key_without_kid_is_refused(offers: Offers) -> None:
    """Attestations name their signing key by kid, so every trusted key needs one."""
    key = KeyPair.generate().public_jwk()
    await expect_error(
        offers.set_policy(wallet_provider_jwks=f'{{"keys": [{_json(key)}]}}'),
        grpc.StatusCode.INVALID_ARGUMENT,
        "WALLET_POLICY_JWKS_INVALID",
    )


def _json(value: Any) -> str:
    import json

    return json.dumps(value)


async def test_the_policy_is_read_back_and_shown_in_the_metadata(
    offers: Offers, wallet: Wallet, provider_ca: CertificateAuthority
) -> None:
    """An accepted policy comes back as stored (certificates in DER) and the metadata at
    once requires key attestations at its levels and offers the attestation proof type."""
    stored = await offers.set_policy(**trusting(provider_ca))
    assert stored.key_attestation_required
    assert list(stored.key_storage) == [ISO_18045_HIGH]
    assert stored.wallet_provider_certificates[0].startswith(b"\x30")  # DER SEQUENCE
    assert await offers.policy() == stored
    created = await offers.create()
    metadata, _ = await wallet.discover(
        await wallet.resolve_offer(created.offer.credential_offer_uri)
    )
    configuration = metadata.configuration("pid.dc+sd-jwt")
    assert set(configuration.proof_types) == {"jwt", "attestation"}
    required = configuration.raw["proof_types_supported"]["jwt"]["key_attestations_required"]
    assert required == {"key_storage": [ISO_18045_HIGH], "user_authentication": [ISO_18045_HIGH]}


# --- key attestations ----------------------------------------------------------------------


async def test_attested_keys_from_a_trusted_provider_get_credentials(
    offers: Offers, wallet: Wallet, provider: WalletProvider, provider_ca: CertificateAuthority
) -> None:
    """jwt proofs each carrying a key attestation (x5c to the trusted root) with the c_nonce:
    one credential per key, verified by the holder."""
    await offers.set_policy(**trusting(provider_ca))
    created = await offers.create(copies=2)
    collected = await wallet.collect(
        created.offer.credential_offer_uri, copies=2, key_attester=provider.attester()
    )
    assert len(await wallet.verify_collected(collected)) == 2


async def test_one_attestation_proof_covers_several_keys(
    offers: Offers, wallet: Wallet, provider: WalletProvider, provider_ca: CertificateAuthority
) -> None:
    """The `attestation` proof type: one key attestation of 3 keys, 3 credentials."""
    await offers.set_policy(**trusting(provider_ca))
    created = await offers.create(copies=3)
    collected = await wallet.collect(
        created.offer.credential_offer_uri,
        copies=3,
        proof_type="attestation",
        key_attester=provider.attester(),
    )
    verified = await wallet.verify_collected(collected)
    assert sorted(v.holder_key_index for v in verified) == [0, 1, 2]


async def test_a_provider_trusted_by_its_jwks_signs_by_kid(offers: Offers, wallet: Wallet) -> None:
    """A provider without certificates: trusted through its JWKS, found by kid."""
    provider = WalletProvider()
    await offers.set_policy(
        key_attestation_required=True, wallet_provider_jwks=_json(provider.jwks())
    )
    created = await offers.create()
    collected = await wallet.collect(
        created.offer.credential_offer_uri, key_attester=provider.attester()
    )
    assert len(await wallet.verify_collected(collected)) == 1


@pytest.mark.parametrize(
    "case", ["untrusted", "expired", "weak-storage", "weak-user-auth", "not-attested", "missing"]
)
async def test_an_unacceptable_key_attestation_is_invalid_proof(
    offers: Offers,
    wallet: Wallet,
    provider: WalletProvider,
    provider_ca: CertificateAuthority,
    case: str,
) -> None:
    """A provider the tenant does not trust, an expired attestation, levels below the
    policy, a proof by a key the attestation does not list, no attestation at all: each
    invalid_proof, and nothing issued."""
    await offers.set_policy(**trusting(provider_ca))
    attesters = {
        "untrusted": WalletProvider(ca=CertificateAuthority.generate("Other Root")).attester(),
        "expired": provider.attester(lifetime=-10),
        "weak-storage": provider.attester(key_storage=[ISO_18045_BASIC]),
        "weak-user-auth": provider.attester(user_authentication=[ISO_18045_BASIC]),
        "not-attested": provider.attester(attested=[KeyPair.generate()]),
        "missing": None,
    }
    created = await offers.create()
    with pytest.raises(FlowFailed) as failed:
        await wallet.collect(created.offer.credential_offer_uri, key_attester=attesters[case])
    assert failed.value.step == "credential"
    assert failed.value.reply.error == "invalid_proof"
    assert list((await offers.get(created.offer.offer_id)).credential_ids) == []


async def test_a_revoked_key_attestation_is_refused(
    offers: Offers,
    wallet: Wallet,
    provider: WalletProvider,
    provider_ca: CertificateAuthority,
    provider_host: ProviderHost,
) -> None:
    """The attestation's status points at the provider's list: revoked there, the proof is
    invalid_proof; another entry that is valid is accepted. The issuer fetched the list."""
    await offers.set_policy(**trusting(provider_ca))
    uri = provider_host.status_list_uri("revocations")
    provider_host.revoke(3, "revocations")
    revoked = await offers.create()
    with pytest.raises(FlowFailed) as failed:
        await wallet.collect(
            revoked.offer.credential_offer_uri,
            key_attester=provider.attester(status=status_reference(uri, 3)),
        )
    assert failed.value.reply.error == "invalid_proof"
    assert "revoked" in (failed.value.reply.error_description or "")
    assert provider_host.fetches["revocations"] >= 1
    valid = await offers.create()
    collected = await wallet.collect(
        valid.offer.credential_offer_uri,
        key_attester=provider.attester(status=status_reference(uri, 4)),
    )
    assert len(await wallet.verify_collected(collected)) == 1


async def test_an_attestation_status_that_cannot_be_checked_refuses_it(
    offers: Offers, wallet: Wallet, provider: WalletProvider, provider_ca: CertificateAuthority
) -> None:
    """A status list nobody serves, or one signed by someone the tenant does not trust:
    the attestation is refused (it may be revoked), never accepted unchecked."""
    await offers.set_policy(**trusting(provider_ca))
    created = await offers.create()
    with pytest.raises(FlowFailed) as failed:
        await wallet.collect(
            created.offer.credential_offer_uri,
            key_attester=provider.attester(
                status=status_reference("https://localhost:1/status-lists/none", 0)
            ),
        )
    assert failed.value.reply.error == "invalid_proof"
    assert "could not be checked" in (failed.value.reply.error_description or "")


async def test_a_status_list_signed_by_a_stranger_refuses_the_attestation(
    offers: Offers,
    wallet: Wallet,
    provider: WalletProvider,
    provider_ca: CertificateAuthority,
    provider_tls: ProviderTls,
) -> None:
    """The list at the attestation's status URI is signed by a provider the tenant does
    not trust: it says nothing, so the attestation is refused."""
    await offers.set_policy(**trusting(provider_ca))
    stranger = WalletProvider(ca=CertificateAuthority.generate("Stranger Root"))
    async with ProviderHost(
        stranger, ssl_context=provider_tls.server_context, host="localhost"
    ) as host:
        uri = host.status_list_uri("stranger")
        created = await offers.create()
        with pytest.raises(FlowFailed) as failed:
            await wallet.collect(
                created.offer.credential_offer_uri,
                key_attester=provider.attester(status=status_reference(uri, 0)),
            )
    assert failed.value.reply.error == "invalid_proof"
    assert host.fetches["stranger"] == 1


# --- wallet attestations -------------------------------------------------------------------


async def test_a_required_wallet_attestation_authenticates_the_wallet(
    offers: Offers, wallet: Wallet, provider: WalletProvider, provider_ca: CertificateAuthority
) -> None:
    """With wallet attestation required, the AS metadata says attest_jwt_client_auth, a
    token request without one is invalid_client (400, RFC 6749 section 5.2), and with one
    the flow completes, the proofs naming the attested client_id as iss."""
    await offers.set_policy(
        wallet_attestation_required=True,
        wallet_provider_certificates=[provider_ca.certificate_pem.encode("ascii")],
    )
    created = await offers.create()
    offer = await wallet.resolve_offer(created.offer.credential_offer_uri)
    _, server = await wallet.discover(offer)
    assert server.raw["token_endpoint_auth_methods_supported"] == ["attest_jwt_client_auth"]
    assert offer.pre_authorized_code is not None
    anonymous = await wallet.token(server, offer.pre_authorized_code)
    assert anonymous.status == 400
    assert anonymous.error == "invalid_client"
    collected = await wallet.collect(
        created.offer.credential_offer_uri, wallet_attestation=provider.wallet_attestation()
    )
    assert len(await wallet.verify_collected(collected)) == 1


@pytest.mark.parametrize("case", ["untrusted", "expired", "revoked", "wrong-pop-key"])
async def test_an_unacceptable_wallet_attestation_is_invalid_client(
    offers: Offers,
    wallet: Wallet,
    provider: WalletProvider,
    provider_ca: CertificateAuthority,
    provider_host: ProviderHost,
    case: str,
) -> None:
    """An attestation by an untrusted provider, expired, revoked on the provider's list,
    or a PoP by another key than the attested one: 400 invalid_client, no token."""
    await offers.set_policy(
        wallet_attestation_required=True,
        wallet_provider_certificates=[provider_ca.certificate_pem.encode("ascii")],
    )
    uri = provider_host.status_list_uri(f"wallets-{case}")
    provider_host.revoke(9, f"wallets-{case}")
    attestation = {
        "untrusted": WalletProvider(ca=CertificateAuthority.generate()).wallet_attestation(),
        "expired": provider.wallet_attestation(lifetime=-10),
        "revoked": provider.wallet_attestation(status=status_reference(uri, 9)),
        "wrong-pop-key": provider.wallet_attestation(),
    }[case]
    created = await offers.create()
    offer = await wallet.resolve_offer(created.offer.credential_offer_uri)
    _, server = await wallet.discover(offer)
    assert offer.pre_authorized_code is not None
    headers = None
    if case == "wrong-pop-key":
        pop = attestation.proof_of_possession(server.issuer, key=KeyPair.generate())
        headers = attestation.headers(server.issuer, pop=pop)
    reply = await wallet.token(
        server,
        offer.pre_authorized_code,
        client_id=attestation.client_id,
        wallet_attestation=None if headers else attestation,
        headers=headers,
    )
    assert reply.status == 400
    assert reply.error == "invalid_client"
    flow_offer = await offers.get(created.offer.offer_id)
    assert flow_offer.state == opb.OFFER_STATE_OFFERED


async def test_a_policy_change_applies_to_the_next_request(
    offers: Offers, wallet: Wallet, provider: WalletProvider, provider_ca: CertificateAuthority
) -> None:
    """A token obtained before key attestations were required: its next credential request
    must carry one (the policy is read per request, not per flow)."""
    created = await offers.create(copies=2)
    flow = await authorized(wallet, created.offer.credential_offer_uri)
    assert (await flow.request()).ok
    await offers.set_policy(**trusting(provider_ca))
    plain = await flow.request()
    assert plain.error == "invalid_proof"
    key = KeyPair.generate()
    nonce = await flow.c_nonce()
    proofs = wallet.jwt_proofs(flow.issuer, [key], nonce, key_attester=provider.attester())
    attested = await flow.request(proofs=proofs)
    assert attested.ok, attested.describe()
