"""Per-tenant issuer keys, one active key per purpose: created on first use (in the
backend the tenant's key settings name), rotated by hand or when they reach the tenant's
maximum age, and published until the last thing they signed has expired."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from eudi_connect.core.encoding import ascii_json
from eudi_connect.core.jose import public_key_from_jwk
from eudi_connect.core.key_encryption import MasterKey, jwks, make_key_check, verify_key_check
from eudi_connect.core.signer import Signer
from eudi_connect.errors import EudiConnectError
from eudi_connect.monitoring.key_lifetimes import KeyLifetime, publish_key_lifetimes
from eudi_connect.services.issuer_certificates import CertificatePolicy
from eudi_connect.services.key_backends import (
    CREDENTIAL_PURPOSE,
    STATUS_PURPOSE,
    KeyBackends,
    NewKey,
    check_purpose,
    check_settings,
)
from eudi_connect.services.key_schedule import (
    due_for_rotation,
    grace_seconds,
    lifetimes,
    needs_publication_end,
    publication_end,
)
from eudi_connect.services.public_urls import TenantUrls
from eudi_connect.store.base import IssuerKeyRecord, KeySettingsRecord, Store
from eudi_connect.store.checks import tenant_not_found

MASTER_KEY_CHECK = "master_key_check"
log = logging.getLogger(__name__)


async def check_master_key(store: Store, master: MasterKey) -> None:
    """Refuses to start with a master key other than the one the database was made with."""
    stored = await store.get_or_set_meta(MASTER_KEY_CHECK, make_key_check(master))
    verify_key_check(master, stored)


@dataclass(frozen=True)
class _ActiveKey:
    key: Signer
    checked_at: float  # when the store last said this key is the active one


class KeyService:
    """Caches the active key of each tenant and purpose, and every public key, in memory.

    Several instances share one store, and any of them (or `keys rotate`) may rotate a
    tenant's key. So a cached active key is trusted for `refresh_seconds` only; then one
    read of the tenant's keys confirms it or picks up the rotation. Until then this
    instance keeps signing with the key it has, which is harmless: a retired key still
    verifies everywhere, as the JWKS keeps listing it.

    Status list tokens are signed by the tenant's status key when its settings give it one
    (in a backend of their own, if they like), else by its credential key.
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
        status_token_validity_seconds: int = 86_400,
        warning_seconds: int = 7 * 86_400,
    ) -> None:
        self._store = store
        self._backends = KeyBackends(master)
        self._clock = clock
        self._refresh_seconds = refresh_seconds
        self._certificates = certificates or CertificatePolicy()
        # Certificates name the tenant's issuer id; making one fixes the tenant's URL.
        self._urls = urls
        self._status_token_validity = status_token_validity_seconds
        self._warning_seconds = warning_seconds
        self._chains: dict[str, tuple[bytes, ...]] = {}  # kid -> x5chain of that key
        self._active: dict[tuple[str, str], _ActiveKey] = {}
        self._public: dict[str, dict[str, ec.EllipticCurvePublicKey]] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    # --- making keys -------------------------------------------------------------------
    async def _certificate(self, tenant_id: str, key: Signer, now: float) -> bytes:
        issuer_uri = None
        if self._urls is not None:
            issuer_uri = (await self._urls.fixed(tenant_id)).issuer_id(tenant_id)
        return self._certificates.certificate_for(tenant_id, key, now=now, issuer_uri=issuer_uri)

    async def _settings_of(self, tenant_id: str, purpose: str) -> KeySettingsRecord | None:
        settings = await self._store.list_key_settings(tenant_id)
        return next((s for s in settings if s.purpose == purpose), None)

    async def _new_record(
        self, tenant_id: str, purpose: str, settings: KeySettingsRecord | None = None
    ) -> tuple[NewKey, IssuerKeyRecord]:
        """A new key where `settings` (default: the stored ones) say, and its record."""
        if settings is None:
            settings = await self._settings_of(tenant_id, purpose)
        new = await self._backends.new_key(settings)
        now = self._clock()
        try:
            certificate = await self._certificate(tenant_id, new.signer, now)
        except BaseException:
            await self._backends.discard(new)
            raise
        record = IssuerKeyRecord(
            kid=new.signer.kid,
            tenant_id=tenant_id,
            private_key_encrypted=new.private_key_encrypted,
            public_jwk=new.signer.public_jwk(),
            created_at=int(now),
            certificate=certificate,
            purpose=purpose,
            backend=new.backend,
            key_ref=new.key_ref,
        )
        return replace(new, signer=self._backends.open(record)), record

    # --- certificates ------------------------------------------------------------------
    async def certificate_chain(self, tenant_id: str, key: Signer) -> tuple[bytes, ...]:
        """The x5chain of one of the tenant's keys: its own certificate (DER).

        A key made before certificates existed gets one now; the store keeps the first one
        any instance made, so every instance hands out the same certificate.
        """
        if key.certificate_chain:
            return key.certificate_chain
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

    async def x5c(self, tenant_id: str, key: Signer) -> tuple[bytes, ...]:
        """What JWS headers (credentials, status list tokens) carry as `x5c`: the key's
        certificate when a CA issued it; nothing for a self-signed one, which HAIP-profile
        verifiers refuse in x5c anyway and others trust by `kid` and the JWKS."""
        if self._certificates.authority is None:
            return ()
        return await self.certificate_chain(tenant_id, key)

    async def issuer_certificates(self, tenant_id: str) -> list[bytes]:
        """Certificates that vouch for the tenant's credentials and status lists to
        verifiers: every published key's, and the configured authority's."""
        return self._certificates_of(self._published(await self._store.list_issuer_keys(tenant_id)))

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
        return self._certificates_of(self._published(records)) if records else None

    def _certificates_of(self, records: list[IssuerKeyRecord]) -> list[bytes]:
        found = [r.certificate for r in records if r.certificate is not None]
        return [*found, *self._certificates.anchors]

    def _published(self, records: list[IssuerKeyRecord]) -> list[IssuerKeyRecord]:
        """Active keys, and retired ones until the last thing they signed has expired."""
        now = self._clock()
        return [
            r
            for r in records
            if r.retired_at is None or r.published_until is None or r.published_until > now
        ]

    # --- the active keys ---------------------------------------------------------------
    def _fresh(self, cached: _ActiveKey | None) -> Signer | None:
        if cached is None or self._clock() - cached.checked_at >= self._refresh_seconds:
            return None
        return cached.key

    async def signing_key(self, tenant_id: str, purpose: str = CREDENTIAL_PURPOSE) -> Signer:
        """The tenant's active key of `purpose`, made on first use."""
        slot = (tenant_id, purpose)
        key = self._fresh(self._active.get(slot))
        if key is not None:
            return key
        lock = self._locks.setdefault(slot, asyncio.Lock())
        async with lock:
            cached = self._active.get(slot)
            key = self._fresh(cached)
            if key is None:
                checked_at = self._clock()
                key = await self._load_active_key(tenant_id, purpose, cached)
                self._active[slot] = _ActiveKey(key, checked_at)
        return key

    async def _load_active_key(
        self, tenant_id: str, purpose: str, cached: _ActiveKey | None
    ) -> Signer:
        records = await self._store.list_issuer_keys(tenant_id)
        active = next((r for r in records if r.retired_at is None and r.purpose == purpose), None)
        if active is not None:
            if cached is not None and active.kid == cached.key.kid:
                return cached.key
            self._public.pop(tenant_id, None)  # a new public key: reload on next use
            return self._backends.open(active)
        if purpose == STATUS_PURPOSE and await self._settings_of(tenant_id, purpose) is None:
            return await self.signing_key(tenant_id, CREDENTIAL_PURPOSE)
        new, record = await self._new_record(tenant_id, purpose)
        stored = await self._store.ensure_active_issuer_key(record)
        if stored.kid != record.kid:  # another instance made the first key first
            await self._backends.discard(new)
            return self._backends.open(stored)
        self._public.pop(tenant_id, None)
        return new.signer

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
        return jwks(r.public_jwk for r in self._published(records))

    async def published_jwks(self, tenant_id: str) -> dict[str, Any] | None:
        """The JWKS for anonymous readers (HTTP): never creates a key; None when the tenant
        has none (unknown, or has not issued anything yet)."""
        records = await self._store.list_issuer_keys(tenant_id)
        return jwks(r.public_jwk for r in self._published(records)) if records else None

    async def jwks_json(self, tenant_id: str) -> str:
        return ascii_json(await self.jwks(tenant_id))

    # --- settings and rotation ---------------------------------------------------------
    async def configure(self, settings: KeySettingsRecord) -> None:
        """Where the tenant's next keys of `settings.purpose` are made, and their maximum
        age. Keys already made stay where they are until rotated."""
        check_settings(settings)
        await self._store.put_key_settings(settings)

    async def create_key(self, settings: KeySettingsRecord) -> str:
        """Makes a key where `settings` say and activates it (retiring the purpose's active
        key), then keeps the settings for the keys after it. A backend that cannot make
        the key (a token not found, a PIN refused) leaves the stored settings as they were."""
        check_settings(settings)
        if await self._store.get_tenant(settings.tenant_id) is None:
            raise tenant_not_found()
        new, record = await self._new_record(settings.tenant_id, settings.purpose, settings)
        try:
            await self._store.put_key_settings(settings)
            await self._store.rotate_issuer_key(record, retired_at=int(self._clock()))
        except BaseException:
            await self._backends.discard(new)
            raise
        self._active[(settings.tenant_id, settings.purpose)] = _ActiveKey(new.signer, self._clock())
        if settings.purpose == CREDENTIAL_PURPOSE:
            self._active.pop((settings.tenant_id, STATUS_PURPOSE), None)
        self._public.pop(settings.tenant_id, None)
        return new.signer.kid

    async def key_settings(self, tenant_id: str) -> list[KeySettingsRecord]:
        return await self._store.list_key_settings(tenant_id)

    async def list_keys(self, tenant_id: str) -> list[IssuerKeyRecord]:
        return await self._store.list_issuer_keys(tenant_id)

    async def rotate(
        self,
        tenant_id: str,
        purpose: str = CREDENTIAL_PURPOSE,
        *,
        replacing: str | None = None,
    ) -> str | None:
        """Activates a new key of `purpose` (made where the settings say); the old one is
        retired but keeps verifying. Returns the new kid; None when `replacing` was given
        and another rotation had replaced that key already (the new key is discarded)."""
        check_purpose(purpose)
        new, record = await self._new_record(tenant_id, purpose)
        rotated = await self._store.rotate_issuer_key(
            record, retired_at=int(self._clock()), replacing=replacing
        )
        if not rotated:
            await self._backends.discard(new)
            return None
        self._active[(tenant_id, purpose)] = _ActiveKey(new.signer, self._clock())
        if purpose == CREDENTIAL_PURPOSE:
            self._active.pop((tenant_id, STATUS_PURPOSE), None)  # it may sign with this one
        self._public.pop(tenant_id, None)
        return new.signer.kid

    # --- the schedule (its rules: services/key_schedule.py) ----------------------------
    async def maintain(self) -> list[str]:
        """One pass of the schedule: rotates every key past its tenant's maximum age, fixes
        until when retired keys stay published, and reports every key's remaining time to
        the metrics. Returns the new kids. A tenant whose token fails is logged and left
        for the next pass; the others go on."""
        now = self._clock()
        all_settings = await self._store.list_key_settings()
        tenants = {s.tenant_id for s in all_settings} | {t for t, _ in self._active}
        rotated: list[str] = []
        for settings in all_settings:
            if settings.max_age_seconds is None:
                continue
            records = await self._store.list_issuer_keys(settings.tenant_id)
            active = due_for_rotation(records, settings, now)
            if active is None:
                continue
            try:
                kid = await self.rotate(settings.tenant_id, settings.purpose, replacing=active.kid)
            except EudiConnectError as error:
                log.warning(
                    "scheduled key rotation failed",
                    extra={"tenant": settings.tenant_id, "reason": error.reason},
                )
                continue
            if kid is not None:
                rotated.append(kid)
        found: list[KeyLifetime] = []
        max_ages = {(s.tenant_id, s.purpose): s.max_age_seconds for s in all_settings}
        for tenant_id in sorted(tenants):
            records = await self._fix_publication_ends(tenant_id, now)
            found.extend(lifetimes(tenant_id, records, max_ages, now))
        publish_key_lifetimes(found, warning_seconds=self._warning_seconds)
        return rotated

    async def _fix_publication_ends(self, tenant_id: str, now: float) -> list[IssuerKeyRecord]:
        grace = grace_seconds(self._refresh_seconds)
        fixed = []
        for record in await self._store.list_issuer_keys(tenant_id):
            if needs_publication_end(record, now, grace):
                until = await publication_end(
                    self._store,
                    record,
                    grace=grace,
                    status_token_validity=self._status_token_validity,
                )
                await self._store.set_issuer_key_published_until(record.kid, until)
                record = replace(record, published_until=until)
            fixed.append(record)
        return fixed

    async def run_schedule(self, interval_seconds: float) -> None:
        """Runs `maintain` every `interval_seconds` until cancelled."""
        while True:
            try:
                await self.maintain()
            except EudiConnectError as error:
                log.warning("key maintenance failed", extra={"reason": error.reason})
            await asyncio.sleep(interval_seconds)
