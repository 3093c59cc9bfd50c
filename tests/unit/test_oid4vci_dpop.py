"""DPoP proofs (RFC 9449 section 4.3) and stateless server nonces."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from eudi_connect.core.encoding import b64url_encode
from eudi_connect.core.jose import jwk_thumbprint
from eudi_connect.core.oid4vci import DpopNonces, ProtocolError, WalletErrorCode
from eudi_connect.core.oid4vci import verify_dpop_proof as verify
from eudi_connect.core.oid4vci.dpop import normalized_htu
from tests.unit.oid4vci_wallet import new_key, public_jwk, sign

NOW = 1_800_000_000
URL = "https://issuer.example/issuers/t1/token"
KEY = new_key()


def proof(
    claims: dict[str, Any] | None = None,
    header: dict[str, Any] | None = None,
    *,
    drop: tuple[str, ...] = (),
) -> str:
    body = {"jti": "j-1", "htm": "POST", "htu": URL, "iat": NOW, **(claims or {})}
    for name in drop:
        del body[name]
    jose_header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": public_jwk(KEY), **(header or {})}
    return sign(KEY, jose_header, body)


def refused(code: WalletErrorCode, token: str | None, **kwargs: Any) -> None:
    with pytest.raises(ProtocolError) as caught:
        verify(token, method="POST", url=URL, now=NOW, **kwargs)
    assert caught.value.code is code


def test_a_good_proof_gives_the_key_thumbprint_and_jti() -> None:
    """A well-formed proof yields the RFC 7638 thumbprint of its key and its jti."""
    checked = verify(proof(), method="POST", url=URL, now=NOW)
    assert checked.jkt == jwk_thumbprint(public_jwk(KEY))
    assert checked.jti == "j-1"


@pytest.mark.parametrize(
    ("claims", "header", "drop"),
    [
        ({"htm": "GET"}, {}, ()),
        ({"htu": "https://issuer.example/issuers/t2/token"}, {}, ()),
        ({"iat": NOW - 3600}, {}, ()),
        ({"iat": NOW + 3600}, {}, ()),
        ({}, {}, ("jti",)),
        ({}, {}, ("iat",)),
        ({}, {"typ": "JWT"}, ()),
        ({}, {"jwk": {**public_jwk(KEY), "d": b64url_encode(b"x" * 32)}}, ()),
        ({}, {"kid": "k"}, ()),
    ],
)
def test_a_proof_that_breaks_a_rule_is_invalid(
    claims: dict[str, Any], header: dict[str, Any], drop: tuple[str, ...]
) -> None:
    """Wrong method, URL, age, typ, a missing claim or a private/extra key are refused."""
    refused(WalletErrorCode.INVALID_DPOP_PROOF, proof(claims, header, drop=drop))


def test_a_missing_proof_is_invalid() -> None:
    """A request without any DPoP header is refused as invalid_dpop_proof."""
    refused(WalletErrorCode.INVALID_DPOP_PROOF, None)


def test_a_proof_signed_by_another_key_is_invalid() -> None:
    """The signature must verify with the key in the proof's own header."""
    other = new_key()
    token = sign(
        other,
        {"typ": "dpop+jwt", "alg": "ES256", "jwk": public_jwk(KEY)},
        {"jti": "j", "htm": "POST", "htu": URL, "iat": NOW},
    )
    refused(WalletErrorCode.INVALID_DPOP_PROOF, token)


def test_query_and_fragment_and_default_port_do_not_matter() -> None:
    """htu is compared without query and fragment, case-folded host, default port dropped."""
    assert normalized_htu("HTTPS://Issuer.Example:443/a?x=1#f") == "https://issuer.example/a"
    verify(proof({"htu": URL + "?q=1"}), method="POST", url=URL, now=NOW)


def test_with_an_access_token_ath_and_binding_are_required() -> None:
    """At a resource, the proof needs the token's ath and the key the token is bound to."""
    token = "at-123"
    ath = b64url_encode(hashlib.sha256(token.encode()).digest())
    jkt = jwk_thumbprint(public_jwk(KEY))
    verify(proof({"ath": ath}), method="POST", url=URL, now=NOW, access_token=token, bound_jkt=jkt)
    refused(
        WalletErrorCode.INVALID_DPOP_PROOF, proof({"ath": "x"}), access_token=token, bound_jkt=jkt
    )
    refused(WalletErrorCode.INVALID_DPOP_PROOF, proof(), access_token=token, bound_jkt=jkt)
    refused(
        WalletErrorCode.INVALID_TOKEN, proof({"ath": ath}), access_token=token, bound_jkt="other"
    )


def test_server_nonces_are_required_when_configured() -> None:
    """Without the current server nonce the wallet is told use_dpop_nonce."""
    nonces = DpopNonces(b"s" * 32, window_seconds=300)
    refused(WalletErrorCode.USE_DPOP_NONCE, proof(), nonces=nonces)
    refused(WalletErrorCode.USE_DPOP_NONCE, proof({"nonce": "made-up"}), nonces=nonces)
    current = nonces.current(now=NOW)
    verify(proof({"nonce": current}), method="POST", url=URL, now=NOW, nonces=nonces)


def test_server_nonces_expire_after_one_more_window() -> None:
    """A nonce stays good through the next window and no longer."""
    nonces = DpopNonces(b"s" * 32, window_seconds=300)
    issued = nonces.current(now=NOW)
    assert nonces.is_current(issued, now=NOW + 300)
    assert not nonces.is_current(issued, now=NOW + 600)
    assert not DpopNonces(b"t" * 32).is_current(issued, now=NOW)
