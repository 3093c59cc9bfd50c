"""Tenants and their API keys: creation, and authentication of every call."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from eudi_connect.core.api_keys import generate_api_key, parse_api_key, secret_matches
from eudi_connect.errors import InvalidArgumentError, UnauthenticatedError
from eudi_connect.services.auth_throttle import AuthThrottle
from eudi_connect.store.base import ApiKeyRecord, Store, TenantRecord

MAX_TENANT_NAME_LENGTH = 200


@dataclass(frozen=True)
class CreatedTenant:
    tenant_id: str
    name: str
    api_key: str  # shown once; only its hash is stored


class TenantService:
    """Resolves API keys to tenants; verified keys are cached so most calls skip the store."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], float] = time.time,
        throttle: AuthThrottle | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self.throttle = throttle or AuthThrottle()
        # key_id -> (secret hash, tenant_id); the secret itself is never kept.
        self._verified: dict[str, tuple[bytes, str]] = {}

    async def create_tenant(self, name: str) -> CreatedTenant:
        name = name.strip()
        if not name or len(name) > MAX_TENANT_NAME_LENGTH:
            raise InvalidArgumentError(
                f"tenant name must be 1 to {MAX_TENANT_NAME_LENGTH} characters",
                reason="TENANT_NAME_INVALID",
            )
        now = int(self._clock())
        tenant_id = uuid.uuid4().hex
        key = generate_api_key()
        await self._store.create_tenant(
            TenantRecord(tenant_id=tenant_id, name=name, created_at=now),
            ApiKeyRecord(
                key_id=key.key_id, tenant_id=tenant_id, secret_hash=key.secret_hash, created_at=now
            ),
        )
        return CreatedTenant(tenant_id=tenant_id, name=name, api_key=key.plaintext)

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
                "missing API key: send it in the 'x-api-key' metadata", reason="API_KEY_MISSING"
            )
        key_id, secret = parse_api_key(api_key)
        cached = self._verified.get(key_id)
        if cached is None and cached_only:
            # A locked-out peer's unknown keys cost no store read.
            raise UnauthenticatedError("API key is not valid", reason="API_KEY_INVALID")
        if cached is None:
            record = await self._store.get_api_key(key_id)
            if record is None:
                raise UnauthenticatedError("API key is not valid", reason="API_KEY_INVALID")
            cached = (record.secret_hash, record.tenant_id)
        if not secret_matches(secret, cached[0]):
            raise UnauthenticatedError("API key is not valid", reason="API_KEY_INVALID")
        self._verified[key_id] = cached
        return cached[1]
