"""Issuance of SD-JWT VCs (RFC 9901 sections 4.1-4.2, draft-ietf-oauth-sd-jwt-vc section 3).

A pure function of its inputs: the salt source and times are arguments, so the same inputs
give the same bytes up to the ECDSA signature's own randomness.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterator, Mapping, Sequence
from json.encoder import encode_basestring
from typing import Any

from eudi_connect.core.encoding import b64url_encode, compact_json
from eudi_connect.core.jose import ES256, InvalidJwkError, encode_x5c, es256_sign
from eudi_connect.core.signer import Signer
from eudi_connect.core.verdicts import StatusReference

from ._common import (
    ARRAY_DIGEST_KEY,
    RESERVED_NESTED_NAMES,
    RESERVED_TOP_LEVEL_NAMES,
    SD_ALG,
    SD_ALG_KEY,
    SD_JWT_VC_TYP,
    SD_KEY,
)
from .disclosures import (
    SaltSource,
    disclosure_digest,
    json_value,
    pooled_salt,
    random_salt,
    written_array_element_disclosure,
    written_object_disclosure,
)

#: Claims nested deeper than this are refused; verifiers bound their walk the same way.
MAX_CLAIM_DEPTH = 32

_SCALARS = (str, int, float, bool, type(None))
_SD_ALG_MEMBER = f'"{SD_ALG_KEY}":"{SD_ALG}"'


class _PathNode:
    """One level of the compiled `disclosable` paths; never mutated once compiled."""

    __slots__ = ("disclose", "elements", "members")

    def __init__(self) -> None:
        self.disclose = False  # the value reaching this node becomes a Disclosure
        self.members: dict[str, _PathNode] = {}  # object members below this one
        self.elements: _PathNode | None = None  # each element, when the value is an array


def path_segments(path: str) -> Iterator[tuple[str, int]]:
    """Each segment of a `disclosable` path (`a.b`, `a[]`, `a[].b`) as its claim name and
    how many `[]` follow it; ValueError names the first segment that is not one."""
    for segment in path.split("."):
        name = segment
        array_levels = 0
        while name.endswith("[]"):
            name = name[:-2]
            array_levels += 1
        if not name or "[" in name or "]" in name:
            raise ValueError(f"disclosable path {path!r} has an invalid segment {segment!r}")
        yield name, array_levels


@functools.lru_cache(maxsize=512)
def _compile(paths: tuple[str, ...]) -> _PathNode:
    """Turns `a.b`, `a[]`, `a[].b` paths into a tree; cached, as templates reuse a few sets."""
    root = _PathNode()
    for path in paths:
        if not isinstance(path, str) or not path:
            raise ValueError(f"disclosable path must be a non-empty string, got {path!r}")
        node = root
        for depth, (name, array_levels) in enumerate(path_segments(path)):
            reserved = RESERVED_TOP_LEVEL_NAMES if depth == 0 else RESERVED_NESTED_NAMES
            if name in reserved:
                raise ValueError(f"claim {name!r} in path {path!r} cannot be selectively disclosed")
            node = node.members.setdefault(name, _PathNode())
            for _ in range(array_levels):
                if node.elements is None:
                    node.elements = _PathNode()
                node = node.elements
        node.disclose = True
    return root


@functools.lru_cache(maxsize=1024)
def _encoded_header(kid: str, x5c: tuple[bytes, ...] = ()) -> str:
    """The protected header never changes for a key, so it is encoded once per `kid`.

    `x5c` (RFC 7515 section 4.1.6: standard base64 DER, leaf first, the trust anchor left
    out as HAIP asks) lets X.509-based verifiers find the key without our JWKS.
    """
    header: dict[str, Any] = {"typ": SD_JWT_VC_TYP, "alg": ES256, "kid": kid}
    if x5c:
        header["x5c"] = encode_x5c(x5c)
    return b64url_encode(compact_json(header).encode("utf-8"))


#: Where a claim sits, as (parent, segment) links from the top level; turned into text
#: (`a.b[]`) only for an error message, so the walk does not format a path per member.
_Path = tuple[Any, str] | None


def _path_text(path: _Path) -> str:
    segments: list[str] = []
    while path is not None:
        path, segment = path
        segments.append(segment)
    text = ""
    for segment in reversed(segments):
        text = f"{text}{segment}" if segment == "[]" or not text else f"{text}.{segment}"
    return text


class _Concealer:
    """Carries the per-credential state through the recursive walk over the claims.

    The walk writes the payload's JSON text as it goes: a disclosed value is encoded once,
    into its Disclosure, and the clear parts once, into the payload, instead of copying the
    claims into new objects and encoding those afterwards.
    """

    __slots__ = ("disclosures", "next_salt", "salts")

    def __init__(self, salt: SaltSource) -> None:
        # The default source is served from a pool (see pooled_salt): same salts, fewer syscalls.
        self.next_salt: SaltSource = pooled_salt if salt is random_salt else salt
        self.salts: list[str] = []
        self.disclosures: list[str] = []

    def _next_salt(self) -> str:
        value = self.next_salt()
        self.salts.append(value)
        return value

    def members(
        self,
        source: Mapping[str, Any],
        node: _PathNode,
        parts: list[str],
        reserved: frozenset[str],
        path: _Path,
        depth: int,
    ) -> None:
        """Appends the `"name":value` JSON of `source`'s members to `parts`, the members
        `node` marks replaced by one sorted `_sd` array of their digests."""
        digests: list[str] = []
        members = node.members
        disclosures = self.disclosures
        for name, value in source.items():
            if type(name) is not str or name in reserved:
                where = _path_text(path) or "top level"
                raise ValueError(f"claim name {name!r} at {where} is reserved")
            child = members.get(name)
            if child is None:
                if type(value) is not str:  # text, the usual claim, cannot hide `_sd` keys
                    _check_clear(value, depth + 1)
                parts.append(f"{encode_basestring(name)}:{json_value(value)}")
                continue
            if child.members or child.elements is not None or depth + 1 > MAX_CLAIM_DEPTH:
                text = self.value(value, child, (path, name), depth + 1)
            else:
                if type(value) is not str:
                    _check_clear(value, depth + 1)
                text = json_value(value)
            if child.disclose:
                disclosure = written_object_disclosure(self._next_salt(), name, text)
                disclosures.append(disclosure)
                digests.append(disclosure_digest(disclosure))
            else:
                parts.append(f"{encode_basestring(name)}:{text}")
        if digests:
            # RFC 9901 section 4.2.4.1: the order must not reveal the original claim order.
            digests.sort()
            parts.append(_sd_member(digests))

    def value(self, value: Any, node: _PathNode, path: _Path, depth: int) -> str:
        """The JSON of `value` with the disclosable parts below `node` replaced by digests."""
        if depth > MAX_CLAIM_DEPTH:
            raise ValueError(
                f"claim {_path_text(path)!r} nests deeper than {MAX_CLAIM_DEPTH} levels"
            )
        if node.members and isinstance(value, Mapping):
            parts: list[str] = []
            self.members(value, node, parts, RESERVED_NESTED_NAMES, path, depth)
            return f"{{{','.join(parts)}}}"
        elements = node.elements
        if elements is not None and isinstance(value, list | tuple):
            items: list[str] = []
            element_path = (path, "[]")
            for element in value:
                text = self.value(element, elements, element_path, depth + 1)
                if elements.disclose:
                    disclosure = written_array_element_disclosure(self._next_salt(), text)
                    self.disclosures.append(disclosure)
                    # RFC 9901 section 4.2.4.2: {"...": digest}; a digest is base64url text.
                    items.append(f'{{"{ARRAY_DIGEST_KEY}":"{disclosure_digest(disclosure)}"}}')
                else:
                    items.append(text)
            return f"[{','.join(items)}]"
        if node.members or elements is not None:
            kind = "an object" if node.members else "an array"
            raise ValueError(f"disclosable path expects {kind} at {_path_text(path)!r}")
        _check_clear(value, depth)
        return json_value(value)


_SD_OPEN = f'"{SD_KEY}":["'


def _sd_member(digests: list[str]) -> str:
    """The `"_sd":[...]` member; digests are base64url text, which JSON needs not escape."""
    return _SD_OPEN + '","'.join(digests) + '"]'


def _check_clear(value: Any, depth: int) -> None:
    """Refuses `_sd` and `...` keys in claim data (RFC 9901 section 4.1, rule 7).

    Claim data can come from end users through templates; a crafted `_sd` array in a clear
    claim would let them smuggle in claims the issuer never signed.
    """
    if isinstance(value, _SCALARS):
        return
    if depth > MAX_CLAIM_DEPTH:
        raise ValueError(f"claims nest deeper than {MAX_CLAIM_DEPTH} levels")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if type(key) is not str or key in RESERVED_NESTED_NAMES:
                raise ValueError(f"claim name {key!r} is reserved or not a string")
            _check_clear(item, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_clear(item, depth + 1)


def issue_sd_jwt_vc(
    claims: Mapping[str, Any],
    *,
    disclosable: Collection[str],
    signing_key: Signer,
    issuer: str,
    vct: str,
    issued_at: int,
    expires_at: int,
    not_before: int | None = None,
    status: StatusReference | None = None,
    holder_jwk: Mapping[str, Any] | None = None,
    salt: SaltSource = random_salt,
    x5c: Sequence[bytes] | None = None,
) -> str:
    """Signs an SD-JWT VC and returns `<jwt>~<disclosure>~...~` (RFC 9901 section 4).

    `disclosable` holds dot-separated paths from the top level; a segment ending in `[]`
    makes each element of that array disclosable. Paths naming absent claims are skipped.
    Raises ValueError for reserved claim names, paths that do not fit the data, or a salt
    source that repeats itself.
    """
    tree = _compile(tuple(disclosable))
    # The payload's JSON written directly, member by member, in the order iss, iat, exp,
    # nbf, vct, cnf, status, _sd_alg, then the claims (RFC 9901 section 4.1).
    parts = [
        f'"iss":{encode_basestring(issuer)},"iat":{json_value(issued_at)}',
        f'"exp":{json_value(expires_at)}',
    ]
    if not_before is not None:
        parts.append(f'"nbf":{json_value(not_before)}')
    parts.append(f'"vct":{encode_basestring(vct)}')
    if holder_jwk is not None:
        if "d" in holder_jwk:
            raise InvalidJwkError("holder JWK contains private key material ('d')")
        jwk = holder_jwk if isinstance(holder_jwk, dict) else dict(holder_jwk)
        parts.append(f'"cnf":{{"jwk":{compact_json(jwk)}}}')
    if status is not None:
        idx, uri = json_value(status.idx), encode_basestring(status.uri)
        parts.append(f'"status":{{"status_list":{{"idx":{idx},"uri":{uri}}}}}')
    parts.append(_SD_ALG_MEMBER)

    concealer = _Concealer(salt)
    concealer.members(claims, tree, parts, RESERVED_TOP_LEVEL_NAMES, None, 0)
    if len(set(concealer.salts)) != len(concealer.salts):
        raise ValueError("salt source returned the same salt twice (RFC 9901 section 4.2.1)")

    body = b64url_encode(f"{{{','.join(parts)}}}".encode())
    signing_input = f"{_encoded_header(signing_key.kid, tuple(x5c or ()))}.{body}"
    signature = b64url_encode(es256_sign(signing_key, signing_input.encode("ascii")))
    return "~".join([f"{signing_input}.{signature}", *concealer.disclosures, ""])
