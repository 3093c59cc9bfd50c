"""Issuer certificates and their chains: the self-signed default and IACA-style roots."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from eudi_connect.core.jose import SigningKey, generate_p256_key, public_jwk
from eudi_connect.core.mdoc import (
    MDOC_DOCUMENT_SIGNER_EKU,
    PID_DOCTYPE,
    PID_NAMESPACE,
    MdocVerificationError,
    TrustAnchor,
    ValidityInfo,
    issue_mdoc,
    load_trust_anchors,
    make_issuer_certificate,
    validate_chain,
    verify_mdoc,
)
from eudi_connect.core.verdicts import VerificationFailureReason

NOW = datetime(2025, 6, 1, tzinfo=UTC)
YEAR = timedelta(days=365)


def _signer_usage() -> x509.KeyUsage:
    return x509.KeyUsage(True, False, False, False, False, False, False, False, False)


def _ca_usage() -> x509.KeyUsage:
    return x509.KeyUsage(False, False, False, False, False, True, True, False, False)


def _certificate(
    subject_key: ec.EllipticCurvePrivateKey,
    subject: str,
    *,
    issuer_key: ec.EllipticCurvePrivateKey | None = None,
    issuer: str | None = None,
    ca: bool | None = False,
    path_length: int | None = None,
    not_before: datetime = NOW - YEAR,
    not_after: datetime = NOW + YEAR,
) -> x509.Certificate:
    """A certificate signed by `issuer_key` (self-signed without one); `ca=None` omits
    basicConstraints altogether."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer or subject)]))
        .public_key(subject_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(_ca_usage() if ca else _signer_usage(), critical=True)
    )
    if ca is not None:
        builder = builder.add_extension(x509.BasicConstraints(ca, path_length), critical=True)
    return builder.sign(issuer_key or subject_key, hashes.SHA256())


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def _reason(chain: Sequence[bytes], anchors: Sequence[TrustAnchor], at: datetime = NOW) -> object:
    with pytest.raises(MdocVerificationError) as caught:
        validate_chain(chain, anchors, at=at)
    return caught.value.failure


@pytest.fixture(scope="module")
def tenant_key() -> SigningKey:
    return SigningKey("tenant-key", generate_p256_key())


@pytest.fixture(scope="module")
def own_certificate(tenant_key: SigningKey) -> bytes:
    return make_issuer_certificate(
        tenant_key,
        issuer_name="Example Issuer",
        country="DE",
        not_before=NOW - YEAR,
        not_after=NOW + YEAR,
    )


@pytest.fixture(scope="module")
def root_key() -> ec.EllipticCurvePrivateKey:
    return generate_p256_key()


@pytest.fixture(scope="module")
def root(root_key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    return _certificate(root_key, "Example IACA", ca=True, path_length=1)


# --- the self-signed certificate -----------------------------------------------------------


def test_issuer_certificate_is_a_self_signed_es256_document_signer(
    tenant_key: SigningKey, own_certificate: bytes
) -> None:
    certificate = x509.load_der_x509_certificate(own_certificate)
    assert certificate.subject == certificate.issuer
    assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        "Example Issuer"
    )
    assert certificate.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "DE"
    assert certificate.signature_hash_algorithm is not None
    assert certificate.signature_hash_algorithm.name == "sha256"
    certificate.verify_directly_issued_by(certificate)
    public_key = certificate.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert public_jwk(public_key) == public_jwk(tenant_key.private_key.public_key())
    key_usage = certificate.extensions.get_extension_for_class(x509.KeyUsage)
    assert key_usage.critical
    assert key_usage.value.digital_signature
    assert not key_usage.value.key_cert_sign
    assert not certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usages = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [MDOC_DOCUMENT_SIGNER_EKU]
    assert ExtendedKeyUsageOID.SERVER_AUTH not in usages
    assert certificate.not_valid_before_utc == NOW - YEAR
    assert certificate.not_valid_after_utc == NOW + YEAR


