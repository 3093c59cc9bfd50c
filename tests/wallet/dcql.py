"""The holder's evaluation of a DCQL query (OpenID4VP 1.0 §6, §7), written from the spec.

The wallet holds credentials (`HeldCredential`: the format, the type, every claim the holder
can show) and answers which of them to present for each Credential Query, and which claims
of each: §6.4.1 for `claims` and `claim_sets` (the first option that can be satisfied),
§6.4.2 for `credentials` and `credential_sets` (every required set, optional ones when they
can be met, nothing when a required one cannot), §7 for claims path pointers (strings select
keys, null every array element, integers an index; mdoc paths are namespace + element), and
§6.3 for `values` (type and value match exactly; mdoc values compared as JSON, RFC 8949
§6.1). A query the wallet cannot answer raises `DcqlUnsatisfied` (`access_denied`, §8.5).
"""

from __future__ import annotations

import base64
import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.wallet.errors import WalletError

SD_JWT_VC = "dc+sd-jwt"
MSO_MDOC = "mso_mdoc"
#: A concrete claim location: keys and array indices from the credential's root.
ClaimPath = tuple[str | int, ...]


class DcqlUnsatisfied(WalletError):
    """The wallet holds nothing that satisfies the query (the spec's `access_denied`)."""

    def __init__(self, description: str) -> None:
        super().__init__("access_denied", description)


class DcqlInvalid(WalletError):
    """The query breaks a rule of §6 (the spec's `invalid_request`)."""

    def __init__(self, description: str) -> None:
        super().__init__("invalid_request", description)


@dataclass(frozen=True)
class HeldCredential:
    """One credential in the wallet, as DCQL sees it.

    `claims` is the SD-JWT VC payload with every disclosure applied, or for an mdoc the
    map namespace -> element identifier -> value. `credential` is the issued form the
    presentation is built from and `holder_key_index` the key it is bound to.
    """

    format: str
    credential: str
    claims: Mapping[str, Any]
    vct: str | None = None
    doctype: str | None = None
    holder_key_index: int = 0
    label: str = ""
    # The key the issuer bound it to: `cnf.jwk` of an SD-JWT VC, the MSO's deviceKey.
    binding: Any = None


@dataclass(frozen=True)
class Selected:
    """One credential chosen for a Credential Query, with the concrete claim paths to show."""

    query_id: str
    held: HeldCredential
    paths: tuple[ClaimPath, ...]
    claim_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Selection:
    """The wallet's answer to a DCQL query: per Credential Query id, what to present."""

    by_query: Mapping[str, tuple[Selected, ...]] = field(default_factory=dict)

    @property
    def query_ids(self) -> list[str]:
        return list(self.by_query)


