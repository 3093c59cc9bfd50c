"""DCQL matching: the specification's queries answered right and wrong. Credential sets and
their alternatives, claim sets in order, values, `multiple`, holder binding, trusted
authorities, over-disclosure, credentials not asked for; and a real SD-JWT VC presented
through the holder and verifier code, its disclosed paths resolved for the check.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from eudi_connect.core.jose import SigningKey, generate_p256_key
from eudi_connect.core.oid4vp import (
    MatchFailure,
    Presented,
    disclosed_paths,
    match_query,
    parse_dcql,
)
from eudi_connect.core.sdjwt import (
    issue_sd_jwt_vc,
    make_presentation,
    parse_presentation,
    verify_presentation,
)
from tests.unit import oid4vp_examples as examples
from tests.unit.sdjwt_fixtures import ISSUER, PID_CLAIMS

IDENTITY = "https://credentials.example.com/identity_credential"


def _sd_jwt(
    claims: dict[str, Any],
    *disclosed: tuple[str | int, ...],
    vct: str = IDENTITY,
    holder_bound: bool = True,
) -> Presented:
    return Presented.sd_jwt(vct=vct, claims=claims, disclosed=disclosed, holder_bound=holder_bound)


def _all_disclosed(claims: dict[str, Any], vct: str = IDENTITY) -> Presented:
    """Every top-level claim disclosed (as an issuer making each one disclosable would)."""
    return _sd_jwt(claims, *((name,) for name in claims), vct=vct)


ADDRESS = {"street_address": "42 Market Street", "locality": "Milliways"}
PERSON = {"family_name": "Dent", "given_name": "Arthur", "address": ADDRESS}


def test_simple_query_answered() -> None:
    """The simple example is satisfied by exactly the three claims it asks for."""
    presented = _sd_jwt(
        {**PERSON, "iss": ISSUER, "vct": IDENTITY},
        ("family_name",),
        ("given_name",),
        ("address",),
        ("address", "street_address"),
    )
    result = match_query(parse_dcql(examples.SIMPLE), {"my_credential": [presented]})
    assert result.satisfied
    assert result.accepted == ("my_credential",)
    assert result.credentials["my_credential"].matched


@pytest.mark.parametrize(
    ("presented", "failure"),
    [
        (_sd_jwt({"family_name": "Dent", "given_name": "A"}), MatchFailure.CLAIM_MISSING),
        (_sd_jwt(PERSON, ("birthdate",)), MatchFailure.CLAIM_NOT_REQUESTED),
        (_sd_jwt(PERSON, ("address", "locality")), MatchFailure.CLAIM_NOT_REQUESTED),
        (_sd_jwt(PERSON, vct="https://other.example/pid"), MatchFailure.TYPE_MISMATCH),
        (_sd_jwt(PERSON, holder_bound=False), MatchFailure.HOLDER_BINDING_MISSING),
        (
            Presented.mdoc(doctype=IDENTITY, namespaces={}, holder_bound=True),
            MatchFailure.FORMAT_MISMATCH,
        ),
        (
            Presented.refused(format="dc+sd-jwt", failure="REVOKED", detail="status 1"),
            MatchFailure.VERIFICATION_FAILED,
        ),
    ],
)
def test_simple_query_refusals(presented: Presented, failure: MatchFailure) -> None:
    """A missing claim, one disclosed beyond the query, another type, no holder binding,
    another format or a failed verification each fail the credential and the query."""
    result = match_query(parse_dcql(examples.SIMPLE), {"my_credential": [presented]})
    assert not result.satisfied
    assert result.failure is MatchFailure.QUERY_UNSATISFIED
    assert result.credentials["my_credential"].failure is failure
    assert result.accepted == ()


def test_plain_claims_are_not_over_disclosure() -> None:
    """Claims that are not selectively disclosable (no disclosure) never count against it:
    requesting `address` covers the sub-claims disclosed inside it."""
    query = parse_dcql(
        {
            "credentials": [
                {
                    "id": "c",
                    "format": "dc+sd-jwt",
                    "meta": {"vct_values": [IDENTITY]},
                    "claims": [{"path": ["address"]}],
                }
            ]
        }
    )
    presented = _sd_jwt(PERSON, ("address",), ("address", "locality"))
    assert match_query(query, {"c": [presented]}).satisfied


def test_a_credential_not_asked_for_refuses_the_query() -> None:
    """A vp_token entry under an id the query does not name refuses the whole response."""
    result = match_query(
        parse_dcql(examples.SIMPLE),
        {"my_credential": [_all_disclosed(PERSON)], "extra": [_all_disclosed(PERSON)]},
    )
    assert not result.satisfied
    assert result.failure is MatchFailure.NOT_REQUESTED
    assert result.credentials["extra"].failure is MatchFailure.NOT_REQUESTED


def test_multiple_false_means_one_presentation() -> None:
    """Two presentations for a query without `multiple` fail TOO_MANY_PRESENTATIONS."""
    presented = _sd_jwt(PERSON, ("family_name",))
    result = match_query(parse_dcql(examples.SIMPLE), {"my_credential": [presented, presented]})
    assert result.credentials["my_credential"].failure is MatchFailure.TOO_MANY_PRESENTATIONS


def test_multiple_true_checks_every_presentation() -> None:
    """With `multiple`, all presentations must match; the failing one is named."""
    raw = json.loads(examples.SIMPLE)
    raw["credentials"][0]["multiple"] = True
    query = parse_dcql(raw)
    good = _sd_jwt(PERSON)
    assert match_query(query, {"my_credential": [good, good]}).satisfied
    bad = match_query(query, {"my_credential": [good, _sd_jwt({"family_name": "x"})]})
    assert bad.credentials["my_credential"].detail.startswith("presentation 1:")


MDOC_NAMESPACES = {
    "org.iso.7367.1": {"vehicle_holder": "Arthur Dent"},
    "org.iso.18013.5.1": {"given_name": "Arthur"},
}


def test_mdoc_query_answered_and_over_disclosure() -> None:
    """The simple mdoc example: exactly the two elements; a third element is refused."""
    query = parse_dcql(examples.SIMPLE_MDOC)
    presented = Presented.mdoc(
        doctype="org.iso.7367.1.mVRC", namespaces=MDOC_NAMESPACES, holder_bound=True
    )
    assert match_query(query, {"my_credential": [presented]}).satisfied
    extra: dict[str, dict[str, Any]] = {
        **MDOC_NAMESPACES,
        "org.iso.18013.5.1": {"given_name": "A", "portrait": b""},
    }
    presented = Presented.mdoc(doctype="org.iso.7367.1.mVRC", namespaces=extra, holder_bound=True)
    result = match_query(query, {"my_credential": [presented]})
    assert result.credentials["my_credential"].failure is MatchFailure.CLAIM_NOT_REQUESTED
    assert "portrait" in result.credentials["my_credential"].detail
    other = Presented.mdoc(
        doctype="org.iso.18013.5.1.mDL", namespaces=MDOC_NAMESPACES, holder_bound=True
    )
    assert (
        match_query(query, {"my_credential": [other]}).credentials["my_credential"].failure
        is MatchFailure.TYPE_MISMATCH
    )


def test_all_credentials_required_without_credential_sets() -> None:
    """The multi-credential example needs both its SD-JWT VC and its mdoc."""
    query = parse_dcql(examples.MULTI_CREDENTIALS)
    pid = _sd_jwt(PERSON)
    mdl = Presented.mdoc(
        doctype="org.iso.7367.1.mVRC", namespaces=MDOC_NAMESPACES, holder_bound=True
    )
    assert match_query(query, {"pid": [pid], "mdl": [mdl]}).satisfied
    result = match_query(query, {"pid": [pid]})
    assert not result.satisfied
    assert result.credentials["mdl"].failure is MatchFailure.NOT_PRESENTED
    assert "'mdl'" in result.detail


def _typed(vct: str, *names: str) -> Presented:
    claims = {name: "v" for name in names}
    if "address" in names:
        claims["address"] = ADDRESS  # type: ignore[assignment]
    return _all_disclosed(claims, vct)


PID = _typed(IDENTITY, "given_name", "family_name", "address")
OTHER_PID = _typed("https://othercredentials.example/pid", "given_name", "family_name", "address")
REDUCED_1 = _typed(
    "https://credentials.example.com/reduced_identity_credential", "family_name", "given_name"
)
REDUCED_2 = _typed("https://cred.example/residence_credential", "postal_code", "locality", "region")
REWARDS = _typed("https://company.example/company_rewards", "rewards_number")


@pytest.mark.parametrize(
    ("presented", "satisfied", "chosen"),
    [
        ({"pid": [PID]}, True, (("pid",), None)),
        ({"other_pid": [OTHER_PID]}, True, (("other_pid",), None)),
        (
            {"pid_reduced_cred_1": [REDUCED_1], "pid_reduced_cred_2": [REDUCED_2]},
            True,
            (("pid_reduced_cred_1", "pid_reduced_cred_2"), None),
        ),
        ({"pid": [PID], "nice_to_have": [REWARDS]}, True, (("pid",), ("nice_to_have",))),
        ({"pid_reduced_cred_1": [REDUCED_1]}, False, (None,)),
        ({"nice_to_have": [REWARDS]}, False, (None,)),
    ],
)
def test_credential_set_alternatives(
    presented: dict[str, list[Presented]], satisfied: bool, chosen: tuple[Any, ...]
) -> None:
    """The alternatives example: pid, or other_pid, or both reduced credentials; the
    rewards credential is optional. Half an option is not an option."""
    result = match_query(parse_dcql(examples.CREDENTIALS_ALTERNATIVES), presented)
    assert result.satisfied is satisfied
    assert result.chosen_options == chosen


def test_failing_optional_credential_is_discarded() -> None:
    """An optional credential that fails leaves the query satisfied and is not accepted."""
    broken = Presented.refused(format="dc+sd-jwt", failure="UNTRUSTED_ISSUER")
    result = match_query(
        parse_dcql(examples.CREDENTIALS_ALTERNATIVES), {"pid": [PID], "nice_to_have": [broken]}
    )
    assert result.satisfied
    assert result.accepted == ("pid",)
    assert result.credentials["nice_to_have"].failure is MatchFailure.VERIFICATION_FAILED


def test_complex_mdoc_sets() -> None:
    """The mdoc example: an identity from the photo card and an address from the mDL."""
    photo = Presented.mdoc(
        doctype="org.iso.23220.photoid.1",
        namespaces={"org.iso.18013.5.1": {"given_name": "A", "family_name": "D", "portrait": b"x"}},
        holder_bound=True,
    )
    address = Presented.mdoc(
        doctype="org.iso.18013.5.1.mDL",
        namespaces={"org.iso.18013.5.1": {"resident_address": "x", "resident_country": "GB"}},
        holder_bound=True,
    )
    result = match_query(
        parse_dcql(examples.COMPLEX_MDOC), {"photo_card-id": [photo], "mdl-address": [address]}
    )
    assert result.satisfied
    assert result.chosen_options == (("photo_card-id",), ("mdl-address",))


ALL_ADDRESS_PARTS = {
    "family_name": "Doe",
    "postal_code": "90210",
    "locality": "Beverly Hills",
    "region": "CA",
    "date_of_birth": "1990-01-01",
}


@pytest.mark.parametrize(
    ("names", "claim_set", "failure"),
    [
        (("family_name", "locality", "region", "date_of_birth"), 0, None),
        (("family_name", "postal_code", "date_of_birth"), 1, None),
        (tuple(ALL_ADDRESS_PARTS), None, MatchFailure.CLAIM_NOT_REQUESTED),
        (("family_name", "date_of_birth"), None, MatchFailure.CLAIM_MISSING),
    ],
)
def test_claim_sets_in_order(
    names: tuple[str, ...], claim_set: int | None, failure: MatchFailure | None
) -> None:
    """The claims alternatives example: the first option met that covers what was disclosed
    is the one reported; more than one option's claims is over-disclosure."""
    presented = _all_disclosed({name: ALL_ADDRESS_PARTS[name] for name in names})
    result = match_query(parse_dcql(examples.CLAIMS_ALTERNATIVES), {"pid": [presented]})
    match = result.credentials["pid"]
    assert match.failure is failure
    assert match.claim_set == claim_set
    if failure is MatchFailure.CLAIM_MISSING:
        assert "'locality'" in match.detail  # the first option's first missing claim


