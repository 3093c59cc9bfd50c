"""A tenant's wallet policy (OpenID4VCI 1.0, HAIP): whether the token endpoint requires a
wallet attestation, whether the credential endpoint requires key attestations and at
which `key_storage` / `user_authentication` levels, and which wallet providers it trusts
to sign them (CA certificates for `x5c`, a JWKS for `kid`).

A tenant that never set a policy asks for nothing: anonymous pre-authorized access and
plain `jwt` proofs. A policy is checked when it is set (every certificate a CA, every key
with a `kid`, levels printable strings, a required attestation with someone trusted to
sign it), stored as one JSON document, and loaded into keys and anchors when used.

Each instance keeps a tenant's loaded policy for `cache_seconds` (5 s by default): a change
made through this instance applies to its next request, one made through another instance
within that time. The same trust checks the `status` of attestations: the wallet
provider's status list token must be signed by a trusted provider key or chain to a
trusted CA (draft-ietf-oauth-status-list section 8.3).
"""

from __future__ import annotations

import base64
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey

from eudi_connect.core.oid4vci.key_proof import AttestationTrust
from eudi_connect.core.oid4vci.metadata import KeyAttestationRequirement
from eudi_connect.core.trust_material import JwksError, certificate_der, load_jwks
from eudi_connect.core.x509_chain import HAIP_POLICY, UNREADABLE
from eudi_connect.errors import InvalidArgumentError
from eudi_connect.reasons import Reason
from eudi_connect.services.status_check import StatusTrust
from eudi_connect.store.base import Store
from eudi_connect.store.wallet_sessions import WalletPolicyRecord

#: How long an instance uses a tenant's policy before reading it again.
DEFAULT_CACHE_SECONDS = 5.0
#: Tenants whose loaded policy one process keeps; the least recently used go first.
MAX_CACHED_POLICIES = 4096
MAX_PROVIDER_CERTIFICATES = 32
MAX_CERTIFICATE_BYTES = 16 * 1024
MAX_JWKS_CHARACTERS = 64 * 1024
MAX_LEVELS = 16
#: Levels are the Appendix D.2 names or, for other ecosystems, URLs.
MAX_LEVEL_LENGTH = 256


@dataclass(frozen=True, kw_only=True)
class WalletPolicyConfig:
    """The policy as a tenant sets and reads it (the `WalletPolicy` message)."""

    wallet_attestation_required: bool = False
    key_attestation_required: bool = False
    key_storage: tuple[str, ...] = ()
    user_authentication: tuple[str, ...] = ()
    provider_certificates: tuple[bytes, ...] = field(default=(), repr=False)  # DER
    provider_jwks: str = ""  # JSON text of a JWKS, "" for none
    updated_at: int | None = None  # None: never set, the defaults

    def document(self) -> dict[str, Any]:
        return {
            "wallet_attestation_required": self.wallet_attestation_required,
            "key_attestation_required": self.key_attestation_required,
            "key_storage": list(self.key_storage),
            "user_authentication": list(self.user_authentication),
            "provider_certificates": [
                base64.b64encode(der).decode("ascii") for der in self.provider_certificates
            ],
            "provider_jwks": json.loads(self.provider_jwks) if self.provider_jwks else None,
        }

    @classmethod
    def from_record(cls, record: WalletPolicyRecord) -> WalletPolicyConfig:
        document = record.document
        jwks = document.get("provider_jwks")
        return cls(
            wallet_attestation_required=bool(document.get("wallet_attestation_required")),
            key_attestation_required=bool(document.get("key_attestation_required")),
            key_storage=tuple(document.get("key_storage", ())),
            user_authentication=tuple(document.get("user_authentication", ())),
            provider_certificates=tuple(
                base64.b64decode(text) for text in document.get("provider_certificates", ())
            ),
            provider_jwks="" if jwks is None else json.dumps(jwks, separators=(",", ":")),
            updated_at=record.updated_at,
        )


