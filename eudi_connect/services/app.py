"""Assembles the services around one opened store; what the API and CLI start from."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from eudi_connect.core.key_encryption import MasterKey, load_master_key
from eudi_connect.core.templates import TemplateEnvironment
from eudi_connect.errors import ConfigurationError
from eudi_connect.reasons import Reason
from eudi_connect.services.fetch import FetchSettings, HttpFetcher
from eudi_connect.services.foreign_status import ForeignStatusLists
from eudi_connect.services.issuance import IssuanceService
from eudi_connect.services.issuer_certificates import CertificatePolicy, load_authority
from eudi_connect.services.keys import KeyService, check_master_key
from eudi_connect.services.offers import OfferService
from eudi_connect.services.presentation import PresentationService
from eudi_connect.services.public_urls import TenantUrls
from eudi_connect.services.render_pool import RenderPool
from eudi_connect.services.revocation import RevocationService
from eudi_connect.services.settings import ServiceSettings
from eudi_connect.services.signing_pool import SigningPool
from eudi_connect.services.status_check import StatusChecker
from eudi_connect.services.status_lists import StatusListService
from eudi_connect.services.template_admin import TemplateService
from eudi_connect.services.templates import CredentialTemplates
from eudi_connect.services.tenants import TenantService
from eudi_connect.services.trust import TrustService
from eudi_connect.services.verification import VerificationService
from eudi_connect.services.verifier_identity import VerifierIdentities
from eudi_connect.services.wallet_issuer.issuer import WalletIssuer
from eudi_connect.services.wallet_policy import WalletPolicyService
from eudi_connect.services.wallet_settings import WalletSettings
from eudi_connect.store.base import Store
from eudi_connect.store.factory import database_directory, open_store_from_url
from eudi_connect.store.private_files import warn_if_open_to_others

MASTER_KEY_ENV = "EUDI_CONNECT_MASTER_KEY"
MASTER_KEY_FILE = "eudi-connect-master.key"


@dataclass
class Services:
    store: Store
    settings: ServiceSettings
    # Each tenant's public URL (its `iss`, its status list URIs), fixed on first use.
    urls: TenantUrls
    tenants: TenantService
    keys: KeyService
    status_lists: StatusListService
    templates: CredentialTemplates
    issuance: IssuanceService
    verification: VerificationService
    revocation: RevocationService
    template_service: TemplateService
    trust: TrustService
    # OpenID4VCI: offers for internal services, the protocol endpoints for wallets.
    offers: OfferService
    wallet_issuer: WalletIssuer
    wallet_policies: WalletPolicyService
    # OpenID4VP: each tenant's verifier identity and its presentation transactions.
    verifier_identities: VerifierIdentities
    presentations: PresentationService
    # The HTTP client for what other issuers publish (status lists, JWKS).
    fetcher: HttpFetcher
    # Worker processes that sign batch groups on the other cores; None signs in-process.
    signing_pool: SigningPool | None = None
    closed: bool = False

    async def close(self) -> None:
        """Closes the store once, whoever asks first (the server or its owner)."""
        if not self.closed:
            self.closed = True
            if self.signing_pool is not None:
                self.signing_pool.close()
            self.templates.runner.close()
            await self.fetcher.close()
            await self.tenants.close()
            await self.store.close()


def certificate_policy(settings: ServiceSettings) -> CertificatePolicy:
    """Self-signed issuer certificates, or signed by the CA the settings name."""
    if bool(settings.issuer_ca_cert) != bool(settings.issuer_ca_key):
        raise ConfigurationError(
            "an issuer CA needs both its certificate and its key", reason=Reason.ISSUER_CA_INVALID
        )
    country = settings.issuer_country
    if not (len(country) == 2 and country.isascii() and country.isalpha() and country.isupper()):
        raise ConfigurationError(
            f"issuer country {country!r} is not an ISO 3166-1 alpha-2 code",
            reason=Reason.ISSUER_COUNTRY_INVALID,
        )
    authority = None
    if settings.issuer_ca_cert and settings.issuer_ca_key:
        authority = load_authority(settings.issuer_ca_cert, settings.issuer_ca_key)
    return CertificatePolicy(country=settings.issuer_country, authority=authority)


def default_sign_workers() -> int:
    """One signing process when there is a second core for it, none on a single core."""
    return 1 if (os.cpu_count() or 1) >= 2 else 0


def master_key_for(db_url: str) -> MasterKey:
    """EUDI_CONNECT_MASTER_KEY if set, else a 0600 key file beside the database.

    A PostgreSQL store has no folder of its own, and its instances run on several machines
    that must all hold the same key: there the environment variable is required.
    """
    env_value = os.environ.get(MASTER_KEY_ENV) or None
    folder = database_directory(db_url)
    if folder is None and not (env_value and env_value.strip()):
        raise ConfigurationError(
            f"a PostgreSQL store needs {MASTER_KEY_ENV} (the same key on every instance)",
            reason=Reason.MASTER_KEY_REQUIRED,
        )
    key_file = (folder or Path.cwd()) / MASTER_KEY_FILE
    master = load_master_key(env_value=env_value, key_file=key_file)
    if not (env_value and env_value.strip()):
        # New key files are 0600; an older or hand-made one open to other local users
        # would, with a copy of the database, give them every issuer key.
        warn_if_open_to_others(key_file, what="master key file")
    return master


async def open_services(
    db_url: str,
    settings: ServiceSettings | None = None,
    *,
    master_key: MasterKey | None = None,
    sign_workers: int = 0,
    render_workers: int = 0,
    clock: Callable[[], float] = time.time,
    store: Store | None = None,
    fetch: FetchSettings | None = None,
    wallet: WalletSettings | None = None,
) -> Services:
    """`store`, when given, is used (unopened) instead of the one `db_url` names; `fetch`,
    when given, replaces `settings.fetch` (how foreign status lists and JWKS are fetched).
    `render_workers` processes check, compile and render tenants' templates off the event
    loop (0: one thread of this process, which still competes with the loop for the GIL).
    `wallet` replaces the settings' wallet flow settings."""
    settings = settings or ServiceSettings()
    master = master_key or master_key_for(db_url)
    store = store or open_store_from_url(db_url)
    await store.open()
    try:
        await check_master_key(store, master)
    except BaseException:
        await store.close()
        raise
    try:
        certificates = certificate_policy(settings)
    except BaseException:
        await store.close()
        raise
    urls = TenantUrls(store, settings.public_url)
    keys = KeyService(
        store,
        master,
        clock=clock,
        refresh_seconds=settings.issuer_key_refresh_seconds,
        certificates=certificates,
        urls=urls,
        status_token_validity_seconds=settings.status_list_validity_seconds,
        warning_seconds=settings.key_warning_seconds,
    )
    status_lists = StatusListService(store, keys, settings, urls, clock=clock)
    environment = TemplateEnvironment()
    render_pool = RenderPool(render_workers, environment.limits)
    templates = CredentialTemplates(environment, store=store, pool=render_pool)
    fetcher = HttpFetcher(fetch or settings.fetch)
    trust = TrustService(
        store,
        fetcher,
        clock=clock,
        max_entries=settings.max_trust_entries,
        max_cached_jwks=settings.max_cached_jwks,
    )
    status = StatusChecker(
        store,
        ForeignStatusLists(fetcher, clock=clock),
        settings,
        published=status_lists.published_token,
        clock=clock,
    )
    signing_pool = None
    try:
        await render_pool.start()
        if sign_workers > 0:
            signing_pool = SigningPool(sign_workers)
            await signing_pool.start()
    except BaseException:
        render_pool.close()
        await store.close()
        raise
    wallet = wallet or settings.wallet
    issuance = IssuanceService(
        store,
        keys=keys,
        status_lists=status_lists,
        templates=templates,
        settings=settings,
        urls=urls,
        clock=clock,
    )
    template_service = TemplateService(store, templates, clock=clock)
    wallet_policies = WalletPolicyService(
        store, clock=clock, cache_seconds=wallet.policy_cache_seconds
    )
    verification = VerificationService(
        keys=keys, trust=trust, status=status, settings=settings, urls=urls, clock=clock
    )
    identities = VerifierIdentities(
        store,
        master,
        urls=urls,
        certificates=certificates,
        clock=clock,
    )
    return Services(
        verifier_identities=identities,
        presentations=PresentationService(
            store,
            identities=identities,
            verification=verification,
            urls=urls,
            master=master,
            clock=clock,
            watch_poll_seconds=wallet.watch_poll_seconds,
        ),
        trust=trust,
        fetcher=fetcher,
        signing_pool=signing_pool,
        store=store,
        settings=settings,
        urls=urls,
        tenants=TenantService(store, clock=clock, key_cache_seconds=settings.api_key_cache_seconds),
        keys=keys,
        status_lists=status_lists,
        templates=templates,
        issuance=issuance,
        offers=OfferService(store, templates=templates, urls=urls, wallet=wallet, clock=clock),
        wallet_issuer=WalletIssuer(
            store,
            issuance=issuance,
            templates=template_service,
            urls=urls,
            wallet=wallet,
            policy_for=wallet_policies.policy_for,
            status=status,
            clock=clock,
        ),
        wallet_policies=wallet_policies,
        verification=verification,
        revocation=RevocationService(store, clock=clock),
        template_service=template_service,
    )
