"""A fake Wallet Provider: key attestations, wallet attestations and their status list.

- Key attestation (OpenID4VCI Appendix D.1): `typ` key-attestation+jwt, claims `iat`, `exp`,
  `attested_keys`, `key_storage`, `user_authentication`, optional `nonce`, `status`,
  `certification`.
- Wallet attestation (OpenID4VCI Appendix E, draft-ietf-oauth-attestation-based-client-auth
  §4): `typ` oauth-client-attestation+jwt with `iss`, `sub` (the client_id), `exp`, `cnf.jwk`;
  its proof of possession (§5.1) `typ` oauth-client-attestation-pop+jwt with `aud`, `jti`,
  `iat`, optional `challenge`; sent in the `OAuth-Client-Attestation` and
  `OAuth-Client-Attestation-PoP` headers.
- Status list (draft-ietf-oauth-status-list): a `statuslist+jwt` whose `lst` marks revoked
  attestations.

The provider signs with `kid` (trusted through `jwks()`) or with an `x5c` chain up to a test
CA built with `cryptography` (trusted through the CA certificate; the anchor is never sent
inside `x5c`, as HAIP requires).
"""

from __future__ import annotations

import base64
import time
import zlib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.wallet.encoding import b64url_encode
from tests.wallet.jose_tools import edit_members, new_jti, sign_jwt
from tests.wallet.keys import KeyPair

KEY_ATTESTATION_TYP = "key-attestation+jwt"
WALLET_ATTESTATION_TYP = "oauth-client-attestation+jwt"
WALLET_ATTESTATION_POP_TYP = "oauth-client-attestation-pop+jwt"
STATUS_LIST_TYP = "statuslist+jwt"
ATTESTATION_HEADER = "OAuth-Client-Attestation"
ATTESTATION_POP_HEADER = "OAuth-Client-Attestation-PoP"

# Attack potential resistance values (OpenID4VCI Appendix D.2).
ISO_18045_HIGH = "iso_18045_high"
ISO_18045_MODERATE = "iso_18045_moderate"
ISO_18045_ENHANCED_BASIC = "iso_18045_enhanced-basic"
ISO_18045_BASIC = "iso_18045_basic"

# A function that attests `keys` for a Credential Request with the issuer's `c_nonce`.
KeyAttester = Callable[[Sequence[KeyPair], str | None], str]


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@dataclass(frozen=True, eq=False)
class CertificateAuthority:
    """A test CA (a root, or an intermediate below one) that certifies provider keys."""

    key: KeyPair
    certificate: x509.Certificate
    # Certificates from this CA up to, excluding, the root: what goes after a leaf in `x5c`.
    chain: tuple[x509.Certificate, ...] = ()

    @classmethod
    def generate(cls, name: str = "Wallet Provider Test Root CA") -> CertificateAuthority:
        """A self-signed root valid from yesterday for ten years."""
        key = KeyPair.generate()
        now = datetime.now(UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(_name(name))
            .public_key(key.public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_ca_key_usage(), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key), False)
            .sign(key.private_key, hashes.SHA256())
        )
        return cls(key, certificate)

    @property
    def certificate_pem(self) -> str:
        """The CA certificate in PEM: the trust anchor to configure on the issuer side."""
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def issue(
        self,
        public_key: ec.EllipticCurvePublicKey,
        common_name: str,
        *,
        is_ca: bool = False,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
    ) -> x509.Certificate:
        """A certificate for `public_key` signed by this CA (an end entity unless `is_ca`)."""
        now = datetime.now(UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or now - timedelta(hours=1))
            .not_valid_after(not_after or now + timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key), False
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), False)
        )
        if is_ca:
            builder = builder.add_extension(_ca_key_usage(), critical=True)
        else:
            builder = builder.add_extension(_signing_key_usage(), critical=True)
        return builder.sign(self.key.private_key, hashes.SHA256())

    def intermediate(self, name: str) -> CertificateAuthority:
        """A sub-CA certified by this one; leaves it issues carry it in their chain."""
        key = KeyPair.generate()
        certificate = self.issue(key.public_key, name, is_ca=True)
        return CertificateAuthority(key, certificate, (certificate, *self.chain))


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _signing_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _validity(issued_at: int | None, expires_at: int | None, lifetime: int) -> tuple[int, int]:
    """`iat` and `exp`: `exp` is `expires_at` or `iat + lifetime`; without `issued_at`, `iat`
    is now, or an hour before `exp` when that is already past (an expired attestation)."""
    now = int(time.time())
    expiry = expires_at if expires_at is not None else (issued_at or now) + lifetime
    if issued_at is not None:
        return issued_at, expiry
    return (now if expiry > now else expiry - 3600), expiry