@dataclass(frozen=True)
class WalletPolicy:
    """A policy loaded for use: what the wallet endpoints check, and against whom."""

    wallet_attestation_required: bool = False
    key_attestation: KeyAttestationRequirement | None = None  # None: not required
    trust: AttestationTrust = field(default_factory=AttestationTrust)

    @property
    def trusts_providers(self) -> bool:
        return bool(self.trust.anchors or self.trust.keys_by_kid)

    def status_trust(self) -> StatusTrust:
        """Who may sign the status list an attestation points to: the trusted providers."""
        keys_by_kid = self.trust.keys_by_kid

        def keys(kid: object) -> Sequence[EllipticCurvePublicKey]:
            key = keys_by_kid.get(kid) if isinstance(kid, str) else None
            return [] if key is None else [key]

        return StatusTrust(keys=keys, anchors=self.trust.anchors, policy=HAIP_POLICY)


def _invalid(message: str, reason: Reason) -> InvalidArgumentError:
    return InvalidArgumentError(message, reason=reason)


def _certificates(entries: Sequence[bytes]) -> tuple[bytes, ...]:
    """DER of every CA certificate in `entries` (each DER, or PEM with one or more)."""
    ders: list[bytes] = []
    for position, entry in enumerate(entries):
        what = f"wallet_provider_certificates[{position}]"
        if len(entry) > MAX_CERTIFICATE_BYTES:
            raise _invalid(
                f"{what} is larger than {MAX_CERTIFICATE_BYTES} bytes",
                Reason.WALLET_POLICY_CERTIFICATE_INVALID,
            )
        try:
            if entry.lstrip().startswith(b"-----BEGIN"):
                certificates = x509.load_pem_x509_certificates(entry)
            else:
                certificates = [x509.load_der_x509_certificate(entry)]
            for certificate in certificates:
                constraints = certificate.extensions.get_extension_for_class(
                    x509.BasicConstraints
                ).value
                if not constraints.ca:
                    raise _invalid(
                        f"{what} is not a CA certificate: x5c chains end at a CA",
                        Reason.WALLET_POLICY_CERTIFICATE_INVALID,
                    )
                ders.append(certificate_der(certificate))
        except x509.ExtensionNotFound as exc:
            raise _invalid(
                f"{what} has no basicConstraints, so it is no CA certificate",
                Reason.WALLET_POLICY_CERTIFICATE_INVALID,
            ) from exc
        except UNREADABLE as exc:
            raise _invalid(
                f"{what} is not an X.509 certificate in DER or PEM",
                Reason.WALLET_POLICY_CERTIFICATE_INVALID,
            ) from exc
    unique = tuple(dict.fromkeys(ders))
    if len(unique) > MAX_PROVIDER_CERTIFICATES:
        raise _invalid(
            f"at most {MAX_PROVIDER_CERTIFICATES} wallet provider certificates",
            Reason.WALLET_POLICY_CERTIFICATE_INVALID,
        )
    return unique


def _jwks(text: str) -> str:
    """The JWKS as compact JSON; every key a P-256 public key with its own `kid`."""
    if not text.strip():
        return ""
    if len(text) > MAX_JWKS_CHARACTERS:
        raise _invalid(
            f"wallet_provider_jwks is longer than {MAX_JWKS_CHARACTERS} characters",
            Reason.WALLET_POLICY_JWKS_INVALID,
        )
    try:
        document = json.loads(text)
        load_jwks("wallet provider", document)
    except JwksError as exc:
        raise _invalid(f"wallet_provider_jwks: {exc}", Reason.WALLET_POLICY_JWKS_INVALID) from exc
    except (ValueError, RecursionError) as exc:
        raise _invalid(
            "wallet_provider_jwks is not JSON", Reason.WALLET_POLICY_JWKS_INVALID
        ) from exc
    for position, key in enumerate(document["keys"]):
        if not isinstance(key.get("kid"), str) or not key["kid"]:
            raise _invalid(
                f"wallet_provider_jwks key {position} has no kid: attestations name "
                "their signing key by kid",
                Reason.WALLET_POLICY_JWKS_INVALID,
            )
    return json.dumps(document, separators=(",", ":"))