@pytest.mark.parametrize(
    ("postal_code", "failure"),
    [
        ("90210", None),
        ("90211", None),
        ("12345", MatchFailure.VALUE_MISMATCH),
        (90210, MatchFailure.VALUE_MISMATCH),
    ],
)
def test_values_match_type_and_value(postal_code: Any, failure: MatchFailure | None) -> None:
    """The value matching example: "90210" matches, 90210 (a number) and "12345" do not."""
    claims = {**PERSON, "family_name": "Doe", "postal_code": postal_code}
    presented = _sd_jwt(claims)
    result = match_query(parse_dcql(examples.VALUE_MATCHING_SIMPLE), {"my_credential": [presented]})
    assert result.credentials["my_credential"].failure is failure


def test_booleans_are_not_integers() -> None:
    """values [1] is not met by true, nor [true] by 1."""
    query = parse_dcql(
        {
            "credentials": [
                {
                    "id": "c",
                    "format": "dc+sd-jwt",
                    "meta": {"vct_values": [IDENTITY]},
                    "claims": [{"path": ["age_over_18"], "values": [True]}],
                }
            ]
        }
    )
    assert match_query(query, {"c": [_sd_jwt({"age_over_18": True})]}).satisfied
    assert not match_query(query, {"c": [_sd_jwt({"age_over_18": 1})]}).satisfied


