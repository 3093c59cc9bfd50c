"""Each tenant's verifier identity: a P-256 key (encrypted at rest with the master key)
and its certificate, whose dNSName SAN the tenant's `x509_san_dns` client identifier names.

Made on first use with the host of the tenant's public URL as its DNS name; the operator
names another with `eudi-connect verifier set-dns-name`, which makes a new key and
certificate (a certificate names one identity). Instances read it from the store and keep
it for `refresh_seconds`, so a change reaches every instance within that bound.

A request is signed with the identity it was made with, whose client identifier its link
(the QR code a wallet may scan minutes later) already names: the identity a new DNS name
replaces is kept in the store, retired, until every request that can name it has expired.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec

from eudi_connect.core.jose import SigningKey, jwk_thumbprint, public_jwk
from eudi_connect.core.key_encryption import MasterKey, decrypt_private_key, encrypt_private_key
from eudi_connect.core.key_encryption import new_issuer_key as new_p256_key
from eudi_connect.core.oid4vp import ClientIdPrefix, client_id_for
from eudi_connect.core.oid4vp.certificate import checked_dns_name, make_verifier_certificate
from eudi_connect.core.signer import Signer
from eudi_connect.errors import FailedPreconditionError, InvalidArgumentError
from eudi_connect.reasons import Reason
from eudi_connect.services.issuer_certificates import CertificatePolicy
from eudi_connect.services.public_urls import TenantUrls
from eudi_connect.store.base import Store
from eudi_connect.store.presentations import VerifierIdentityRecord

#: A verifier certificate is made for the key's life; a new DNS name makes a new one.
VERIFIER_CERTIFICATE_DAYS = 3 * 365
#: Valid from a little before it is made, for wallets whose clocks run behind.
BACKDATE = timedelta(minutes=5)
DEFAULT_REFRESH_SECONDS = 5.0
#: The longest a presentation request lives.
MAX_REQUEST_LIFETIME_SECONDS = 3600
#: Kept a little longer still, for instances whose clocks run ahead of the one renaming.
RETIRED_MARGIN_SECONDS = 60


@dataclass(frozen=True)
class VerifierIdentity:
    dns_name: str
    private_key: ec.EllipticCurvePrivateKey = field(repr=False)
    #: DER, leaf first; the CA's certificate after it when a CA signed the leaf.
    certificate_chain: tuple[bytes, ...]

    @property
    def leaf(self) -> bytes:
        return self.certificate_chain[0]

    @property
    def signer(self) -> Signer:
        """The verifier key as a `Signer`, the interface every signature goes through."""
        return SigningKey(
            jwk_thumbprint(public_jwk(self.private_key.public_key())),
            self.private_key,
            self.certificate_chain,
        )

    @property
    def x5c(self) -> tuple[bytes, ...]:
        """What a request object carries: the chain without the trust anchor (HAIP)."""
        return self.certificate_chain[:1]

    def client_id(self, prefix: ClientIdPrefix) -> str:
        return client_id_for(prefix, self.leaf, dns_name=self.dns_name)

    @property
    def client_ids(self) -> tuple[str, ...]:
        return tuple(self.client_id(prefix) for prefix in ClientIdPrefix)


def default_dns_name(public_url: str) -> str:
    """The host of the public URL (a loopback IP host included)."""
    host = urlsplit(public_url).hostname or ""
    try:
        return checked_dns_name(host)
    except InvalidArgumentError as exc:
        raise FailedPreconditionError(
            f"the public URL's host {host[:64]!r} cannot be a verifier DNS name: set one "
            "with `eudi-connect verifier set-dns-name`",
            reason=Reason.VERIFIER_DNS_NAME_INVALID,
        ) from exc


class VerifierIdentities:
    def __init__(
        self,
        store: Store,
        master: MasterKey,
        *,
        urls: TenantUrls,
        certificates: CertificatePolicy | None = None,
        clock: Callable[[], float] = time.time,
        refresh_seconds: float = DEFAULT_REFRESH_SECONDS,
    ) -> None:
        self._store = store
        self._master = master
        self._urls = urls
        self._certificates = certificates or CertificatePolicy()
        self._clock = clock
        self._refresh_seconds = refresh_seconds
        self._cache: dict[str, tuple[float, VerifierIdentity]] = {}

    def _record(self, tenant_id: str, dns_name: str) -> VerifierIdentityRecord:
        key = new_p256_key()
        now = self._clock()
        made = datetime.fromtimestamp(now, UTC)
        leaf = make_verifier_certificate(
            key.private_key,
            dns_name=dns_name,
            subject_name=f"EUDI-Connect verifier {tenant_id}",
            not_before=made - BACKDATE,
            not_after=made + timedelta(days=VERIFIER_CERTIFICATE_DAYS),
            authority=self._certificates.authority,
        )
        return VerifierIdentityRecord(
            tenant_id=tenant_id,
            dns_name=checked_dns_name(dns_name),
            kid=key.kid,
            private_key_encrypted=encrypt_private_key(self._master, key),
            certificate_chain=(leaf, *self._certificates.anchors),
            created_at=int(now),
            updated_at=int(now),
        )

    def _opened(self, record: VerifierIdentityRecord) -> VerifierIdentity:
        key = decrypt_private_key(self._master, record.kid, record.private_key_encrypted)
        return VerifierIdentity(record.dns_name, key.private_key, record.certificate_chain)

    def _identity(self, record: VerifierIdentityRecord) -> VerifierIdentity:
        """The tenant's current identity, kept for `refresh_seconds`."""
        identity = self._opened(record)
        self._cache[record.tenant_id] = (time.monotonic(), identity)
        return identity

    @property
    def _retire_seconds(self) -> int:
        """How long a replaced identity is kept: an instance that has not seen the change
        yet may make requests with it for `refresh_seconds`, each living at most
        `MAX_REQUEST_LIFETIME_SECONDS`."""
        return MAX_REQUEST_LIFETIME_SECONDS + int(self._refresh_seconds) + RETIRED_MARGIN_SECONDS

    async def identity(self, tenant_id: str) -> VerifierIdentity:
        """The tenant's identity, made now if it has none (NotFoundError for no tenant)."""
        cached = self._cache.get(tenant_id)
        if cached is not None and time.monotonic() - cached[0] < self._refresh_seconds:
            return cached[1]
        record = await self._store.get_verifier_identity(tenant_id)
        if record is None:
            urls = await self._urls.current(tenant_id)
            candidate = self._record(tenant_id, default_dns_name(urls.base_url))
            record = await self._store.ensure_verifier_identity(candidate)
        return self._identity(record)

    async def for_client_id(self, tenant_id: str, client_id: str) -> VerifierIdentity | None:
        """The identity a request naming `client_id` is signed with: the current one, else
        a retired one still kept (None when none names it any more)."""
        current = await self.identity(tenant_id)
        if client_id in current.client_ids:
            return current
        record = await self._store.get_verifier_identity(tenant_id)
        if record is not None:  # replaced since it was cached, perhaps by another instance
            current = self._identity(record)
            if client_id in current.client_ids:
                return current
        for retired in await self._store.retired_verifier_identities(tenant_id, int(self._clock())):
            identity = self._opened(retired)
            if client_id in identity.client_ids:
                return identity
        return None

    async def published(self, tenant_id: str) -> VerifierIdentity | None:
        """For anonymous readers (HTTP): never makes an identity."""
        record = await self._store.get_verifier_identity(tenant_id)
        return None if record is None else self._identity(record)

    async def set_dns_name(self, tenant_id: str, dns_name: str) -> VerifierIdentity:
        """A new key and certificate naming `dns_name` (InvalidArgumentError for a name
        that is not a host name, NotFoundError for no tenant)."""
        record = self._record(tenant_id, checked_dns_name(dns_name))
        await self._store.put_verifier_identity(
            record, retire_until=record.created_at + self._retire_seconds
        )
        return self._identity(record)