@pytest.mark.parametrize(
    ("name", "country", "days"),
    [("", "DE", 1), ("Issuer", "DEU", 1), ("Issuer", "de", 1), ("Issuer", "DE", 0)],
)
def test_bad_certificate_parameters_are_refused(
    tenant_key: SigningKey, name: str, country: str, days: int
) -> None:
    with pytest.raises(ValueError, match=r"."):
        make_issuer_certificate(
            tenant_key,
            issuer_name=name,
            country=country,
            not_before=NOW,
            not_after=NOW + timedelta(days=days),
        )


# --- chain validation ----------------------------------------------------------------------


def test_the_tenants_own_self_signed_certificate_is_trusted_when_configured(
    own_certificate: bytes,
) -> None:
    signer = validate_chain([own_certificate], [own_certificate], at=NOW)
    assert signer == x509.load_der_x509_certificate(own_certificate)
    parsed_anchor = x509.load_der_x509_certificate(own_certificate)
    assert validate_chain([own_certificate], [parsed_anchor], at=NOW) == signer


def test_a_self_signed_certificate_that_is_not_an_anchor_is_unknown(
    own_certificate: bytes,
) -> None:
    stranger = make_issuer_certificate(
        SigningKey("x", generate_p256_key()),
        issuer_name="Example Issuer",  # the same name does not help
        country="DE",
        not_before=NOW - YEAR,
        not_after=NOW + YEAR,
    )
    assert _reason([stranger], [own_certificate]) == VerificationFailureReason.UNKNOWN_ISSUER_KEY
    assert _reason([own_certificate], []) == VerificationFailureReason.UNKNOWN_ISSUER_KEY


@pytest.mark.parametrize("offset", [YEAR + timedelta(seconds=1), -YEAR - timedelta(seconds=1)])
def test_own_certificate_outside_its_validity_is_invalid(
    own_certificate: bytes, offset: timedelta
) -> None:
    reason = _reason([own_certificate], [own_certificate], at=NOW + offset)
    assert reason == VerificationFailureReason.CERTIFICATE_INVALID


def test_a_signer_issued_by_a_configured_root_is_trusted(
    root: x509.Certificate, root_key: ec.EllipticCurvePrivateKey
) -> None:
    signer = _certificate(generate_p256_key(), "Signer", issuer_key=root_key, issuer="Example IACA")
    assert validate_chain([_der(signer)], [root], at=NOW) == signer
    # sending the root along in x5chain changes nothing: trust comes from the anchors
    assert validate_chain([_der(signer), _der(root)], [_der(root)], at=NOW) == signer


def test_a_chain_through_an_intermediate_ca_is_trusted(
    root: x509.Certificate, root_key: ec.EllipticCurvePrivateKey
) -> None:
    intermediate_key = generate_p256_key()
    intermediate = _certificate(
        intermediate_key, "Intermediate", issuer_key=root_key, issuer="Example IACA", ca=True
    )
    signer = _certificate(
        generate_p256_key(), "Signer", issuer_key=intermediate_key, issuer="Intermediate"
    )
    chain = [_der(signer), _der(intermediate)]
    assert validate_chain(chain, [root], at=NOW) == signer
    reason = _reason([_der(signer)], [root])  # the intermediate is missing
    assert reason == VerificationFailureReason.UNKNOWN_ISSUER_KEY


def test_a_path_longer_than_the_roots_path_length_is_invalid(
    root_key: ec.EllipticCurvePrivateKey,
) -> None:
    strict_root = _certificate(root_key, "Strict Root", ca=True, path_length=0)
    middle_key = generate_p256_key()
    middle = _certificate(middle_key, "Middle", issuer_key=root_key, issuer="Strict Root", ca=True)
    signer = _certificate(generate_p256_key(), "Signer", issuer_key=middle_key, issuer="Middle")
    reason = _reason([_der(signer), _der(middle)], [strict_root])
    assert reason == VerificationFailureReason.CERTIFICATE_INVALID


