"""A tenant's trust configuration: trusted issuers (JWKS inline or by URL) and X.509
trust anchors; kept in the store, cached here, and turned into keys for verification.

Each instance caches a tenant's configuration for `refresh_seconds` (a change made through
this instance applies at once, one made through another within that time). A JWKS named
by URL is fetched on first use and kept for `jwks_cache_seconds`; a `kid` it does not hold
refetches it, at most once per `jwks_min_refetch_seconds`, so an issuer's key rotation is
picked up without turning every unknown kid into a request.

Both are bounded: a tenant has at most `max_entries` trust entries (the store checks it
with the insert), and at most `max_cached_jwks` key sets (fetched or inline) stay in
memory, the least recently used forgotten first, so no tenant can grow this process by
adding issuers or by verifying credentials that name many of them.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from cryptography import x509

from eudi_connect.core.encoding import b64url_decode, b64url_encode
from eudi_connect.core.trust_material import (
    IssuerKeys,
    JwksError,
    anchor_id,
    certificate_der,
    load_anchors,
    load_certificate,
    load_jwks,
)
from eudi_connect.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError
from eudi_connect.reasons import Reason
from eudi_connect.services.fetch import FetchError, HttpFetcher
from eudi_connect.services.settings import DEFAULT_MAX_TRUST_ENTRIES
from eudi_connect.store.base import Store, TrustEntryKind, TrustEntryRecord

log = logging.getLogger(__name__)

MAX_ISSUER_LENGTH = 2048
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
JWKS_MEDIA_TYPE = "application/jwk-set+json, application/json"


@dataclass(frozen=True)
class TrustedIssuer:
    issuer: str
    jwks: Mapping[str, Any] | None
    jwks_uri: str | None
    created_at: int


@dataclass(frozen=True)
class TrustAnchor:
    anchor_id: str
    certificate: bytes = field(repr=False)
    subject: str
    not_after: int
    created_at: int


@dataclass(frozen=True)
class TrustSnapshot:
    """What one tenant trusts, as loaded at `loaded_at`."""

    issuers: Mapping[str, TrustedIssuer]
    anchors: tuple[x509.Certificate, ...]
    #: `anchors` in DER (what mdoc chains are checked against), encoded once per load.
    anchor_ders: tuple[bytes, ...]
    loaded_at: float


class IssuerKeysUnavailable(Exception):
    """A trusted issuer's JWKS URL gave no usable key set."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class _FetchedJwks:
    keys: IssuerKeys | None
    error: str
    fetched_at: float


def _page(items: list[Any], key: Callable[[Any], str], page_size: int, page_token: str) -> Any:
    """One page of `items` (sorted by `key`) after the id the token names."""
    if page_size < 0 or page_size > MAX_PAGE_SIZE:
        raise InvalidArgumentError(
            f"page_size must be 0 to {MAX_PAGE_SIZE}", reason=Reason.PAGE_SIZE_INVALID
        )
    size = page_size or DEFAULT_PAGE_SIZE
    after = None
    if page_token:
        try:
            after = b64url_decode(page_token).decode("utf-8")
        except ValueError as exc:  # UnicodeDecodeError included
            raise InvalidArgumentError(
                "page_token is not one this service issued", reason=Reason.PAGE_TOKEN_INVALID
            ) from exc
    remaining = [item for item in items if after is None or key(item) > after]
    page = remaining[:size]
    next_token = ""
    if len(remaining) > size:
        next_token = b64url_encode(key(page[-1]).encode("utf-8"))
    return page, next_token