def test_wildcard_path_and_values() -> None:
    """["nationalities", null] with values ["DE"] is met when any element is "DE", and
    covers the array elements disclosed one by one."""
    query = parse_dcql(
        {
            "credentials": [
                {
                    "id": "c",
                    "format": "dc+sd-jwt",
                    "meta": {"vct_values": [IDENTITY]},
                    "claims": [{"path": ["nationalities", None], "values": ["DE"]}],
                }
            ]
        }
    )
    ok = _sd_jwt({"nationalities": ["FR", "DE"]}, ("nationalities", 0), ("nationalities", 1))
    assert match_query(query, {"c": [ok]}).satisfied
    assert not match_query(query, {"c": [_sd_jwt({"nationalities": ["FR"]})]}).satisfied
    assert not match_query(query, {"c": [_sd_jwt({"nationalities": "DE"})]}).satisfied


def test_no_claims_means_no_selective_disclosure() -> None:
    """A query without claims is met with nothing disclosed; any disclosure is too much."""
    query = parse_dcql(
        {"credentials": [{"id": "c", "format": "dc+sd-jwt", "meta": {"vct_values": [IDENTITY]}}]}
    )
    assert match_query(query, {"c": [_sd_jwt({"iss": ISSUER})]}).satisfied
    result = match_query(query, {"c": [_sd_jwt(PERSON, ("given_name",))]})
    assert result.credentials["c"].failure is MatchFailure.CLAIM_NOT_REQUESTED