def test_a_forged_root_with_the_right_name_but_another_key_is_unknown(
    root: x509.Certificate,
) -> None:
    forger = generate_p256_key()
    signer = _certificate(generate_p256_key(), "Signer", issuer_key=forger, issuer="Example IACA")
    assert _reason([_der(signer)], [root]) == VerificationFailureReason.UNKNOWN_ISSUER_KEY


def test_an_expired_root_makes_the_chain_invalid(root_key: ec.EllipticCurvePrivateKey) -> None:
    old_root = _certificate(
        root_key, "Old Root", ca=True, not_before=NOW - 2 * YEAR, not_after=NOW - YEAR
    )
    signer = _certificate(generate_p256_key(), "Signer", issuer_key=root_key, issuer="Old Root")
    assert _reason([_der(signer)], [old_root]) == VerificationFailureReason.CERTIFICATE_INVALID


def test_an_anchor_that_is_not_a_ca_cannot_issue(root_key: ec.EllipticCurvePrivateKey) -> None:
    for ca_flag in (False, None):
        not_a_ca = _certificate(root_key, "Plain", ca=ca_flag)
        signer = _certificate(generate_p256_key(), "Signer", issuer_key=root_key, issuer="Plain")
        assert _reason([_der(signer)], [not_a_ca]) == VerificationFailureReason.CERTIFICATE_INVALID


def test_a_trusted_signer_needs_a_p256_key(root_key: ec.EllipticCurvePrivateKey) -> None:
    p384 = ec.generate_private_key(ec.SECP384R1())
    signer = _certificate(p384, "P-384 Signer")
    assert _reason([_der(signer)], [signer]) == VerificationFailureReason.CERTIFICATE_INVALID


def test_undecodable_or_empty_chains_are_malformed(own_certificate: bytes) -> None:
    assert _reason([b"not DER"], [own_certificate]) == VerificationFailureReason.MALFORMED
    assert _reason([], [own_certificate]) == VerificationFailureReason.MALFORMED


def test_bad_trust_anchor_configuration_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="trust anchor 0"):
        load_trust_anchors([b"junk"])


def test_an_mdoc_signed_under_an_iaca_root_verifies_end_to_end(
    root: x509.Certificate, root_key: ec.EllipticCurvePrivateKey
) -> None:
    signer_key = SigningKey("ds-1", generate_p256_key())
    intermediate_key = generate_p256_key()
    intermediate = _certificate(
        intermediate_key, "Intermediate", issuer_key=root_key, issuer="Example IACA", ca=True
    )
    signer = _certificate(
        signer_key.private_key, "Signer", issuer_key=intermediate_key, issuer="Intermediate"
    )
    mdoc = issue_mdoc(
        {PID_NAMESPACE: {"given_name": "Erika"}},
        doc_type=PID_DOCTYPE,
        holder_jwk=public_jwk(generate_p256_key().public_key()),
        validity=ValidityInfo(NOW, NOW, NOW + timedelta(days=7)),
        signing_key=signer_key,
        certificate_chain=[_der(signer), _der(intermediate)],
    )
    verified = verify_mdoc(mdoc.credential, trust_anchors=[root], now=NOW + timedelta(days=1))
    assert verified.issuer_certificate == signer
    assert verified.claims == {PID_NAMESPACE: {"given_name": "Erika"}}


def test_a_certificate_with_a_negative_serial_is_malformed(own_certificate: bytes) -> None:
    """`cryptography` only warns about it; an untrusted chain gets no such leniency."""
    der = bytearray(own_certificate)
    serial_start = 4 + 4 + 5 + 2  # certificate and TBS headers, version, serial header
    assert der[serial_start - 2] == 0x02  # INTEGER
    der[serial_start] |= 0x80
    assert _reason([bytes(der)], [own_certificate]) == VerificationFailureReason.MALFORMED
