"""Tenants and their API keys: creation, the key lifecycle, and authentication of every call.

A tenant holds several keys (each with a label, an optional expiry), so a key can be
replaced without downtime: create the new one, move clients over, revoke the old one.
Verified keys are cached per process, but only for `key_cache_seconds`: after that one
indexed read confirms the key, so a revocation made on any instance (or by the CLI on the
database) is refused everywhere within that bound. Expiry needs no read: the cached entry
carries the time. The last use of a key is recorded coarsely, at most one write per key
per `last_used_interval` seconds and instance, never a write per call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal

from eudi_connect.core.api_keys import (
    check_expiry,
    check_key_id,
    check_label,
    generate_api_key,
    parse_api_key,
    secret_matches,
)
from eudi_connect.errors import InvalidArgumentError, NotFoundError, UnauthenticatedError
from eudi_connect.reasons import Reason
from eudi_connect.services.auth_throttle import AuthThrottle
from eudi_connect.store.base import ApiKeyRecord, Store, TenantRecord

log = logging.getLogger(__name__)

MAX_TENANT_NAME_LENGTH = 200
#: Keys a tenant may hold that are neither revoked nor expired.
MAX_LIVE_KEYS_PER_TENANT = 100
DEFAULT_KEY_CACHE_SECONDS = 5.0
DEFAULT_LAST_USED_INTERVAL = 60.0
INITIAL_KEY_LABEL = "initial"

KeyState = Literal["active", "revoked", "expired"]


@dataclass(frozen=True)
class CreatedTenant:
    tenant_id: str
    name: str
    key_id: str
    api_key: str  # shown once; only its hash is stored


@dataclass(frozen=True)
class CreatedApiKey:
    record: ApiKeyRecord
    api_key: str  # shown once; only its hash is stored


def key_state(record: ApiKeyRecord, now: float) -> KeyState:
    if record.revoked_at is not None:
        return "revoked"
    if record.expires_at is not None and now >= record.expires_at:
        return "expired"
    return "active"


def _utc(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class _Verified:
    """What authentication needs of a stored key; never the secret itself."""

    record: ApiKeyRecord
    checked_at: float  # when the store last confirmed the row


class TenantService:
    """Resolves API keys to tenants (cached for `key_cache_seconds`) and manages the keys."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], float] = time.time,
        throttle: AuthThrottle | None = None,
        key_cache_seconds: float = DEFAULT_KEY_CACHE_SECONDS,
        last_used_interval: float = DEFAULT_LAST_USED_INTERVAL,
        max_live_keys: int = MAX_LIVE_KEYS_PER_TENANT,
    ) -> None:
        if key_cache_seconds < 0:
            raise ValueError("key_cache_seconds must not be negative")
        self._store = store
        self._clock = clock
        self.throttle = throttle or AuthThrottle()
        self.key_cache_seconds = key_cache_seconds
        self._last_used_interval = last_used_interval
        self._max_live_keys = max_live_keys
        # key_id -> the stored row as last read; only ids that exist get an entry.
        self._verified: dict[str, _Verified] = {}
        self._refresh_locks: dict[str, asyncio.Lock] = {}
        self._touched: dict[str, float] = {}  # key_id -> when this process last wrote a use
        self._touches: set[asyncio.Task[None]] = set()

    # --- tenants and keys ----------------------------------------------------------------
    async def create_tenant(self, name: str) -> CreatedTenant:
        name = name.strip()
        if not name or len(name) > MAX_TENANT_NAME_LENGTH:
            raise InvalidArgumentError(
                f"tenant name must be 1 to {MAX_TENANT_NAME_LENGTH} characters",
                reason=Reason.TENANT_NAME_INVALID,
            )
        now = int(self._clock())
        tenant_id = uuid.uuid4().hex
        key = generate_api_key()
        await self._store.create_tenant(
            TenantRecord(tenant_id=tenant_id, name=name, created_at=now),
            ApiKeyRecord(
                key_id=key.key_id,
                tenant_id=tenant_id,
                secret_hash=key.secret_hash,
                created_at=now,
                label=INITIAL_KEY_LABEL,
            ),
        )
        return CreatedTenant(
            tenant_id=tenant_id, name=name, key_id=key.key_id, api_key=key.plaintext
        )

    async def create_api_key(
        self, tenant_id: str, *, label: str = "", expires_at: int | None = None
    ) -> CreatedApiKey:
        """A further key for the tenant; raises NotFoundError for an unknown tenant and
        ResourceExhaustedError(API_KEY_LIMIT) past `max_live_keys` live keys."""
        now = int(self._clock())
        key = generate_api_key()
        record = ApiKeyRecord(
            key_id=key.key_id,
            tenant_id=tenant_id,
            secret_hash=key.secret_hash,
            created_at=now,
            label=check_label(label),
            expires_at=check_expiry(expires_at, now=now),
        )
        await self._store.create_api_key(record, max_live=self._max_live_keys, now=now)
        return CreatedApiKey(record=record, api_key=key.plaintext)

    async def list_api_keys(self, tenant_id: str) -> list[ApiKeyRecord]:
        """Every key of the tenant, revoked and expired ones included, oldest first."""
        if await self._store.get_tenant(tenant_id) is None:
            raise NotFoundError(f"no tenant '{tenant_id[:64]}'", reason=Reason.TENANT_NOT_FOUND)
        return await self._store.list_api_keys(tenant_id)

    async def revoke_api_key(self, tenant_id: str, key_id: str) -> ApiKeyRecord:
        """Revokes the key for good (revoking it again changes nothing); every instance
        refuses it within `key_cache_seconds`, this one at once."""
        record = await self._store.revoke_api_key(
            tenant_id, check_key_id(key_id), int(self._clock())
        )
        if record is None:
            raise NotFoundError(
                f"tenant '{tenant_id[:64]}' has no API key '{key_id}'",
                reason=Reason.API_KEY_NOT_FOUND,
            )
        self._verified.pop(key_id, None)
        return record

    def key_state(self, record: ApiKeyRecord) -> KeyState:
        return key_state(record, self._clock())

    # --- authentication ------------------------------------------------------------------
    async def authenticate(self, api_key: str | None, *, peer: str | None = None) -> str:
        """Returns the tenant id of a valid key; raises UnauthenticatedError otherwise, or
        ResourceExhaustedError once `peer` has failed too often (valid keys still pass)."""
        locked_for = self.throttle.lockout_remaining(peer)
        try:
            return await self._authenticate(api_key, cached_only=locked_for is not None)
        except UnauthenticatedError:
            self.throttle.failed(peer)
            if locked_for is not None:
                raise self.throttle.limited_error(locked_for) from None
            raise

    async def _authenticate(self, api_key: str | None, *, cached_only: bool) -> str:
        if not api_key:
            raise UnauthenticatedError(
                "missing API key: send it in the 'x-api-key' metadata",
                reason=Reason.API_KEY_MISSING,
            )
        key_id, secret = parse_api_key(api_key)
        now = self._clock()
        entry = self._verified.get(key_id)
        if entry is None:
            if cached_only:
                # A locked-out peer's unknown keys cost no store read.
                raise UnauthenticatedError("API key is not valid", reason=Reason.API_KEY_INVALID)
            entry = await self._read(key_id)
        elif now - entry.checked_at >= self.key_cache_seconds:
            entry = await self._refresh(key_id)
        record = entry.record
        if not secret_matches(secret, record.secret_hash):
            raise UnauthenticatedError("API key is not valid", reason=Reason.API_KEY_INVALID)
        # Only the key's holder learns why it no longer works.
        if record.revoked_at is not None:
            raise UnauthenticatedError(
                f"API key {key_id} was revoked at {_utc(record.revoked_at)}",
                reason=Reason.API_KEY_REVOKED,
            )
        if record.expires_at is not None and now >= record.expires_at:
            raise UnauthenticatedError(
                f"API key {key_id} expired at {_utc(record.expires_at)}",
                reason=Reason.API_KEY_EXPIRED,
            )
        self._note_use(record, now)
        return record.tenant_id

    async def _read(self, key_id: str) -> _Verified:
        checked_at = self._clock()
        record = await self._store.get_api_key(key_id)
        if record is None:
            self._verified.pop(key_id, None)
            raise UnauthenticatedError("API key is not valid", reason=Reason.API_KEY_INVALID)
        entry = _Verified(record, checked_at)
        self._verified[key_id] = entry
        return entry

    async def _refresh(self, key_id: str) -> _Verified:
        """One read for all the calls that find the entry stale at once (the lock exists
        only for ids that were found in the store, so guessed ids cannot grow the map)."""
        lock = self._refresh_locks.setdefault(key_id, asyncio.Lock())
        async with lock:
            entry = self._verified.get(key_id)
            if entry is not None and self._clock() - entry.checked_at < self.key_cache_seconds:
                return entry
            return await self._read(key_id)

    def _note_use(self, record: ApiKeyRecord, now: float) -> None:
        """Writes the key's last use in the background when the stored one (this or any
        instance's) is older than `last_used_interval`."""
        last = max(float(record.last_used_at or 0), self._touched.get(record.key_id, 0.0))
        if now - last < self._last_used_interval:
            return
        self._touched[record.key_id] = now
        entry = self._verified.get(record.key_id)
        if entry is not None:
            used = replace(entry.record, last_used_at=int(now))
            self._verified[record.key_id] = replace(entry, record=used)
        task = asyncio.get_running_loop().create_task(self._touch(record.key_id, int(now)))
        self._touches.add(task)
        task.add_done_callback(self._touches.discard)

    async def _touch(self, key_id: str, used_at: int) -> None:
        try:
            await self._store.touch_api_key(key_id, used_at)
        except Exception as error:  # a lost last-use time must never fail a call
            log.warning("could not record the last use of API key %s: %s", key_id, error)

    async def close(self) -> None:
        """Waits (briefly) for last-use writes under way, before the store closes."""
        if self._touches:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.gather(*self._touches, return_exceptions=True), timeout=5.0
                )