class TrustService:
    def __init__(
        self,
        store: Store,
        fetcher: HttpFetcher,
        *,
        clock: Callable[[], float] = time.time,
        refresh_seconds: float = 30.0,
        max_entries: int = DEFAULT_MAX_TRUST_ENTRIES,
        max_cached_jwks: int = 1024,
    ) -> None:
        if max_entries < 1 or max_cached_jwks < 1:
            raise ValueError("max_entries and max_cached_jwks must be at least 1")
        self._store = store
        self._fetcher = fetcher
        self._clock = clock
        self._refresh_seconds = refresh_seconds
        self._max_entries = max_entries
        self._max_cached_jwks = max_cached_jwks
        self._snapshots: dict[str, TrustSnapshot] = {}
        # jwks_uri -> what it gave; least recently used first
        self._jwks: OrderedDict[str, _FetchedJwks] = OrderedDict()
        self._jwks_locks: dict[str, asyncio.Lock] = {}
        # issuer -> (the snapshot's TrustedIssuer, its inline JWKS parsed); likewise
        self._inline: OrderedDict[str, tuple[TrustedIssuer, IssuerKeys]] = OrderedDict()

    # --- configuration ---------------------------------------------------------------
    async def add_issuer(
        self, tenant_id: str, issuer: str, *, jwks: str = "", jwks_uri: str = ""
    ) -> TrustedIssuer:
        """Trusts `issuer` by an inline JWKS (JSON text) or a JWKS URL, exactly one."""
        if not issuer or len(issuer) > MAX_ISSUER_LENGTH:
            raise InvalidArgumentError(
                f"issuer must be 1 to {MAX_ISSUER_LENGTH} characters", reason=Reason.ISSUER_INVALID
            )
        if bool(jwks) == bool(jwks_uri):
            raise InvalidArgumentError(
                "give the issuer's keys as jwks or jwks_uri, one of them",
                reason=Reason.TRUSTED_ISSUER_KEYS_REQUIRED,
            )
        document: dict[str, Any]
        if jwks:
            try:
                parsed = json.loads(jwks)
                load_jwks(issuer, parsed)
            except (ValueError, RecursionError) as exc:
                raise InvalidArgumentError(
                    f"jwks: {exc}" if isinstance(exc, JwksError) else "jwks is not JSON",
                    reason=Reason.JWKS_INVALID,
                ) from exc
            document = {"jwks": parsed}
        else:
            try:
                self._fetcher.check_url(jwks_uri)
            except FetchError as exc:
                raise InvalidArgumentError(
                    f"jwks_uri: {exc.detail}", reason=Reason.JWKS_URI_INVALID
                ) from exc
            document = {"jwks_uri": jwks_uri}
        record = TrustEntryRecord(
            tenant_id=tenant_id,
            kind="issuer",
            entry_id=issuer,
            document=document,
            created_at=int(self._clock()),
        )
        await self._add(
            record, exists=("the issuer is already trusted", Reason.TRUSTED_ISSUER_EXISTS)
        )
        return _issuer_of(record)

    async def add_anchor(self, tenant_id: str, certificate: bytes) -> TrustAnchor:
        """Adds an X.509 trust anchor given as DER or PEM."""
        try:
            loaded = load_certificate(certificate)
            der = certificate_der(loaded)
            subject = loaded.subject.rfc4514_string()
            not_after = int(loaded.not_valid_after_utc.timestamp())
        except ValueError as exc:
            raise InvalidArgumentError(
                "certificate is not an X.509 certificate in DER or PEM",
                reason=Reason.TRUST_ANCHOR_INVALID,
            ) from exc
        record = TrustEntryRecord(
            tenant_id=tenant_id,
            kind="anchor",
            entry_id=anchor_id(der),
            document={
                "certificate": base64.b64encode(der).decode("ascii"),
                "subject": subject[:1024],
                "not_after": not_after,
            },
            created_at=int(self._clock()),
        )
        await self._add(
            record, exists=("the trust anchor is already there", Reason.TRUST_ANCHOR_EXISTS)
        )
        return _anchor_of(record)

    async def _add(self, record: TrustEntryRecord, *, exists: tuple[str, Reason]) -> None:
        """Raises ResourceExhaustedError (TRUST_ENTRIES_LIMIT) past `max_entries`."""
        try:
            await self._store.add_trust_entry(record, max_entries=self._max_entries)
        except AlreadyExistsError as exc:
            raise AlreadyExistsError(exists[0], reason=exists[1]) from exc
        self._snapshots.pop(record.tenant_id, None)

    async def remove_issuer(self, tenant_id: str, issuer: str) -> None:
        await self._remove(tenant_id, "issuer", issuer, Reason.TRUSTED_ISSUER_NOT_FOUND)

    async def remove_anchor(self, tenant_id: str, anchor: str) -> None:
        await self._remove(tenant_id, "anchor", anchor, Reason.TRUST_ANCHOR_NOT_FOUND)

    async def _remove(
        self, tenant_id: str, kind: TrustEntryKind, entry_id: str, reason: Reason
    ) -> None:
        if not await self._store.delete_trust_entry(tenant_id, kind, entry_id):
            raise NotFoundError(f"no {kind} {entry_id[:64]!r} is configured", reason=reason)
        self._snapshots.pop(tenant_id, None)
        if kind == "issuer":
            self._inline.pop(entry_id, None)

    async def list_issuers(
        self, tenant_id: str, *, page_size: int = 0, page_token: str = ""
    ) -> tuple[list[TrustedIssuer], str]:
        entries = await self._entries(tenant_id, "issuer")
        page, token = _page(entries, lambda e: e.entry_id, page_size, page_token)
        return [_issuer_of(e) for e in page], token

    async def list_anchors(
        self, tenant_id: str, *, page_size: int = 0, page_token: str = ""
    ) -> tuple[list[TrustAnchor], str]:
        entries = await self._entries(tenant_id, "anchor")
        page, token = _page(entries, lambda e: e.entry_id, page_size, page_token)
        return [_anchor_of(e) for e in page], token

    async def _entries(
        self, tenant_id: str, kind: Literal["issuer", "anchor"]
    ) -> list[TrustEntryRecord]:
        return [e for e in await self._store.list_trust_entries(tenant_id) if e.kind == kind]

    # --- for verification --------------------------------------------------------------
    async def snapshot(self, tenant_id: str) -> TrustSnapshot:
        cached = self._snapshots.get(tenant_id)
        if cached is not None and self._clock() - cached.loaded_at < self._refresh_seconds:
            return cached
        loaded_at = self._clock()
        entries = await self._store.list_trust_entries(tenant_id)
        issuers = {e.entry_id: _issuer_of(e) for e in entries if e.kind == "issuer"}
        anchors = load_anchors(_anchor_of(e).certificate for e in entries if e.kind == "anchor")
        snapshot = TrustSnapshot(
            issuers=issuers,
            anchors=anchors,
            anchor_ders=tuple(certificate_der(a) for a in anchors),
            loaded_at=loaded_at,
        )
        self._snapshots[tenant_id] = snapshot
        return snapshot

    async def issuer_keys(self, trusted: TrustedIssuer, kid: object) -> IssuerKeys:
        """The trusted issuer's keys; for a JWKS URL, fetched or cached (see module doc).
        Raises IssuerKeysUnavailable when the URL gives no usable key set."""
        if trusted.jwks is not None:
            return self._inline_keys(trusted)
        assert trusted.jwks_uri is not None
        url = trusted.jwks_uri
        cached = self._jwks.get(url)
        if cached is None or not self._usable(cached, kid):
            lock = self._jwks_locks.setdefault(url, asyncio.Lock())
            async with lock:
                cached = self._jwks.get(url)
                if cached is None or not self._usable(cached, kid):
                    cached = await self._fetch_jwks(trusted.issuer, url, previous=cached)
                    self._jwks[url] = cached
            if not lock.locked():
                self._jwks_locks.pop(url, None)
        _remember(self._jwks, url, cached, self._max_cached_jwks)
        if cached.keys is None:
            raise IssuerKeysUnavailable(cached.error)
        return cached.keys

    def _inline_keys(self, trusted: TrustedIssuer) -> IssuerKeys:
        """An inline JWKS, parsed once per loaded snapshot (which keeps the same
        `TrustedIssuer` until it is reloaded), not once per verification."""
        cached = self._inline.get(trusted.issuer)
        if cached is not None and cached[0] is trusted:
            self._inline.move_to_end(trusted.issuer)
            return cached[1]
        try:
            keys = load_jwks(trusted.issuer, trusted.jwks)
        except JwksError as exc:  # checked when added; a hand-edited row is possible
            raise IssuerKeysUnavailable(f"stored JWKS: {exc}") from exc
        _remember(self._inline, trusted.issuer, (trusted, keys), self._max_cached_jwks)
        return keys

    def _usable(self, cached: _FetchedJwks, kid: object) -> bool:
        settings = self._fetcher.settings
        age = self._clock() - cached.fetched_at
        if cached.keys is None:
            return age < settings.failure_cache_seconds
        if age >= settings.jwks_cache_seconds:
            return False
        knows_kid = bool(cached.keys.candidates(kid))
        return knows_kid or age < settings.jwks_min_refetch_seconds

    async def _fetch_jwks(
        self, issuer: str, url: str, *, previous: _FetchedJwks | None
    ) -> _FetchedJwks:
        settings = self._fetcher.settings
        try:
            fetched = await self._fetcher.get(
                url, accept=JWKS_MEDIA_TYPE, max_bytes=settings.max_jwks_bytes
            )
            keys = load_jwks(issuer, json.loads(fetched.body))
        except FetchError as exc:
            error = f"JWKS at {url[:128]}: {exc.detail}"
        except (ValueError, RecursionError) as exc:
            # What the body held stays in the operator's log: the tenant chose the URL.
            log.info("JWKS at %s is not a usable key set: %s", url[:256], exc)
            error = f"JWKS at {url[:128]}: BAD_RESPONSE: the answer is not a usable key set"
        else:
            return _FetchedJwks(keys, "", self._clock())
        if previous is not None and previous.keys is not None:
            # Stale keys beat none: the issuer's server being down is no reason to refuse.
            return _FetchedJwks(previous.keys, "", self._clock())
        return _FetchedJwks(None, error, self._clock())


def _remember(cache: OrderedDict[str, Any], key: str, value: Any, limit: int) -> None:
    """Stores `value` as the most recently used entry; forgets the least used past `limit`."""
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > limit:
        cache.popitem(last=False)


def _issuer_of(entry: TrustEntryRecord) -> TrustedIssuer:
    jwks = entry.document.get("jwks")
    uri = entry.document.get("jwks_uri")
    return TrustedIssuer(
        issuer=entry.entry_id,
        jwks=jwks if isinstance(jwks, Mapping) else None,
        jwks_uri=uri if isinstance(uri, str) else None,
        created_at=entry.created_at,
    )


def _anchor_of(entry: TrustEntryRecord) -> TrustAnchor:
    document = entry.document
    return TrustAnchor(
        anchor_id=entry.entry_id,
        certificate=base64.b64decode(str(document.get("certificate", ""))),
        subject=str(document.get("subject", "")),
        not_after=int(document.get("not_after", 0)),
        created_at=entry.created_at,
    )