def test_holder_binding_can_be_waived() -> None:
    """require_cryptographic_holder_binding false accepts a presentation without one."""
    raw = json.loads(examples.SIMPLE)
    raw["credentials"][0]["require_cryptographic_holder_binding"] = False
    presented = _sd_jwt(PERSON, holder_bound=False)
    assert match_query(parse_dcql(raw), {"my_credential": [presented]}).satisfied


@pytest.mark.parametrize(
    ("authorities", "known", "matched"),
    [
        ([{"type": "aki", "values": ["k1"]}], frozenset({"k1", "k2"}), True),
        ([{"type": "aki", "values": ["k1"]}], frozenset({"k2"}), False),
        ([{"type": "aki", "values": ["k1"]}], None, True),
        (
            [{"type": "aki", "values": ["k1"]}, {"type": "etsi_tl", "values": ["x"]}],
            frozenset(),
            True,
        ),
    ],
)
def test_trusted_authorities_aki(
    authorities: list[dict[str, Any]], known: frozenset[str] | None, matched: bool
) -> None:
    """An `aki` query is checked against the chain's identifiers when they are known; types
    this verifier cannot evaluate leave the decision to its own trust checks."""
    raw = json.loads(examples.SIMPLE)
    raw["credentials"][0]["trusted_authorities"] = authorities
    presented = Presented.sd_jwt(
        vct=IDENTITY, claims=PERSON, disclosed=(), holder_bound=True, authority_key_ids=known
    )
    result = match_query(parse_dcql(raw), {"my_credential": [presented]})
    assert result.satisfied is matched
    if not matched:
        assert result.credentials["my_credential"].failure is MatchFailure.UNTRUSTED_AUTHORITY


