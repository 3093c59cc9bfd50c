"""X.509 certificates signed by a `Signer` whose private key this process cannot hold.

`cryptography` signs a certificate only with a private key object. For a key in an HSM the
certificate is built as usual with a throwaway P-256 key, whose signature algorithm
(ecdsa-with-SHA256) is the one the real key uses, so the to-be-signed part is exactly the
real one; that part is then signed by the signer and the certificate reassembled
(RFC 5280 section 4.1). The signer's raw r || s becomes the DER ECDSA-Sig-Value that
X.509 carries (RFC 5480 section 2.2.3 / RFC 3279 section 2.2.3).
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from eudi_connect.core.signer import Signer

#: AlgorithmIdentifier of ecdsa-with-SHA256 (1.2.840.10045.4.3.2), parameters absent.
_ECDSA_WITH_SHA256 = bytes.fromhex("300a06082a8648ce3d040302")
_COORDINATE_BYTES = 32


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(encoded)]) + encoded


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _der_length(len(content)) + content


def der_signature(raw: bytes) -> bytes:
    """The DER ECDSA-Sig-Value of a raw r || s signature (P-256)."""
    if len(raw) != 2 * _COORDINATE_BYTES:
        raise ValueError("an ES256 signature is 64 bytes")
    return encode_dss_signature(
        int.from_bytes(raw[:_COORDINATE_BYTES], "big"),
        int.from_bytes(raw[_COORDINATE_BYTES:], "big"),
    )


def sign_certificate(builder: x509.CertificateBuilder, signer: Signer) -> bytes:
    """The DER certificate `builder` describes, signed with ECDSA SHA-256 by `signer`."""
    private_key = getattr(signer, "private_key", None)
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        signed = builder.sign(private_key, hashes.SHA256())
        return signed.public_bytes(serialization.Encoding.DER)
    placeholder = builder.sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256())
    tbs = placeholder.tbs_certificate_bytes
    signature = der_signature(signer.sign(tbs))
    bit_string = _tlv(0x03, b"\x00" + signature)  # no unused bits
    return _tlv(0x30, tbs + _ECDSA_WITH_SHA256 + bit_string)
