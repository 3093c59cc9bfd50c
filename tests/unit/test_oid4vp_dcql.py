"""DCQL parsing: every query of the specification parses to what it says, is written back
unchanged in meaning, and each rule of OpenID4VP 1.0 section 6 refuses with DCQL_INVALID
and the path of the offending member.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from eudi_connect.core.oid4vp import DcqlError, parse_dcql
from eudi_connect.core.oid4vp.dcql import MAX_CLAIMS, MAX_DCQL_BYTES
from tests.unit import oid4vp_examples as examples

ALL_EXAMPLES = [
    examples.SIMPLE,
    examples.SIMPLE_MDOC,
    examples.MULTI_CREDENTIALS,
    examples.CREDENTIALS_ALTERNATIVES,
    examples.COMPLEX_MDOC,
    examples.CLAIMS_ALTERNATIVES,
    examples.VALUE_MATCHING_SIMPLE,
]


@pytest.mark.parametrize("text", ALL_EXAMPLES)
def test_specification_examples_parse_and_round_trip(text: str) -> None:
    """Each example parses, and what to_json writes parses to the same query."""
    query = parse_dcql(text)
    written = query.to_json()
    assert parse_dcql(json.dumps(written)) == query
    assert [c["id"] for c in written["credentials"]] == [
        c["id"] for c in json.loads(text)["credentials"]
    ]


def test_simple_query_fields() -> None:
    """The simple example: one dc+sd-jwt query for a vct, three claims, defaults applied."""
    query = parse_dcql(examples.SIMPLE)
    (credential,) = query.credentials
    assert credential.id == "my_credential"
    assert credential.format == "dc+sd-jwt"
    assert credential.vct_values == ("https://credentials.example.com/identity_credential",)
    assert credential.multiple is False
    assert credential.require_cryptographic_holder_binding is True
    assert credential.claims is not None
    assert [c.path for c in credential.claims] == [
        ("family_name",),
        ("given_name",),
        ("address", "street_address"),
    ]
    assert query.credential_sets is None


def test_mdoc_and_sets_fields() -> None:
    """The complex mdoc example: doctype values, claim ids and an optional credential set."""
    query = parse_dcql(examples.COMPLEX_MDOC)
    assert query.credential("mdl-id") is not None
    assert query.credential("mdl-id").doctype_value == "org.iso.18013.5.1.mDL"  # type: ignore[union-attr]
    assert query.credential_sets is not None
    first, second = query.credential_sets
    assert first.required is True
    assert first.options == (("mdl-id",), ("photo_card-id",))
    assert second.required is False


def test_claim_sets_and_values() -> None:
    """claim_sets keep their order; values keep their types."""
    query = parse_dcql(examples.CLAIMS_ALTERNATIVES)
    assert query.credentials[0].claim_sets == (("a", "c", "d", "e"), ("a", "b", "e"))
    values = parse_dcql(examples.VALUE_MATCHING_SIMPLE).credentials[0].claims
    assert values is not None
    assert values[0].values == ("Doe",)
    assert values[3].values == ("90210", "90211")


def test_unknown_properties_are_ignored_and_not_written() -> None:
    """Unknown members anywhere are ignored (section 6) and left out of to_json."""
    raw = json.loads(examples.SIMPLE)
    raw["future"] = 1
    raw["credentials"][0]["purpose"] = "x"
    raw["credentials"][0]["claims"][0]["extra"] = True
    query = parse_dcql(raw)
    assert query == parse_dcql(examples.SIMPLE)
    assert "future" not in query.to_json()


def test_optional_members_are_written() -> None:
    """multiple, holder binding, trusted_authorities and intent_to_retain survive to_json."""
    raw = json.loads(examples.SIMPLE_MDOC)
    credential = raw["credentials"][0]
    credential["multiple"] = True
    credential["require_cryptographic_holder_binding"] = False
    credential["trusted_authorities"] = [{"type": "aki", "values": ["s9tIpPmhxdiuNkHMEWNpYim8S8Y"]}]
    credential["claims"][0]["intent_to_retain"] = True
    written = parse_dcql(raw).to_json()["credentials"][0]
    assert written["multiple"] is True
    assert written["require_cryptographic_holder_binding"] is False
    assert written["trusted_authorities"] == credential["trusted_authorities"]
    assert written["claims"][0]["intent_to_retain"] is True


def _broken(text: str, change: Any) -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(text)
    change(raw)
    return raw


def _set(path: list[Any], value: Any) -> Any:
    def change(raw: Any) -> None:
        node = raw
        for key in path[:-1]:
            node = node[key]
        if value is _DELETE:
            del node[path[-1]]
        else:
            node[path[-1]] = value

    return change


_DELETE = object()
CASES = [
    (examples.SIMPLE, ["credentials"], _DELETE, "credentials"),
    (examples.SIMPLE, ["credentials"], [], "credentials"),
    (examples.SIMPLE, ["credentials", 0], "x", "credentials[0]"),
    (examples.SIMPLE, ["credentials", 0, "id"], "my credential", "credentials[0].id"),
    (examples.SIMPLE, ["credentials", 0, "id"], "", "credentials[0].id"),
    (examples.SIMPLE, ["credentials", 0, "format"], "jwt_vc_json", "credentials[0].format"),
    (examples.SIMPLE, ["credentials", 0, "meta"], _DELETE, "credentials[0].meta"),
    (
        examples.SIMPLE,
        ["credentials", 0, "meta", "vct_values"],
        [],
        "credentials[0].meta.vct_values",
    ),
    (
        examples.SIMPLE,
        ["credentials", 0, "meta", "vct_values"],
        [1],
        "credentials[0].meta.vct_values[0]",
    ),
    (examples.SIMPLE_MDOC, ["credentials", 0, "meta"], {}, "credentials[0].meta.doctype_value"),
    (examples.SIMPLE, ["credentials", 0, "multiple"], "yes", "credentials[0].multiple"),
    (
        examples.SIMPLE,
        ["credentials", 0, "require_cryptographic_holder_binding"],
        0,
        "credentials[0].require_cryptographic_holder_binding",
    ),
    (examples.SIMPLE, ["credentials", 0, "claims"], [], "credentials[0].claims"),
    (examples.SIMPLE, ["credentials", 0, "claims", 0, "path"], [], "credentials[0].claims[0].path"),
    (
        examples.SIMPLE,
        ["credentials", 0, "claims", 0, "path"],
        ["a", -1],
        "credentials[0].claims[0].path[1]",
    ),
    (
        examples.SIMPLE,
        ["credentials", 0, "claims", 0, "path"],
        ["a", True],
        "credentials[0].claims[0].path[1]",
    ),
    (
        examples.SIMPLE,
        ["credentials", 0, "claims", 0, "path"],
        ["a", 1.5],
        "credentials[0].claims[0].path[1]",
    ),
    (
        examples.SIMPLE,
        ["credentials", 0, "claims", 1, "path"],
        ["family_name"],
        "credentials[0].claims[1].path",
    ),
    (
        examples.SIMPLE,
        ["credentials", 0, "claims", 0, "values"],
        [],
        "credentials[0].claims[0].values",
    ),
    (
        examples.SIMPLE,
        ["credentials", 0, "claims", 0, "values"],
        [1.5],
        "credentials[0].claims[0].values[0]",
    ),
    (
        examples.SIMPLE,
        ["credentials", 0, "claims", 0, "values"],
        [None],
        "credentials[0].claims[0].values[0]",
    ),
    (
        examples.SIMPLE_MDOC,
        ["credentials", 0, "claims", 0, "path"],
        ["org.iso.7367.1"],
        "credentials[0].claims[0].path",
    ),
    (
        examples.SIMPLE_MDOC,
        ["credentials", 0, "claims", 0, "path"],
        ["ns", None],
        "credentials[0].claims[0].path",
    ),
    (
        examples.SIMPLE_MDOC,
        ["credentials", 0, "claims", 0, "intent_to_retain"],
        "no",
        "credentials[0].claims[0].intent_to_retain",
    ),
    (examples.SIMPLE, ["credentials", 0, "claim_sets"], [["a"]], "credentials[0].claims[0].id"),
    (
        examples.CLAIMS_ALTERNATIVES,
        ["credentials", 0, "claim_sets", 0],
        [],
        "credentials[0].claim_sets[0]",
    ),
    (
        examples.CLAIMS_ALTERNATIVES,
        ["credentials", 0, "claim_sets", 1],
        ["a", "z"],
        "credentials[0].claim_sets[1][1]",
    ),
    (
        examples.CLAIMS_ALTERNATIVES,
        ["credentials", 0, "claims", 1, "id"],
        "a",
        "credentials[0].claims[1].id",
    ),
    (examples.CREDENTIALS_ALTERNATIVES, ["credential_sets"], [], "credential_sets"),
    (
        examples.CREDENTIALS_ALTERNATIVES,
        ["credential_sets", 0, "options"],
        [],
        "credential_sets[0].options",
    ),
    (
        examples.CREDENTIALS_ALTERNATIVES,
        ["credential_sets", 0, "options", 0],
        ["nope"],
        "credential_sets[0].options[0][0]",
    ),
    (
        examples.CREDENTIALS_ALTERNATIVES,
        ["credential_sets", 1, "required"],
        "no",
        "credential_sets[1].required",
    ),
    (examples.CREDENTIALS_ALTERNATIVES, ["credential_sets", 1], _DELETE, "credentials[4]"),
    (examples.MULTI_CREDENTIALS, ["credentials", 1, "id"], "pid", "credentials[1].id"),
    (
        examples.SIMPLE,
        ["credentials", 0, "trusted_authorities"],
        [{"type": "aki"}],
        "credentials[0].trusted_authorities[0].values",
    ),
    (
        examples.SIMPLE,
        ["credentials", 0, "trusted_authorities"],
        [{"values": ["x"]}],
        "credentials[0].trusted_authorities[0].type",
    ),
]


@pytest.mark.parametrize(("text", "path", "value", "where"), CASES)
def test_rule_violations_name_the_offending_member(
    text: str, path: list[Any], value: Any, where: str
) -> None:
    """Each broken rule is DCQL_INVALID with metadata path naming the member."""
    with pytest.raises(DcqlError) as caught:
        parse_dcql(_broken(text, _set(path, value if value is _DELETE else copy.deepcopy(value))))
    assert caught.value.reason == "DCQL_INVALID"
    assert caught.value.metadata["path"] == where
    assert where in caught.value.message


def test_claim_sets_without_claims() -> None:
    """claim_sets without claims is refused (section 6.4.1)."""
    raw = json.loads(examples.SIMPLE)
    del raw["credentials"][0]["claims"]
    raw["credentials"][0]["claim_sets"] = [["a"]]
    with pytest.raises(DcqlError) as caught:
        parse_dcql(raw)
    assert caught.value.metadata["path"] == "credentials[0].claim_sets"


@pytest.mark.parametrize("value", ["[]", "not json", "1", b"\xff", "[" * 100_000])
def test_not_an_object(value: str | bytes) -> None:
    """Text that is not a JSON object, or nests past the parser, is refused by name."""
    with pytest.raises(DcqlError) as caught:
        parse_dcql(value)
    assert caught.value.reason == "DCQL_INVALID"


def test_size_bounds() -> None:
    """Queries over the byte limit, and claim lists over their count, are refused."""
    with pytest.raises(DcqlError, match="larger"):
        parse_dcql(" " * (MAX_DCQL_BYTES + 1))
    raw = json.loads(examples.SIMPLE)
    raw["credentials"][0]["claims"] = [{"path": [f"c{i}"]} for i in range(MAX_CLAIMS + 1)]
    with pytest.raises(DcqlError) as caught:
        parse_dcql(raw)
    assert caught.value.metadata["path"] == "credentials[0].claims"
    raw["credentials"][0]["claims"] = [{"path": ["x" * 70_000]}]
    with pytest.raises(DcqlError, match="larger"):
        parse_dcql(raw)
