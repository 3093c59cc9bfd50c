"""The signer interface every issuer signature goes through.

SD-JWT VCs, mdoc MSOs (COSE_Sign1), status list tokens, issuer certificates and OpenID4VP
request objects are all signed by a `Signer`: something that holds a P-256 key under a
`kid`, signs bytes with ES256 and says which certificate chain vouches for it. Where the
private key lives is the implementation's business: in this process (`SigningKey`, the
software key encrypted at rest), in a PKCS#11 token (`core.pkcs11_signer`), or, later, in
a cloud KMS. Callers never see the private key.

A `SignerReference` is how a signer crosses into another process (the signing workers):
it is picklable and names the key, never a live session, so each process opens its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

#: The backends a tenant's keys can live in.
SOFTWARE_BACKEND = "software"
PKCS11_BACKEND = "pkcs11"
BACKENDS = (SOFTWARE_BACKEND, PKCS11_BACKEND)


@runtime_checkable
class Signer(Protocol):
    """An ES256 issuer key, wherever its private half is kept."""

    @property
    def kid(self) -> str:
        """The key id verifiers find the public key under (RFC 7638 thumbprint)."""
        ...

    @property
    def certificate_chain(self) -> tuple[bytes, ...]:
        """DER certificates vouching for the key, its own first; empty before it has one."""
        ...

    def public_key(self) -> ec.EllipticCurvePublicKey: ...

    def public_jwk(self) -> dict[str, str]:
        """The public JWK with `kid` and `alg`, as the JWKS publishes it."""
        ...

    def sign(self, data: bytes) -> bytes:
        """ES256 over `data`: SHA-256, then ECDSA P-256, returned as raw r || s (64 bytes),
        the form JWS (RFC 7518 section 3.4) and COSE (RFC 9053 section 2.1) both carry."""
        ...

    def reference(self) -> SignerReference:
        """What another process needs to open this same key for itself."""
        ...


@dataclass(frozen=True)
class Pkcs11KeyReference:
    """Where a key lives in a PKCS#11 token. The PIN itself is never here: only the file
    or the environment variable that holds it."""

    module: str  # the PKCS#11 library (.so) path
    key_id: str  # CKA_ID, hex
    key_label: str  # CKA_LABEL
    token_label: str = ""
    slot: int | None = None
    pin_file: str = ""
    pin_env: str = ""

    def to_json(self) -> dict[str, object]:
        return {
            "module": self.module,
            "key_id": self.key_id,
            "key_label": self.key_label,
            "token_label": self.token_label,
            "slot": self.slot,
            "pin_file": self.pin_file,
            "pin_env": self.pin_env,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Pkcs11KeyReference:
        slot = data.get("slot")
        return cls(
            module=str(data["module"]),
            key_id=str(data["key_id"]),
            key_label=str(data.get("key_label", "")),
            token_label=str(data.get("token_label", "")),
            slot=int(slot) if isinstance(slot, int | str) and str(slot) != "" else None,
            pin_file=str(data.get("pin_file", "")),
            pin_env=str(data.get("pin_env", "")),
        )


@dataclass(frozen=True)
class SignerReference:
    """A picklable recipe for a signer: the software key's PKCS #8 DER (it travels to the
    signing workers over their private pipe, as the key itself would), or a PKCS#11 key's
    location. `certificate_chain` goes along so the reopened signer is the same one."""

    kid: str
    backend: str
    public_point: bytes  # X9.62 uncompressed point, so a reopened key needs no lookup
    software_der: bytes | None = field(default=None, repr=False)
    pkcs11: Pkcs11KeyReference | None = None
    certificate_chain: tuple[bytes, ...] = field(default=(), repr=False)


def public_point(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """The X9.62 uncompressed point of a P-256 public key (0x04 || x || y)."""
    return public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
