"""Wallet attestations at the token endpoint (attestation-based client authentication)."""

from __future__ import annotations

from typing import Any

import pytest

from eudi_connect.core.oid4vci import ProtocolError, WalletErrorCode
from eudi_connect.core.oid4vci.client_attestation import verify_client_attestation
from eudi_connect.core.oid4vci.key_proof import AttestationTrust
from tests.unit.oid4vci_wallet import new_key, public_jwk, sign

NOW = 1_800_000_000
AS = "https://eudi.example/issuers/t1"
PROVIDER = new_key()
TRUST = AttestationTrust(keys_by_kid={"wp": PROVIDER.get_op_key("verify")})
INSTANCE = new_key()


def attestation(**claims: Any) -> str:
    body = {
        "iss": "https://wallet-provider.example",
        "sub": "wallet-app",
        "exp": NOW + 3600,
        "cnf": {"jwk": public_jwk(INSTANCE)},
        "wallet_name": "Test Wallet",
        **claims,
    }
    return sign(
        PROVIDER, {"typ": "oauth-client-attestation+jwt", "alg": "ES256", "kid": "wp"}, body
    )


def pop(**claims: Any) -> str:
    body = {"aud": AS, "jti": "p-1", "iat": NOW, **claims}
    return sign(INSTANCE, {"typ": "oauth-client-attestation-pop+jwt", "alg": "ES256"}, body)


def check(attestation_jwt: str | None, pop_jwt: str | None, trust: AttestationTrust = TRUST) -> Any:
    return verify_client_attestation(
        attestation_jwt, pop_jwt, authorization_server=AS, trust=trust, now=NOW
    )


def test_a_valid_attestation_names_the_client_and_the_pop_jti() -> None:
    """The client_id is the attestation's sub; the PoP jti comes back for replay checks."""
    client = check(attestation(), pop())
    assert client.client_id == "wallet-app"
    assert client.pop_jti == "p-1"
    assert client.wallet_name == "Test Wallet"


@pytest.mark.parametrize(
    ("attestation_claims", "pop_claims"),
    [
        ({"exp": NOW - 60}, {}),
        ({"nbf": NOW + 600}, {}),
        ({}, {"aud": "https://other.example"}),
        ({}, {"iat": NOW - 3600}),
        ({}, {"iss": "another-client"}),
        ({"cnf": {"jwk": public_jwk(new_key())}}, {}),
    ],
)
def test_a_broken_attestation_or_pop_is_invalid_client(
    attestation_claims: dict[str, Any], pop_claims: dict[str, Any]
) -> None:
    """Expired, not yet valid, wrong audience, stale PoP, another client, another key."""
    with pytest.raises(ProtocolError) as caught:
        check(attestation(**attestation_claims), pop(**pop_claims))
    assert caught.value.code is WalletErrorCode.INVALID_CLIENT


def test_an_untrusted_provider_or_a_missing_header_is_invalid_client() -> None:
    """Only configured wallet providers count, and both headers are needed."""
    for args in ((attestation(), pop(), AttestationTrust()), (attestation(), None, TRUST)):
        with pytest.raises(ProtocolError) as caught:
            check(*args)
        assert caught.value.code is WalletErrorCode.INVALID_CLIENT