def _identifier(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise DcqlInvalid(f"{what} is not a non-empty string")
    if not all(c.isascii() and (c.isalnum() or c in "_-") for c in value):
        raise DcqlInvalid(f"{what} {value!r} has characters outside [A-Za-z0-9_-]")
    return value


def check_query(query: Any) -> None:
    """The structural rules of §6.1-§6.3 a wallet relies on before evaluating."""
    if not isinstance(query, Mapping):
        raise DcqlInvalid("dcql_query is not an object")
    credentials = query.get("credentials")
    if not isinstance(credentials, list) or not credentials:
        raise DcqlInvalid("credentials is not a non-empty array")
    ids: set[str] = set()
    for entry in credentials:
        if not isinstance(entry, Mapping):
            raise DcqlInvalid("a Credential Query is not an object")
        query_id = _identifier(entry.get("id"), "a Credential Query id")
        if query_id in ids:
            raise DcqlInvalid(f"Credential Query id {query_id!r} appears twice")
        ids.add(query_id)
        if not isinstance(entry.get("format"), str):
            raise DcqlInvalid(f"{query_id}: format is missing")
        if not isinstance(entry.get("meta"), Mapping):
            raise DcqlInvalid(f"{query_id}: meta is required")
        _check_claims(query_id, entry)
    sets = query.get("credential_sets")
    if sets is not None:
        if not isinstance(sets, list) or not sets:
            raise DcqlInvalid("credential_sets is not a non-empty array")
        for credential_set in sets:
            options = credential_set.get("options") if isinstance(credential_set, Mapping) else None
            if not isinstance(options, list) or not options:
                raise DcqlInvalid("a Credential Set Query has no options")
            for option in options:
                if not isinstance(option, list) or not option or not set(option) <= ids:
                    raise DcqlInvalid(f"option {option!r} names unknown Credential Queries")


def _check_claims(query_id: str, entry: Mapping[str, Any]) -> None:
    claims = entry.get("claims")
    claim_sets = entry.get("claim_sets")
    if claims is None:
        if claim_sets is not None:
            raise DcqlInvalid(f"{query_id}: claim_sets without claims")
        return
    if not isinstance(claims, list) or not claims:
        raise DcqlInvalid(f"{query_id}: claims is not a non-empty array")
    claim_ids: set[str] = set()
    for claim in claims:
        if not isinstance(claim, Mapping):
            raise DcqlInvalid(f"{query_id}: a Claims Query is not an object")
        path = claim.get("path")
        if not isinstance(path, list) or not path:
            raise DcqlInvalid(f"{query_id}: a claims path is not a non-empty array")
        if "id" in claim or claim_sets is not None:
            claim_id = _identifier(claim.get("id"), f"{query_id}: a claim id")
            if claim_id in claim_ids:
                raise DcqlInvalid(f"{query_id}: claim id {claim_id!r} appears twice")
            claim_ids.add(claim_id)
    if claim_sets is not None:
        if not isinstance(claim_sets, list) or not claim_sets:
            raise DcqlInvalid(f"{query_id}: claim_sets is not a non-empty array")
        for option in claim_sets:
            if not isinstance(option, list) or not set(option) <= claim_ids:
                raise DcqlInvalid(f"{query_id}: claim set {option!r} names unknown claims")


# -- Claims path pointers (§7) -------------------------------------------------------------


def resolve_json_path(root: Mapping[str, Any], pointer: Sequence[Any]) -> list[ClaimPath]:
    """§7.1.1: the concrete paths a pointer selects in a JSON credential (empty: none)."""
    selected: list[tuple[ClaimPath, Any]] = [((), root)]
    for component in pointer:
        following: list[tuple[ClaimPath, Any]] = []
        for path, element in selected:
            if isinstance(component, str):
                if not isinstance(element, Mapping):
                    return []
                if component in element:
                    following.append(((*path, component), element[component]))
            elif component is None:
                if not isinstance(element, list):
                    return []
                following.extend(((*path, i), value) for i, value in enumerate(element))
            elif isinstance(component, int) and not isinstance(component, bool) and component >= 0:
                if not isinstance(element, list):
                    return []
                if component < len(element):
                    following.append(((*path, component), element[component]))
            else:
                return []
        selected = following
    return [path for path, _value in selected]


def value_at(root: Mapping[str, Any], path: ClaimPath) -> Any:
    value: Any = root
    for component in path:
        value = value[component]
    return value


def as_json_value(value: Any) -> Any:
    """An mdoc element value as JSON (RFC 8949 §6.1): byte strings as base64url, dates as
    their ISO text, tagged values as their content."""
    if isinstance(value, bytes):
        return base64.urlsafe_b64encode(value).rstrip(b"=").decode()
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    tag_value = getattr(value, "value", None)
    if type(value).__name__ == "CBORTag":
        return as_json_value(tag_value)
    if isinstance(value, Mapping):
        return {str(k): as_json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_json_value(v) for v in value]
    return value


def _same_value(claim: Any, expected: Any) -> bool:
    """§6.3: the type and the value both match (True is not 1)."""
    return type(claim) is type(expected) and claim == expected


def _claim_paths(held: HeldCredential, claim: Mapping[str, Any]) -> list[ClaimPath]:
    """The concrete paths one Claims Query selects in `held`, `values` applied (§6.4.1)."""
    pointer = claim["path"]
    if held.format == MSO_MDOC:
        if len(pointer) != 2 or not all(isinstance(p, str) for p in pointer):
            return []
        namespace = held.claims.get(pointer[0])
        if not isinstance(namespace, Mapping) or pointer[1] not in namespace:
            return []
        paths: list[ClaimPath] = [(pointer[0], pointer[1])]
        root: Mapping[str, Any] = {
            ns: {k: as_json_value(v) for k, v in items.items()} for ns, items in held.claims.items()
        }
    else:
        paths = resolve_json_path(held.claims, pointer)
        root = held.claims
    values = claim.get("values")
    if values is not None:
        paths = [p for p in paths if any(_same_value(value_at(root, p), v) for v in values)]
    return paths


def _meta_matches(held: HeldCredential, entry: Mapping[str, Any]) -> bool:
    meta = entry.get("meta", {})
    if held.format != entry.get("format"):
        return False
    if held.format == SD_JWT_VC and "vct_values" in meta:
        return held.vct in meta["vct_values"]
    if held.format == MSO_MDOC and "doctype_value" in meta:
        return bool(held.doctype == meta["doctype_value"])
    return True


def _select_claims(
    held: HeldCredential, entry: Mapping[str, Any]
) -> tuple[tuple[ClaimPath, ...], tuple[str, ...]] | None:
    """The claims to show for `entry` from `held`, or None when it cannot answer (§6.4.1)."""
    claims = entry.get("claims")
    if claims is None:
        return (), ()
    resolved = [_claim_paths(held, claim) for claim in claims]
    claim_sets = entry.get("claim_sets")
    if claim_sets is None:
        if any(not paths for paths in resolved):
            return None
        return tuple(p for paths in resolved for p in paths), ()
    by_id = {claim["id"]: paths for claim, paths in zip(claims, resolved, strict=True)}
    for option in claim_sets:
        if all(by_id[claim_id] for claim_id in option):
            return tuple(p for claim_id in option for p in by_id[claim_id]), tuple(option)
    return None


def _candidates(entry: Mapping[str, Any], held: Sequence[HeldCredential]) -> list[Selected]:
    chosen: list[Selected] = []
    for credential in held:
        if not _meta_matches(credential, entry):
            continue
        claims = _select_claims(credential, entry)
        if claims is not None:
            chosen.append(Selected(str(entry["id"]), credential, claims[0], claims[1]))
    if not entry.get("multiple", False):
        return chosen[:1]
    return chosen


def evaluate(query: Mapping[str, Any], held: Sequence[HeldCredential]) -> Selection:
    """What to present for `query` from `held` (§6.4), or `DcqlUnsatisfied`."""
    check_query(query)
    candidates = {str(entry["id"]): _candidates(entry, held) for entry in query["credentials"]}
    sets = query.get("credential_sets")
    if sets is None:
        missing = [query_id for query_id, found in candidates.items() if not found]
        if missing:
            raise DcqlUnsatisfied(f"nothing held answers {', '.join(missing)}")
        return Selection({k: tuple(v) for k, v in candidates.items()})
    wanted: list[str] = []
    for credential_set in sets:
        option = next((o for o in credential_set["options"] if all(candidates[i] for i in o)), None)
        if option is None:
            if credential_set.get("required", True):
                raise DcqlUnsatisfied(f"no option of {credential_set['options']!r} can be met")
            continue
        wanted.extend(i for i in option if i not in wanted)
    return Selection({query_id: tuple(candidates[query_id]) for query_id in wanted})
