"""DCQL queries (OpenID4VP 1.0 section 6): parsed, validated, bounded, and written back.

A query comes from a relying party and goes into a signed request, so every rule of
sections 6.1 to 6.4 is checked here with an error naming the offending place
(`credentials[1].claims[0].path`), and sizes are bounded before anything is built from
it. Only the formats the verifier can check are accepted: `dc+sd-jwt` and `mso_mdoc`.
Unknown properties are ignored (section 6) and not passed on: the request carries what
the verifier enforces, written back by `to_json`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eudi_connect.core.encoding import json_bytes
from eudi_connect.core.formats import MDOC_FORMAT, SD_JWT_VC_FORMAT
from eudi_connect.errors import InvalidArgumentError
from eudi_connect.reasons import Reason

from .claims_path import ClaimPath, is_path_component, shown

MAX_DCQL_BYTES = 64 * 1024
MAX_CREDENTIAL_QUERIES = 32
MAX_CLAIMS = 64
MAX_OPTIONS = 16
MAX_OPTION_IDS = 32
MAX_CREDENTIAL_SETS = 16
MAX_PATH_COMPONENTS = 16
MAX_VALUES = 64
MAX_TYPE_VALUES = 16
MAX_TRUSTED_AUTHORITIES = 8
MAX_TEXT = 512
FORMATS = (SD_JWT_VC_FORMAT, MDOC_FORMAT)
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class DcqlError(InvalidArgumentError):
    """A DCQL query that breaks section 6; `metadata["path"]` names where."""

    default_reason = Reason.DCQL_INVALID

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"dcql_query.{path}: {problem}" if path else problem)
        self.metadata["path"] = path


@dataclass(frozen=True)
class ClaimQuery:
    """Section 6.3: one claim, optionally restricted to `values`."""

    path: ClaimPath
    id: str | None = None
    values: tuple[str | int | bool, ...] | None = None
    intent_to_retain: bool | None = None  # mso_mdoc only (section B.2.4)


@dataclass(frozen=True)
class TrustedAuthority:
    """Section 6.1.1: a type (`aki`, `etsi_tl`, `openid_federation`) and its values."""

    type: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class CredentialQuery:
    """Section 6.1; `vct_values` (dc+sd-jwt) or `doctype_value` (mso_mdoc) from `meta`."""

    id: str
    format: str
    multiple: bool = False
    vct_values: tuple[str, ...] = ()
    doctype_value: str | None = None
    claims: tuple[ClaimQuery, ...] | None = None
    claim_sets: tuple[tuple[str, ...], ...] | None = None
    trusted_authorities: tuple[TrustedAuthority, ...] = ()
    require_cryptographic_holder_binding: bool = True


@dataclass(frozen=True)
class CredentialSetQuery:
    """Section 6.2: options of credential ids, one of which satisfies the set."""

    options: tuple[tuple[str, ...], ...]
    required: bool = True


@dataclass(frozen=True)
class DcqlQuery:
    credentials: tuple[CredentialQuery, ...]
    credential_sets: tuple[CredentialSetQuery, ...] | None = None

    def credential(self, credential_id: str) -> CredentialQuery | None:
        return next((c for c in self.credentials if c.id == credential_id), None)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.credentials)

    def to_json(self) -> dict[str, Any]:
        """The query as the request object carries it (section 5.1 `dcql_query`)."""
        out: dict[str, Any] = {"credentials": [_credential_json(c) for c in self.credentials]}
        if self.credential_sets is not None:
            out["credential_sets"] = [
                {"options": [list(o) for o in s.options], "required": s.required}
                for s in self.credential_sets
            ]
        return out


def _credential_json(query: CredentialQuery) -> dict[str, Any]:
    meta: dict[str, Any] = (
        {"vct_values": list(query.vct_values)}
        if query.format == SD_JWT_VC_FORMAT
        else {"doctype_value": query.doctype_value}
    )
    out: dict[str, Any] = {"id": query.id, "format": query.format, "meta": meta}
    if query.multiple:
        out["multiple"] = True
    if not query.require_cryptographic_holder_binding:
        out["require_cryptographic_holder_binding"] = False
    if query.trusted_authorities:
        out["trusted_authorities"] = [
            {"type": a.type, "values": list(a.values)} for a in query.trusted_authorities
        ]
    if query.claims is not None:
        out["claims"] = [_claim_json(c) for c in query.claims]
    if query.claim_sets is not None:
        out["claim_sets"] = [list(s) for s in query.claim_sets]
    return out


def _claim_json(claim: ClaimQuery) -> dict[str, Any]:
    out: dict[str, Any] = {"path": list(claim.path)}
    if claim.id is not None:
        out["id"] = claim.id
    if claim.values is not None:
        out["values"] = list(claim.values)
    if claim.intent_to_retain is not None:
        out["intent_to_retain"] = claim.intent_to_retain
    return out


def _no_constant(name: str) -> Any:
    """NaN and Infinity are no JSON (RFC 8259 section 6), though Python reads them."""
    raise DcqlError("", f"dcql_query holds {name}, which is not a JSON number")


def parse_dcql(query: str | bytes | Mapping[str, Any]) -> DcqlQuery:
    """A validated DcqlQuery from JSON text or an already decoded object; DcqlError."""
    value: Any = query
    try:
        if isinstance(query, str | bytes):
            size = len(query)
            value = (
                json.loads(query, parse_constant=_no_constant) if size <= MAX_DCQL_BYTES else None
            )
        else:
            size = len(json_bytes(query))
    except (TypeError, ValueError, RecursionError) as exc:
        raise DcqlError("", "dcql_query is not JSON") from exc
    if size > MAX_DCQL_BYTES:
        raise DcqlError("", f"dcql_query is larger than {MAX_DCQL_BYTES} bytes")
    if not isinstance(value, Mapping):
        raise DcqlError("", "dcql_query must be a JSON object")
    entries = _array(value, "credentials", "", MAX_CREDENTIAL_QUERIES, required=True) or []
    credentials = tuple(_credential(e, f"credentials[{i}]") for i, e in enumerate(entries))
    ids = [c.id for c in credentials]
    for i, credential_id in enumerate(ids):
        if credential_id in ids[:i]:
            raise DcqlError(f"credentials[{i}].id", f"{credential_id!r} is used twice")
    sets = _array(value, "credential_sets", "", MAX_CREDENTIAL_SETS)
    credential_sets = None
    if sets is not None:
        credential_sets = tuple(_set(s, f"credential_sets[{i}]", ids) for i, s in enumerate(sets))
        used = {i for s in credential_sets for o in s.options for i in o}
        for i, credential_id in enumerate(ids):
            if credential_id not in used:
                raise DcqlError(f"credentials[{i}]", f"{credential_id!r} is in no credential set")
    return DcqlQuery(credentials, credential_sets)


def _array(
    parent: Mapping[str, Any], name: str, where: str, limit: int, *, required: bool = False
) -> list[Any] | None:
    """A non-empty array of at most `limit` items, or None when absent and optional."""
    path = f"{where}.{name}" if where else name
    if name not in parent:
        if required:
            raise DcqlError(path, "is required")
        return None
    value = parent[name]
    if not isinstance(value, list) or not value:
        raise DcqlError(path, "must be a non-empty array")
    if len(value) > limit:
        raise DcqlError(path, f"holds more than {limit} items")
    return value


def _text(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
        raise DcqlError(path, f"must be a non-empty string of at most {MAX_TEXT} characters")
    return value


def _identifier(value: Any, path: str) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise DcqlError(path, "must be 1 to 64 letters, digits, '_' or '-'")
    return value


def _flag(parent: Mapping[str, Any], name: str, where: str, default: bool) -> bool:
    value = parent.get(name, default)
    if not isinstance(value, bool):
        raise DcqlError(f"{where}.{name}", "must be a boolean")
    return value


def _credential(entry: Any, where: str) -> CredentialQuery:
    if not isinstance(entry, Mapping):
        raise DcqlError(where, "must be an object")
    credential_id = _identifier(entry.get("id"), f"{where}.id")
    query_format = entry.get("format")
    if query_format not in FORMATS:
        raise DcqlError(f"{where}.format", f"must be one of {', '.join(FORMATS)}")
    meta = entry.get("meta")
    if not isinstance(meta, Mapping):
        raise DcqlError(f"{where}.meta", "is required and must be an object")
    vct_values: tuple[str, ...] = ()
    doctype = None
    if query_format == SD_JWT_VC_FORMAT:  # section B.3.5
        found = _array(meta, "vct_values", f"{where}.meta", MAX_TYPE_VALUES, required=True) or []
        vct_values = tuple(_text(v, f"{where}.meta.vct_values[{i}]") for i, v in enumerate(found))
    else:  # section B.2.3
        doctype = _text(meta.get("doctype_value"), f"{where}.meta.doctype_value")
    claims = _claims(entry, where, query_format == MDOC_FORMAT)
    authorities = _array(entry, "trusted_authorities", where, MAX_TRUSTED_AUTHORITIES) or []
    return CredentialQuery(
        id=credential_id,
        format=query_format,
        multiple=_flag(entry, "multiple", where, False),
        vct_values=vct_values,
        doctype_value=doctype,
        claims=claims,
        claim_sets=_claim_sets(entry, where, claims),
        trusted_authorities=tuple(
            _authority(a, f"{where}.trusted_authorities[{i}]") for i, a in enumerate(authorities)
        ),
        require_cryptographic_holder_binding=_flag(
            entry, "require_cryptographic_holder_binding", where, True
        ),
    )


def _claims(entry: Mapping[str, Any], where: str, mdoc: bool) -> tuple[ClaimQuery, ...] | None:
    entries = _array(entry, "claims", where, MAX_CLAIMS)
    if entries is None:
        return None
    with_sets = "claim_sets" in entry
    claims: list[ClaimQuery] = []
    for i, item in enumerate(entries):
        claim = _claim(item, f"{where}.claims[{i}]", mdoc, with_sets)
        for other in claims:
            if claim.id is not None and claim.id == other.id:
                raise DcqlError(f"{where}.claims[{i}].id", f"{claim.id!r} is used twice")
            if claim.path == other.path:  # section 6.1: never the same claim twice
                raise DcqlError(f"{where}.claims[{i}].path", f"{shown(claim.path)} is repeated")
        claims.append(claim)
    return tuple(claims)


def _claim(item: Any, where: str, mdoc: bool, id_required: bool) -> ClaimQuery:
    if not isinstance(item, Mapping):
        raise DcqlError(where, "must be an object")
    claim_id = None
    if "id" in item or id_required:
        claim_id = _identifier(item.get("id"), f"{where}.id")
    path = _array(item, "path", where, MAX_PATH_COMPONENTS, required=True) or []
    for i, component in enumerate(path):
        if not is_path_component(component) or (isinstance(component, str) and not component):
            raise DcqlError(f"{where}.path[{i}]", "must be a string, null or an index")
    if mdoc and (len(path) != 2 or not all(isinstance(p, str) for p in path)):
        raise DcqlError(f"{where}.path", "must be [namespace, element identifier] for mso_mdoc")
    values = _array(item, "values", where, MAX_VALUES)
    if values is not None:
        for i, value in enumerate(values):
            if not isinstance(value, str | int | bool) or (
                isinstance(value, str) and len(value) > MAX_TEXT
            ):
                raise DcqlError(f"{where}.values[{i}]", "must be a string, integer or boolean")
    retain = None
    if mdoc and "intent_to_retain" in item:
        retain = _flag(item, "intent_to_retain", where, False)
    return ClaimQuery(
        path=tuple(path),
        id=claim_id,
        values=None if values is None else tuple(values),
        intent_to_retain=retain,
    )


def _claim_sets(
    entry: Mapping[str, Any], where: str, claims: tuple[ClaimQuery, ...] | None
) -> tuple[tuple[str, ...], ...] | None:
    options = _array(entry, "claim_sets", where, MAX_OPTIONS)
    if options is None:
        return None
    if claims is None:  # section 6.4.1
        raise DcqlError(f"{where}.claim_sets", "needs claims")
    known = [c.id for c in claims]
    return tuple(
        _option(o, f"{where}.claim_sets[{i}]", known, "claim") for i, o in enumerate(options)
    )


def _option(value: Any, where: str, known: list[Any], kind: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or len(value) > MAX_OPTION_IDS:
        raise DcqlError(where, f"must be a non-empty array of at most {MAX_OPTION_IDS} ids")
    for i, item in enumerate(value):
        if not isinstance(item, str) or item not in known:
            raise DcqlError(f"{where}[{i}]", f"names no {kind} of this query")
    return tuple(value)


def _set(entry: Any, where: str, ids: list[str]) -> CredentialSetQuery:
    if not isinstance(entry, Mapping):
        raise DcqlError(where, "must be an object")
    options = _array(entry, "options", where, MAX_OPTIONS, required=True) or []
    return CredentialSetQuery(
        options=tuple(
            _option(o, f"{where}.options[{i}]", list(ids), "credential")
            for i, o in enumerate(options)
        ),
        required=_flag(entry, "required", where, True),
    )


def _authority(entry: Any, where: str) -> TrustedAuthority:
    if not isinstance(entry, Mapping):
        raise DcqlError(where, "must be an object")
    values = _array(entry, "values", where, MAX_VALUES, required=True) or []
    return TrustedAuthority(
        type=_text(entry.get("type"), f"{where}.type"),
        values=tuple(_text(v, f"{where}.values[{i}]") for i, v in enumerate(values)),
    )
