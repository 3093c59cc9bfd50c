"""Credential Offers and transaction codes (OpenID4VCI 1.0 sections 4.1 and 6.1)."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from eudi_connect.core.oid4vci import (
    PRE_AUTHORIZED_GRANT,
    TxCodePolicy,
    credential_offer,
    make_tx_code,
    offer_uri_by_reference,
    offer_uri_by_value,
    tx_code_matches,
)
from eudi_connect.core.oid4vci.offer import wallets_accept_issuer
from eudi_connect.errors import InvalidArgumentError

ISSUER = "https://issuer.example/issuers/t1"


def test_an_offer_names_issuer_configurations_and_grant() -> None:
    """The offer object carries the three parameters of section 4.1.1."""
    offer = credential_offer(
        credential_issuer=ISSUER,
        credential_configuration_ids=["pid-sd-jwt"],
        pre_authorized_code="code-1",
        tx_code=TxCodePolicy(length=6, description="sent by SMS"),
    )
    assert offer == {
        "credential_issuer": ISSUER,
        "credential_configuration_ids": ["pid-sd-jwt"],
        "grants": {
            PRE_AUTHORIZED_GRANT: {
                "pre-authorized_code": "code-1",
                "tx_code": {"input_mode": "numeric", "length": 6, "description": "sent by SMS"},
            }
        },
    }


def test_an_offer_needs_distinct_configurations() -> None:
    """An empty or repeated configuration list is refused."""
    for ids in ([], ["a", "a"]):
        with pytest.raises(InvalidArgumentError):
            credential_offer(
                credential_issuer=ISSUER, credential_configuration_ids=ids, pre_authorized_code="c"
            )


def test_offer_uris_parse_back_with_a_standard_url_parser() -> None:
    """Both URI forms decode to the offer (by value) or its URL (by reference)."""
    offer = credential_offer(
        credential_issuer=ISSUER, credential_configuration_ids=["x"], pre_authorized_code="c&d"
    )
    by_value = urlsplit(offer_uri_by_value(offer))
    assert by_value.scheme == "openid-credential-offer"
    assert json.loads(parse_qs(by_value.query)["credential_offer"][0]) == offer
    by_reference = urlsplit(offer_uri_by_reference(ISSUER + "/offers/o-1?x=1"))
    assert parse_qs(by_reference.query)["credential_offer_uri"] == [ISSUER + "/offers/o-1?x=1"]


@pytest.mark.parametrize(("mode", "alphabet"), [("numeric", "0123456789"), ("text", None)])
def test_transaction_codes_have_the_asked_length_and_alphabet(
    mode: str, alphabet: str | None
) -> None:
    """Codes are as long as the policy says and drawn from its character set."""
    policy = TxCodePolicy(length=8, input_mode=mode)  # type: ignore[arg-type]
    codes = {make_tx_code(policy) for _ in range(50)}
    assert all(len(code) == 8 for code in codes)
    assert len(codes) > 40  # random, not a constant
    if alphabet:
        assert all(set(code) <= set(alphabet) for code in codes)


def test_transaction_code_policies_are_bounded() -> None:
    """Too short or long a code, an unknown mode or a long description is refused."""
    for kwargs in (
        {"length": 3},
        {"length": 13},
        {"input_mode": "emoji"},
        {"description": "x" * 301},
    ):
        with pytest.raises(InvalidArgumentError):
            TxCodePolicy(**kwargs)


def test_transaction_codes_compare_exactly() -> None:
    """Only the exact code matches; a missing one never does."""
    assert tx_code_matches("493536", "493536")
    assert not tx_code_matches("493537", "493536")
    assert not tx_code_matches("49353", "493536")
    assert not tx_code_matches(None, "493536")


@pytest.mark.parametrize(
    ("identifier", "accepted"),
    [
        ("https://issuer.example/issuers/t", True),
        ("http://127.0.0.1:8080/issuers/t", True),
        ("http://localhost:8080/issuers/t", True),
        ("http://[::1]:8080/issuers/t", True),
        ("http://issuer.example/issuers/t", False),
        ("http://10.0.0.1/issuers/t", False),
        ("ftp://issuer.example/issuers/t", False),
    ],
)
def test_which_issuer_identifiers_wallets_accept(identifier: str, accepted: bool) -> None:
    """https anywhere, http on loopback only."""
    assert wallets_accept_issuer(identifier) is accepted