def x5c_value(certificates: Sequence[x509.Certificate]) -> list[str]:
    """The `x5c` header: standard base64 (not base64url) DER, leaf first (RFC 7515 §4.1.6)."""
    return [
        base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode("ascii")
        for c in certificates
    ]


def status_list_bytes(statuses: Mapping[int, int], *, size: int, bits: int = 1) -> bytes:
    """The uncompressed status byte array: entry `i` at bit offset `i * bits`, least
    significant bits first (draft-ietf-oauth-status-list §4.1)."""
    if bits not in (1, 2, 4, 8):
        raise ValueError("bits must be 1, 2, 4 or 8")
    data = bytearray((size * bits + 7) // 8)
    for index, value in statuses.items():
        if not 0 <= index < size or not 0 <= value < (1 << bits):
            raise ValueError(f"status {value} at {index} does not fit")
        offset = index * bits
        data[offset // 8] |= value << (offset % 8)
    return bytes(data)


@dataclass(frozen=True, eq=False)
class WalletAttestation:
    """A wallet instance's attestation and the key that proves possession of it."""

    jwt: str
    instance_key: KeyPair
    client_id: str

    def proof_of_possession(
        self,
        audience: str,
        *,
        challenge: str | None = None,
        issued_at: int | None = None,
        jti: str | None = None,
        key: KeyPair | None = None,
        claims: Mapping[str, Any] | None = None,
        drop: Collection[str] = (),
        header: Mapping[str, Any] | None = None,
    ) -> str:
        """A fresh Client Attestation PoP JWT for `audience`, the authorization server's
        issuer identifier (draft-ietf-oauth-attestation-based-client-auth §5.1).

        Besides the required `aud`, `jti`, `iat` (and `challenge` when given) it carries `iss`
        = client_id and a five-minute `exp`, which earlier drafts required and later ones let
        verifiers ignore. `key` signs with another key than the attested one.
        """
        now = issued_at if issued_at is not None else int(time.time())
        base: dict[str, Any] = {
            "iss": self.client_id,
            "aud": audience,
            "jti": jti if jti is not None else new_jti(),
            "iat": now,
            "exp": now + 300,
        }
        if challenge is not None:
            base["challenge"] = challenge
        signer = key or self.instance_key
        head = {"typ": WALLET_ATTESTATION_POP_TYP, "alg": signer.alg, **(header or {})}
        return sign_jwt(signer, head, edit_members(base, claims, drop))

    def headers(
        self, audience: str, *, challenge: str | None = None, pop: str | None = None
    ) -> dict[str, str]:
        """Both HTTP headers for one request; a new PoP each call unless `pop` is given."""
        return {
            ATTESTATION_HEADER: self.jwt,
            ATTESTATION_POP_HEADER: pop
            if pop is not None
            else self.proof_of_possession(audience, challenge=challenge),
        }


@dataclass(eq=False)
class WalletProvider:
    """A wallet provider that vouches for wallet instances and the keys they hold.

    With `ca`, it signs with an `x5c` chain (its certificate, then the CA's intermediates);
    without, with a `kid` resolvable through `jwks()`.
    """

    identifier: str = "https://wallet-provider.example"
    ca: CertificateAuthority | None = None
    key: KeyPair = field(default_factory=KeyPair.generate)
    kid: str = field(default_factory=lambda: "wp-" + new_jti()[:8])

    def __post_init__(self) -> None:
        self.certificate: x509.Certificate | None = (
            self.ca.issue(self.key.public_key, "Test Wallet Provider") if self.ca else None
        )

    def jwks(self) -> dict[str, Any]:
        """The provider's public JWKS (RFC 7517 §5), for trust by `kid`."""
        return {"keys": [{**self.key.public_jwk(), "kid": self.kid, "use": "sig"}]}

    @property
    def x5c(self) -> list[str]:
        """The `x5c` this provider sends: its certificate, then intermediates, no root."""
        if self.certificate is None or self.ca is None:
            raise ValueError("this provider signs by kid; give it a CA for x5c")
        return x5c_value([self.certificate, *self.ca.chain])

    def signing_header(self, typ: str) -> dict[str, Any]:
        """`typ`, `alg` and either `x5c` or `kid`: how the issuer finds the provider's key."""
        header: dict[str, Any] = {"typ": typ, "alg": self.key.alg}
        if self.certificate is not None:
            header["x5c"] = self.x5c
        else:
            header["kid"] = self.kid
        return header

    def key_attestation(
        self,
        attested_keys: Sequence[KeyPair | Mapping[str, Any]],
        *,
        nonce: str | None = None,
        key_storage: Sequence[str] | None = (ISO_18045_HIGH,),
        user_authentication: Sequence[str] | None = (ISO_18045_HIGH,),
        issued_at: int | None = None,
        expires_at: int | None = None,
        lifetime: int = 86400,
        status: Mapping[str, Any] | None = None,
        certification: str | None = None,
        claims: Mapping[str, Any] | None = None,
        drop: Collection[str] = (),
        header: Mapping[str, Any] | None = None,
        drop_header: Collection[str] = (),
    ) -> str:
        """A key attestation JWT (OpenID4VCI Appendix D.1) over `attested_keys`.

        `exp` is always set (the jwt proof type requires it): `expires_at`, or `iat +
        lifetime`; a negative `lifetime` makes one that expired that many seconds ago, after
        living an hour. `None` for a level leaves that claim out.
        """
        issued, expiry = _validity(issued_at, expires_at, lifetime)
        body: dict[str, Any] = {
            "iss": self.identifier,
            "iat": issued,
            "exp": expiry,
            "attested_keys": [
                k.public_jwk() if isinstance(k, KeyPair) else dict(k) for k in attested_keys
            ],
        }
        if key_storage is not None:
            body["key_storage"] = list(key_storage)
        if user_authentication is not None:
            body["user_authentication"] = list(user_authentication)
        if nonce is not None:
            body["nonce"] = nonce
        if status is not None:
            body["status"] = dict(status)
        if certification is not None:
            body["certification"] = certification
        head = edit_members(self.signing_header(KEY_ATTESTATION_TYP), header, drop_header)
        return sign_jwt(self.key, head, edit_members(body, claims, drop))

    def attester(self, *, attested: Sequence[KeyPair] | None = None, **options: Any) -> KeyAttester:
        """A `KeyAttester` for `Wallet.collect`, passing `options` to `key_attestation`.

        `attested` names keys to attest instead of the wallet's own: a proof whose key is
        then not among the attested keys.
        """

        def attest(keys: Sequence[KeyPair], nonce: str | None) -> str:
            return self.key_attestation(
                keys if attested is None else attested, nonce=nonce, **options
            )

        return attest

    def wallet_attestation(
        self,
        instance_key: KeyPair | None = None,
        *,
        client_id: str = "https://wallet.example/test-wallet",
        issued_at: int | None = None,
        expires_at: int | None = None,
        lifetime: int = 3600,
        wallet_name: str | None = "Interop Test Wallet",
        wallet_link: str | None = None,
        status: Mapping[str, Any] | None = None,
        claims: Mapping[str, Any] | None = None,
        drop: Collection[str] = (),
        header: Mapping[str, Any] | None = None,
        drop_header: Collection[str] = (),
    ) -> WalletAttestation:
        """A Wallet Attestation (Client Attestation JWT) bound by `cnf.jwk` to the instance key.

        A negative `lifetime` makes one that expired that many seconds ago, after living an
        hour.
        """
        key = instance_key or KeyPair.generate()
        issued, expiry = _validity(issued_at, expires_at, lifetime)
        body: dict[str, Any] = {
            "iss": self.identifier,
            "sub": client_id,
            "iat": issued,
            "nbf": issued,
            "exp": expiry,
            "cnf": {"jwk": key.public_jwk()},
        }
        if wallet_name is not None:
            body["wallet_name"] = wallet_name
        if wallet_link is not None:
            body["wallet_link"] = wallet_link
        if status is not None:
            body["status"] = dict(status)
        head = edit_members(self.signing_header(WALLET_ATTESTATION_TYP), header, drop_header)
        return WalletAttestation(
            sign_jwt(self.key, head, edit_members(body, claims, drop)), key, client_id
        )

    def status_list_token(
        self,
        uri: str,
        statuses: Mapping[int, int],
        *,
        size: int = 1024,
        bits: int = 1,
        ttl: int | None = 300,
        lifetime: int = 86400,
    ) -> str:
        """A Status List Token for `uri` (draft-ietf-oauth-status-list §5.1): `sub` = `uri`,
        `iat`, `exp`, `ttl`, and `status_list` {`bits`, `lst`} with the ZLIB-compressed
        array. Status 1 is INVALID (revoked), 0 VALID."""
        now = int(time.time())
        lst = b64url_encode(zlib.compress(status_list_bytes(statuses, size=size, bits=bits), 9))
        body: dict[str, Any] = {
            "sub": uri,
            "iat": now,
            "exp": now + lifetime,
            "status_list": {"bits": bits, "lst": lst},
        }
        if ttl is not None:
            body["ttl"] = ttl
        return sign_jwt(self.key, self.signing_header(STATUS_LIST_TYP), body)


def status_reference(uri: str, index: int) -> dict[str, Any]:
    """The `status` claim pointing at entry `index` of the list at `uri`."""
    return {"status_list": {"idx": index, "uri": uri}}
