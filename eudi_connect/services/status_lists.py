"""Status list indices and tokens.

Indices: each process leases blocks of positions from the store (one write per block) and
maps position p to the list's keyed permutation of p, so indices look random within the
list (herd privacy) and never repeat, across processes and instances too.

Tokens: rebuilt only when the list's version (bumped by every status change) moved or the
cached token is past half its validity; a status change never re-signs a list inline.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from eudi_connect.core.index_permutation import IndexPermutation, new_permutation_key
from eudi_connect.core.status_list import StatusList, build_status_list_token
from eudi_connect.errors import NotFoundError
from eudi_connect.reasons import Reason
from eudi_connect.services.key_backends import STATUS_PURPOSE
from eudi_connect.services.keys import KeyService
from eudi_connect.services.public_urls import TenantUrls
from eudi_connect.services.settings import ServiceSettings
from eudi_connect.store.base import PositionLease, StatusListRecord, Store

STATUS_BITS = 2


@dataclass(frozen=True)
class StatusSlot:
    status_list_id: str
    index: int


class _Lease:
    """The unused rest of one position lease, with its list's permutation."""

    def __init__(self, lease: PositionLease) -> None:
        self.status_list_id = lease.status_list_id
        self.permutation = IndexPermutation(lease.permutation_key, lease.size)
        self.next = lease.start
        self.end = lease.start + lease.count

    def take(self, wanted: int) -> list[StatusSlot]:
        count = min(wanted, self.end - self.next)
        first, self.next = self.next, self.next + count
        return [
            StatusSlot(self.status_list_id, self.permutation.index(p))
            for p in range(first, first + count)
        ]


@dataclass(frozen=True)
class _CachedToken:
    version: int
    built_at: float
    token: str


class StatusListService:
    def __init__(
        self,
        store: Store,
        keys: KeyService,
        settings: ServiceSettings,
        urls: TenantUrls,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._keys = keys
        self._settings = settings
        self._urls = urls
        self._clock = clock
        self._leases: dict[str, _Lease] = {}
        self._lease_locks: dict[str, asyncio.Lock] = {}
        self._tokens: dict[str, _CachedToken] = {}
        self._token_locks: dict[str, asyncio.Lock] = {}

    async def allocate(self, tenant_id: str, count: int = 1) -> list[StatusSlot]:
        """Hands out `count` fresh indices, leasing more positions from the store as needed."""
        slots: list[StatusSlot] = []
        lease = self._leases.get(tenant_id)
        if lease is not None:
            slots = lease.take(count)
            if len(slots) == count:
                return slots
        lock = self._lease_locks.setdefault(tenant_id, asyncio.Lock())
        async with lock:
            while len(slots) < count:
                lease = self._leases.get(tenant_id)
                if lease is None or lease.next >= lease.end:
                    lease = _Lease(await self._lease(tenant_id, count - len(slots)))
                    self._leases[tenant_id] = lease
                slots.extend(lease.take(count - len(slots)))
        return slots

    async def _lease(self, tenant_id: str, wanted: int) -> PositionLease:
        size = self._settings.status_list_size
        return await self._store.lease_positions(
            tenant_id,
            count=max(wanted, self._settings.status_lease_size),
            list_size=size,
            new_list=StatusListRecord(
                status_list_id=uuid.uuid4().hex,
                tenant_id=tenant_id,
                size=size,
                bits=STATUS_BITS,
                permutation_key=new_permutation_key(),
                next_position=0,
                version=0,
                created_at=int(self._clock()),
            ),
        )

    async def token(self, status_list_id: str, *, tenant_id: str | None) -> str:
        """The signed token; `tenant_id` None means a public read (the HTTP endpoint)."""
        record = await self._store.get_status_list(status_list_id)
        if record is None or (tenant_id is not None and record.tenant_id != tenant_id):
            raise NotFoundError(
                f"status list '{status_list_id}' not found", reason=Reason.STATUS_LIST_NOT_FOUND
            )
        cached = self._tokens.get(status_list_id)
        if cached is not None and self._fresh(cached, record.version):
            return cached.token
        lock = self._token_locks.setdefault(status_list_id, asyncio.Lock())
        async with lock:
            cached = self._tokens.get(status_list_id)
            if cached is None or not self._fresh(cached, record.version):
                cached = await self._build(record)
                self._tokens[status_list_id] = cached
        return cached.token

    async def published_token(self, status_list_id: str) -> str | None:
        """What `GET <base>/status-lists/{id}` serves, for any tenant's list; None when
        there is no such list (the endpoint's 404)."""
        try:
            return await self.token(status_list_id, tenant_id=None)
        except NotFoundError:
            return None

    def _fresh(self, cached: _CachedToken, version: int) -> bool:
        age = self._clock() - cached.built_at
        return cached.version >= version and age < self._settings.status_list_validity_seconds / 2

    async def _build(self, record: StatusListRecord) -> _CachedToken:
        # Read the version before the entries: a change landing in between makes the
        # token newer than its version says, which only causes one extra rebuild.
        fresh = await self._store.get_status_list(record.status_list_id)
        version = fresh.version if fresh is not None else record.version
        entries = await self._store.list_status_entries(record.status_list_id)
        status_list = StatusList.from_entries(record.size, entries, bits=record.bits)
        now = self._clock()
        signing_key = await self._keys.signing_key(record.tenant_id, STATUS_PURPOSE)
        urls = await self._urls.fixed(record.tenant_id)
        token = build_status_list_token(
            status_list,
            # The `sub` equals the URI the list's credentials carry (the tenant's fixed base).
            uri=urls.status_list_uri(record.status_list_id),
            issued_at=int(now),
            expires_at=int(now) + self._settings.status_list_validity_seconds,
            ttl=self._settings.status_list_ttl_seconds,
            signing_key=signing_key,
            # The key's CA-issued certificate, so X.509-based (HAIP) verifiers check the
            # list under the same trust as the credentials it serves.
            x5c=await self._keys.x5c(record.tenant_id, signing_key),
        )
        return _CachedToken(version=version, built_at=now, token=token)