def test_disclosed_paths_resolve_against_the_claims() -> None:
    """Dotted paths become pointers; names holding '.' or '[' are found in the claims."""
    claims = {"address": {"street": "x"}, "nationalities": ["DE", "FR"], "a.b": {"c[0]": 1}}
    assert disclosed_paths(claims, ["address", "address.street", "nationalities[1]"]) == {
        ("address",),
        ("address", "street"),
        ("nationalities", 1),
    }
    assert disclosed_paths(claims, ["a.b.c[0]"]) == {("a.b", "c[0]")}
    assert disclosed_paths(claims, ["missing.path"]) == {("missing.path",)}


def test_real_presentation_through_the_verifier() -> None:
    """An SD-JWT VC issued, presented with given_name and nationalities, and verified gives
    disclosed paths that answer a query for exactly those claims and not a smaller one."""
    issuer_key = SigningKey("k1", generate_p256_key())
    credential = issue_sd_jwt_vc(
        PID_CLAIMS,
        disclosable=["given_name", "family_name", "nationalities", "nationalities[]"],
        signing_key=issuer_key,
        issuer=ISSUER,
        vct=IDENTITY,
        issued_at=1_700_000_000,
        expires_at=1_900_000_000,
    )
    presentation = make_presentation(credential, disclose=["given_name", "nationalities"])
    verified = verify_presentation(
        parse_presentation(presentation),
        issuer_key=issuer_key.private_key.public_key(),
        now=1_800_000_000,
    )
    presented = Presented.sd_jwt(
        vct=verified.vct,
        claims=verified.claims,
        disclosed=disclosed_paths(verified.claims, verified.disclosed),
        holder_bound=verified.key_binding_verified,
    )

    def query(*paths: list[Any]) -> Any:
        return parse_dcql(
            {
                "credentials": [
                    {
                        "id": "pid",
                        "format": "dc+sd-jwt",
                        "meta": {"vct_values": [IDENTITY]},
                        "require_cryptographic_holder_binding": False,
                        "claims": [{"path": p} for p in paths],
                    }
                ]
            }
        )

    assert match_query(query(["given_name"], ["nationalities"]), {"pid": [presented]}).satisfied
    smaller = match_query(query(["given_name"]), {"pid": [presented]})
    assert smaller.credentials["pid"].failure is MatchFailure.CLAIM_NOT_REQUESTED
