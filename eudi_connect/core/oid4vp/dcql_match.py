"""Whether verified presentations answer a DCQL query (OpenID4VP 1.0 sections 6.4 and 8.6).

The wallet selects; the verifier checks that the selection is one the query allows:
each presentation of the format, type, holder binding and claims asked for (the first
satisfiable `claim_sets` option), no more than one unless `multiple`, nothing disclosed
beyond the chosen claims, no credential id the query does not name, and every required
credential set answered by an option whose credentials all matched. A presentation that
fails is discarded (section 8.6), so an optional one failing leaves the query satisfied.
`values` are checked too, as a verifier's rule: a claim with another value is one the
query did not ask for.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eudi_connect.core.formats import MDOC_FORMAT, SD_JWT_VC_FORMAT

from .claims_path import ConcretePath, covers, same_value, select, select_mdoc, shown
from .dcql import ClaimQuery, CredentialQuery, DcqlQuery

_INDEX = re.compile(r"\[(\d{1,9})\]")


class MatchFailure(enum.StrEnum):
    NOT_PRESENTED = "NOT_PRESENTED"
    NOT_REQUESTED = "NOT_REQUESTED"  # a credential id the query does not name
    VERIFICATION_FAILED = "VERIFICATION_FAILED"
    TOO_MANY_PRESENTATIONS = "TOO_MANY_PRESENTATIONS"
    FORMAT_MISMATCH = "FORMAT_MISMATCH"
    TYPE_MISMATCH = "TYPE_MISMATCH"
    HOLDER_BINDING_MISSING = "HOLDER_BINDING_MISSING"
    UNTRUSTED_AUTHORITY = "UNTRUSTED_AUTHORITY"
    CLAIM_MISSING = "CLAIM_MISSING"
    VALUE_MISMATCH = "VALUE_MISMATCH"
    CLAIM_NOT_REQUESTED = "CLAIM_NOT_REQUESTED"
    QUERY_UNSATISFIED = "QUERY_UNSATISFIED"  # the query as a whole, not one credential


@dataclass(frozen=True, kw_only=True)
class Presented:
    """One presentation as the verifier saw it; build it with the class methods."""

    format: str
    type: str = ""  # vct or docType
    claims: Mapping[str, Any] = field(default_factory=dict)
    disclosed: frozenset[ConcretePath] = frozenset()
    holder_bound: bool = False
    #: base64url KeyIdentifiers of the AuthorityKeyIdentifiers in the issuer's chain
    #: (section 6.1.1.1); None when the caller does not know them.
    authority_key_ids: frozenset[str] | None = None
    failure: str | None = None  # the verifier refused it, with this reason
    detail: str = ""

    @classmethod
    def sd_jwt(
        cls,
        *,
        vct: str,
        claims: Mapping[str, Any],
        disclosed: Iterable[ConcretePath],
        holder_bound: bool,
        authority_key_ids: frozenset[str] | None = None,
    ) -> Presented:
        """`claims` the processed payload, `disclosed` the paths revealed by disclosures."""
        return cls(
            format=SD_JWT_VC_FORMAT,
            type=vct,
            claims=claims,
            disclosed=frozenset(disclosed),
            holder_bound=holder_bound,
            authority_key_ids=authority_key_ids,
        )

    @classmethod
    def mdoc(
        cls,
        *,
        doctype: str,
        namespaces: Mapping[str, Mapping[str, Any]],
        holder_bound: bool,
        authority_key_ids: frozenset[str] | None = None,
    ) -> Presented:
        """Every issuer-signed element is selectively disclosed, so each counts."""
        disclosed = frozenset(
            (ns, name) for ns, elements in namespaces.items() for name in elements
        )
        return cls(
            format=MDOC_FORMAT,
            type=doctype,
            claims=namespaces,
            disclosed=disclosed,
            holder_bound=holder_bound,
            authority_key_ids=authority_key_ids,
        )

    @classmethod
    def refused(cls, *, format: str, failure: str, detail: str = "") -> Presented:
        return cls(format=format, failure=failure, detail=detail)


@dataclass(frozen=True)
class CredentialMatch:
    credential_id: str
    matched: bool
    presentations: int
    failure: MatchFailure | None = None
    detail: str = ""
    claim_set: int | None = None  # the `claim_sets` option the presentations satisfy


@dataclass(frozen=True)
class QueryMatch:
    satisfied: bool
    credentials: Mapping[str, CredentialMatch]
    #: Per credential set, the option answered (its ids), or None.
    chosen_options: tuple[tuple[str, ...] | None, ...] = ()
    failure: MatchFailure | None = None
    detail: str = ""

    @property
    def accepted(self) -> tuple[str, ...]:
        """The credential ids whose presentations are kept (section 8.6)."""
        if not self.satisfied:
            return ()
        return tuple(i for i, match in self.credentials.items() if match.matched)


def match_query(query: DcqlQuery, presented: Mapping[str, Sequence[Presented]]) -> QueryMatch:
    """The outcome per credential id (those of the query, then any other presented)."""
    results = {c.id: _match_credential(c, presented.get(c.id, ())) for c in query.credentials}
    unrequested = [i for i in presented if i not in results]
    for credential_id in unrequested:
        results[credential_id] = CredentialMatch(
            credential_id,
            False,
            len(presented[credential_id]),
            MatchFailure.NOT_REQUESTED,
            "the query has no credential with this id",
        )
    if unrequested:
        return QueryMatch(
            False,
            results,
            failure=MatchFailure.NOT_REQUESTED,
            detail=f"vp_token holds credential {unrequested[0][:64]!r} the query does not name",
        )
    matched = {i for i, m in results.items() if m.matched}
    if query.credential_sets is None:  # section 6.4.2: every credential is requested
        for credential_id, match in results.items():
            if not match.matched:
                return _unsatisfied(results, (), f"credential {credential_id!r}: {match.detail}")
        return QueryMatch(True, results)
    chosen: list[tuple[str, ...] | None] = []
    for index, credential_set in enumerate(query.credential_sets):
        option = next((o for o in credential_set.options if matched.issuperset(o)), None)
        chosen.append(option)
        if option is None and credential_set.required:
            details = "; ".join(
                f"{i!r}: {results[i].detail}"
                for o in credential_set.options
                for i in o
                if not results[i].matched
            )
            return _unsatisfied(
                results, tuple(chosen), f"credential_sets[{index}] has no option met ({details})"
            )
    return QueryMatch(True, results, tuple(chosen))


def _unsatisfied(
    results: dict[str, CredentialMatch], chosen: tuple[tuple[str, ...] | None, ...], detail: str
) -> QueryMatch:
    return QueryMatch(False, results, chosen, MatchFailure.QUERY_UNSATISFIED, detail[:1024])


def _match_credential(query: CredentialQuery, items: Sequence[Presented]) -> CredentialMatch:
    """All presentations must match; `multiple` false allows exactly one (section 8.1)."""
    count = len(items)
    if not count:
        return CredentialMatch(query.id, False, 0, MatchFailure.NOT_PRESENTED, "not presented")
    if count > 1 and not query.multiple:
        return CredentialMatch(
            query.id,
            False,
            count,
            MatchFailure.TOO_MANY_PRESENTATIONS,
            f"{count} presentations where the query allows one",
        )
    claim_set = None
    for position, item in enumerate(items):
        failure, detail, claim_set = _match_presentation(query, item)
        if failure is not None:
            where = f"presentation {position}: " if count > 1 else ""
            return CredentialMatch(query.id, False, count, failure, where + detail)
    return CredentialMatch(query.id, True, count, claim_set=claim_set)


def _match_presentation(
    query: CredentialQuery, item: Presented
) -> tuple[MatchFailure | None, str, int | None]:
    if item.failure is not None:
        return MatchFailure.VERIFICATION_FAILED, f"{item.failure}: {item.detail}", None
    if item.format != query.format:
        return MatchFailure.FORMAT_MISMATCH, f"format is {item.format!r}, not {query.format}", None
    allowed_types = query.vct_values if query.format == SD_JWT_VC_FORMAT else (query.doctype_value,)
    if item.type not in allowed_types:
        return MatchFailure.TYPE_MISMATCH, f"type {item.type[:128]!r} is not asked for", None
    if query.require_cryptographic_holder_binding and not item.holder_bound:
        return MatchFailure.HOLDER_BINDING_MISSING, "no proof of holder binding", None
    if not _authority_matches(query, item):
        return MatchFailure.UNTRUSTED_AUTHORITY, "no trusted_authorities entry matches", None
    return _match_claims(query, item)


def _authority_matches(query: CredentialQuery, item: Presented) -> bool:
    """Section 6.1.1: one entry matching is enough, so only a query of `aki` entries alone,
    against a chain whose identifiers are known, can be found unmatched here."""
    authorities = query.trusted_authorities
    if not authorities or item.authority_key_ids is None:
        return True
    if any(a.type != "aki" for a in authorities):
        return True
    return any(value in item.authority_key_ids for a in authorities for value in a.values)


def _match_claims(
    query: CredentialQuery, item: Presented
) -> tuple[MatchFailure | None, str, int | None]:
    """Section 6.4.1: the first option met, then nothing disclosed outside it."""
    claims = query.claims or ()
    if query.claim_sets is None:
        options: tuple[tuple[ClaimQuery, ...], ...] = (claims,)
    else:
        by_id = {c.id: c for c in claims}
        options = tuple(tuple(by_id[i] for i in option) for option in query.claim_sets)
    first_failure: tuple[MatchFailure, str] | None = None
    first_extra: ConcretePath | None = None
    for index, option in enumerate(options):
        missing = _missing(option, item)
        if missing is not None:
            if first_failure is None:
                first_failure = missing
            continue
        extra = next(
            (p for p in sorted(item.disclosed, key=repr) if not _requested(p, option)), None
        )
        if extra is None:
            return None, "", None if query.claim_sets is None else index
        if first_extra is None:
            first_extra = extra
    if first_extra is not None:
        return MatchFailure.CLAIM_NOT_REQUESTED, f"claim {shown(first_extra)} is disclosed", None
    failure, detail = first_failure or (MatchFailure.CLAIM_MISSING, "no claims option is met")
    return failure, detail, None


def _missing(option: Sequence[ClaimQuery], item: Presented) -> tuple[MatchFailure, str] | None:
    for claim in option:
        if item.format == MDOC_FORMAT:
            found = select_mdoc(item.claims, claim.path)
        else:
            found = select(item.claims, claim.path)
        if not found:
            return MatchFailure.CLAIM_MISSING, f"claim {shown(claim.path)} is missing"
        if claim.values is not None and not any(same_value(v, claim.values) for v in found):
            return MatchFailure.VALUE_MISMATCH, f"claim {shown(claim.path)} has another value"
    return None


def _requested(disclosed: ConcretePath, option: Sequence[ClaimQuery]) -> bool:
    return any(covers(claim.path, disclosed) for claim in option)


def disclosed_paths(claims: Mapping[str, Any], disclosed: Iterable[str]) -> frozenset[ConcretePath]:
    """The SD-JWT verifier's disclosed paths (`address.street_address`, `nationalities[0]`)
    as pointers, resolved against the processed `claims` so that names holding `.` or `[`
    still come out right. A path that does not resolve stays one opaque name, which no
    query covers unless it names that very string.
    """
    return frozenset(_resolve(claims, text, True) or (text,) for text in disclosed)


def _resolve(node: Any, rest: str, top: bool) -> ConcretePath | None:
    if not rest:
        return ()
    if isinstance(node, list):
        found = _INDEX.match(rest)
        if found is None or int(found.group(1)) >= len(node):
            return None
        index = int(found.group(1))
        tail = _resolve(node[index], rest[found.end() :], False)
        return None if tail is None else (index, *tail)
    if not isinstance(node, Mapping):
        return None
    if not top:
        if not rest.startswith("."):
            return None
        rest = rest[1:]
    candidates = [k for k in node if isinstance(k, str) and k and rest.startswith(k)]
    for key in sorted(candidates, key=len, reverse=True):
        after = rest[len(key) :]
        if after and after[0] not in ".[":
            continue
        tail = _resolve(node[key], after, False)
        if tail is not None:
            return (key, *tail)
    return None