def _levels(values: Iterable[str], name: str) -> tuple[str, ...]:
    levels = tuple(dict.fromkeys(values))
    if len(levels) > MAX_LEVELS:
        raise _invalid(f"at most {MAX_LEVELS} {name} levels", Reason.WALLET_POLICY_LEVEL_INVALID)
    for level in levels:
        if (
            not isinstance(level, str)
            or not 0 < len(level) <= MAX_LEVEL_LENGTH
            or not all(0x21 <= ord(c) <= 0x7E for c in level)
        ):
            raise _invalid(
                f"{name} levels are 1 to {MAX_LEVEL_LENGTH} printable ASCII characters "
                "without spaces, e.g. iso_18045_high",
                Reason.WALLET_POLICY_LEVEL_INVALID,
            )
    return levels


def checked_config(config: WalletPolicyConfig) -> WalletPolicyConfig:
    """The policy as it will be stored; InvalidArgumentError for one that cannot work."""
    checked = replace(
        config,
        key_storage=_levels(config.key_storage, "key_storage"),
        user_authentication=_levels(config.user_authentication, "user_authentication"),
        provider_certificates=_certificates(config.provider_certificates),
        provider_jwks=_jwks(config.provider_jwks),
    )
    if (checked.key_storage or checked.user_authentication) and not (
        checked.key_attestation_required
    ):
        raise _invalid(
            "key_storage and user_authentication levels apply to required key "
            "attestations: set key_attestation_required too",
            Reason.WALLET_POLICY_LEVELS_WITHOUT_ATTESTATION,
        )
    required = checked.wallet_attestation_required or checked.key_attestation_required
    if required and not (checked.provider_certificates or checked.provider_jwks):
        raise _invalid(
            "a policy that requires attestations needs a trusted wallet provider "
            "(wallet_provider_certificates or wallet_provider_jwks)",
            Reason.WALLET_POLICY_TRUST_MISSING,
        )
    return checked


def loaded_policy(config: WalletPolicyConfig) -> WalletPolicy:
    anchors = tuple(x509.load_der_x509_certificate(der) for der in config.provider_certificates)
    keys: Mapping[str, EllipticCurvePublicKey] = {}
    if config.provider_jwks:
        keys = load_jwks("wallet provider", json.loads(config.provider_jwks)).by_kid
    requirement = None
    if config.key_attestation_required:
        requirement = KeyAttestationRequirement(
            key_storage=config.key_storage, user_authentication=config.user_authentication
        )
    return WalletPolicy(
        wallet_attestation_required=config.wallet_attestation_required,
        key_attestation=requirement,
        trust=AttestationTrust(anchors=anchors, keys_by_kid=keys),
    )


class WalletPolicyService:
    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], float] = time.time,
        cache_seconds: float = DEFAULT_CACHE_SECONDS,
        max_cached: int = MAX_CACHED_POLICIES,
    ) -> None:
        self._store = store
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._max_cached = max_cached
        # tenant -> (loaded at, policy); least recently used first
        self._cache: OrderedDict[str, tuple[float, WalletPolicy]] = OrderedDict()

    async def get(self, tenant_id: str) -> WalletPolicyConfig:
        record = await self._store.get_wallet_policy(tenant_id)
        return WalletPolicyConfig() if record is None else WalletPolicyConfig.from_record(record)

    async def update(self, tenant_id: str, config: WalletPolicyConfig) -> WalletPolicyConfig:
        """Replaces the tenant's policy; this instance applies it from its next request."""
        checked = replace(checked_config(config), updated_at=int(self._clock()))
        await self._store.put_wallet_policy(
            WalletPolicyRecord(tenant_id, checked.document(), checked.updated_at or 0)
        )
        self._cache.pop(tenant_id, None)
        return checked

    async def policy_for(self, tenant_id: str) -> WalletPolicy:
        """The tenant's loaded policy, read again once it is `cache_seconds` old."""
        now = self._clock()
        cached = self._cache.get(tenant_id)
        if cached is not None and now - cached[0] < self._cache_seconds:
            self._cache.move_to_end(tenant_id)
            return cached[1]
        policy = loaded_policy(await self.get(tenant_id))
        self._cache[tenant_id] = (now, policy)
        self._cache.move_to_end(tenant_id)
        while len(self._cache) > self._max_cached:
            self._cache.popitem(last=False)
        return policy
