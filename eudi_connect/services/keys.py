"""Per-tenant issuer keys: created on first use, encrypted at rest, rotated without
breaking credentials already in circulation."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from eudi_connect.core.jose import SigningKey, public_key_from_jwk
from eudi_connect.core.keys import (
    MasterKey,
    decrypt_private_key,
    encrypt_private_key,
    jwks,
    make_key_check,
    new_issuer_key,
    verify_key_check,
)
from eudi_connect.services.issuer_certificates import CertificatePolicy
from eudi_connect.services.public_urls import TenantUrls
from eudi_connect.store.base import IssuerKeyRecord, Store

MASTER_KEY_CHECK = "master_key_check"


async def check_master_key(store: Store, master: MasterKey) -> None:
    """Refuses to start with a master key other than the one the database was made with."""
    stored = await store.get_or_set_meta(MASTER_KEY_CHECK, make_key_check(master))
    verify_key_check(master, stored)


@dataclass(frozen=True)
class _ActiveKey:
    key: SigningKey
    checked_at: float  # when the store last said this key is the active one


class KeyService:
    """Caches the decrypted active key and every public key per tenant in memory.

    Several instances share one store, and any of them (or `keys rotate`) may rotate a
    tenant's key. So the cached active key is trusted for `refresh_seconds` only; then one
    read of the tenant's keys confirms it or picks up the rotation. Until then this
    instance keeps signing with the key it has, which is harmless: a retired key still
    verifies everywhere, as the JWKS keeps listing it.
    """

    def __init__(
        self,
        store: Store,
        master: MasterKey,
        *,
        clock: Callable[[], float] = time.time,
        refresh_seconds: float = 30.0,
        certificates: CertificatePolicy | None = None,
        urls: TenantUrls | None = None,
    ) -> None:
        self._store = store
        self._master = master
        self._clock = clock
        self._refresh_seconds = refresh_seconds
        self._certificates = certificates or CertificatePolicy()
        # Certificates name the tenant's issuer id; making one fixes the tenant's URL.
        self._urls = urls
        self._chains: dict[str, tuple[bytes, ...]] = {}  # kid -> x5chain of that key
        self._active: dict[str, _ActiveKey] = {}
        self._public: dict[str, dict[str, ec.EllipticCurvePublicKey]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def _certificate(self, tenant_id: str, key: SigningKey, now: float) -> bytes:
        issuer_uri = None
        if self._urls is not None:
            issuer_uri = (await self._urls.fixed(tenant_id)).issuer_id(tenant_id)
        return self._certificates.certificate_for(tenant_id, key, now=now, issuer_uri=issuer_uri)

    async def _record_for(self, tenant_id: str, key: SigningKey) -> IssuerKeyRecord:
        now = self._clock()
        certificate = await self._certificate(tenant_id, key, now)
        return IssuerKeyRecord(
            kid=key.kid,
            tenant_id=tenant_id,
            private_key_encrypted=encrypt_private_key(self._master, key),
            public_jwk=key.public_jwk(),
            created_at=int(now),
            certificate=certificate,
        )

    async def certificate_chain(self, tenant_id: str, key: SigningKey) -> tuple[bytes, ...]:
        """The x5chain of one of the tenant's keys: its own certificate (DER).

        A key made before certificates existed gets one now; the store keeps the first one
        any instance made, so every instance hands out the same certificate.
        """
        chain = self._chains.get(key.kid)
        if chain is None:
            record = next(
                (r for r in await self._store.list_issuer_keys(tenant_id) if r.kid == key.kid),
                None,
            )
            certificate = record.certificate if record is not None else None
            if certificate is None:
                made = await self._certificate(tenant_id, key, self._clock())
                certificate = await self._store.set_issuer_key_certificate(key.kid, made)
            chain = (certificate,)
            self._chains[key.kid] = chain
        return chain

    async def x5c(self, tenant_id: str, key: SigningKey) -> tuple[bytes, ...]:
        """What JWS headers (credentials, status list tokens) carry as `x5c`: the key's
        certificate when a CA issued it; nothing for a self-signed one, which HAIP-profile
        verifiers refuse in x5c anyway and others trust by `kid` and the JWKS."""
        if self._certificates.authority is None:
            return ()
        return await self.certificate_chain(tenant_id, key)

    async def issuer_certificates(self, tenant_id: str) -> list[bytes]:
        """Certificates that vouch for the tenant's credentials to verifiers: every key's,
        retired ones included, and the configured authority's."""
        return self._certificates_of(await self._store.list_issuer_keys(tenant_id))

    async def own_certificates(self, tenant_id: str) -> list[bytes]:
        """The certificates of the tenant's own keys, retired ones included, without the
        authority's: what makes a credential the tenant's own. An authority signs every
        tenant's keys, so a chain to it says nothing about which tenant signed."""
        records = await self._store.list_issuer_keys(tenant_id)
        return [r.certificate for r in records if r.certificate is not None]

    async def published_certificates(self, tenant_id: str) -> list[bytes] | None:
        """`issuer_certificates` for anonymous readers (HTTP): never creates a key; None
        when the tenant has none, like `published_jwks`."""
        records = await self._store.list_issuer_keys(tenant_id)
        return self._certificates_of(records) if records else None

    def _certificates_of(self, records: list[IssuerKeyRecord]) -> list[bytes]:
        found = [r.certificate for r in records if r.certificate is not None]
        return [*found, *self._certificates.anchors]

    def _fresh(self, cached: _ActiveKey | None) -> SigningKey | None:
        if cached is None or self._clock() - cached.checked_at >= self._refresh_seconds:
            return None
        return cached.key

    async def signing_key(self, tenant_id: str) -> SigningKey:
        key = self._fresh(self._active.get(tenant_id))
        if key is not None:
            return key
        lock = self._locks.setdefault(tenant_id, asyncio.Lock())
        async with lock:
            cached = self._active.get(tenant_id)
            key = self._fresh(cached)
            if key is None:
                checked_at = self._clock()
                key = await self._load_active_key(tenant_id, cached)
                self._active[tenant_id] = _ActiveKey(key, checked_at)
        return key

    async def _load_active_key(self, tenant_id: str, cached: _ActiveKey | None) -> SigningKey:
        if cached is not None:
            # The tenant has a key: one read tells whether it is still the active one.
            records = await self._store.list_issuer_keys(tenant_id)
            active = next((r for r in records if r.retired_at is None), None)
            if active is not None:
                if active.kid == cached.key.kid:
                    return cached.key
                self._public.pop(tenant_id, None)  # a new public key: reload on next use
                return decrypt_private_key(self._master, active.kid, active.private_key_encrypted)
        stored = await self._store.ensure_active_issuer_key(
            await self._record_for(tenant_id, new_issuer_key())
        )
        return decrypt_private_key(self._master, stored.kid, stored.private_key_encrypted)

    async def public_key(self, tenant_id: str, kid: str) -> ec.EllipticCurvePublicKey | None:
        """The tenant's key with that kid, retired keys included; None when unknown."""
        known = self._public.get(tenant_id)
        if known is None or kid not in known:
            known = await self._load_public_keys(tenant_id)
        return known.get(kid)

    async def _load_public_keys(self, tenant_id: str) -> dict[str, ec.EllipticCurvePublicKey]:
        records = await self._store.list_issuer_keys(tenant_id)
        known = {r.kid: public_key_from_jwk(r.public_jwk) for r in records}
        self._public[tenant_id] = known
        return known

    async def jwks(self, tenant_id: str) -> dict[str, Any]:
        await self.signing_key(tenant_id)
        records = await self._store.list_issuer_keys(tenant_id)
        return jwks(r.public_jwk for r in records)

    async def published_jwks(self, tenant_id: str) -> dict[str, Any] | None:
        """The JWKS for anonymous readers (HTTP): never creates a key; None when the tenant
        has none (unknown, or has not issued anything yet)."""
        records = await self._store.list_issuer_keys(tenant_id)
        return jwks(r.public_jwk for r in records) if records else None

    async def jwks_json(self, tenant_id: str) -> str:
        return json.dumps(await self.jwks(tenant_id), separators=(",", ":"))

    async def rotate(self, tenant_id: str) -> str:
        """Activates a new key; the old one is retired but keeps verifying. Returns the new kid."""
        key = new_issuer_key()
        await self._store.rotate_issuer_key(
            await self._record_for(tenant_id, key), retired_at=int(self._clock())
        )
        self._active[tenant_id] = _ActiveKey(key, self._clock())
        self._public.pop(tenant_id, None)
        return key.kid
