"""The verifier's own pieces around core.oid4vp: its certificate and DNS names, the
transaction data hashes, the DCQL NaN refusal, and the stored forms of policies and
results."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509

from eudi_connect.core.encoding import b64url_encode
from eudi_connect.core.jose import generate_p256_key
from eudi_connect.core.oid4vp import (
    ClientIdPrefix,
    DcqlError,
    check_client_id,
    client_id_for,
    encode_transaction_data,
    parse_dcql,
)
from eudi_connect.core.oid4vp.certificate import checked_dns_name, make_verifier_certificate
from eudi_connect.core.oid4vp.transaction_data import (
    check_supported,
    entries_for,
    hashes_problem,
)
from eudi_connect.core.status_list import TokenStatus
from eudi_connect.core.verdicts import Check, VerificationFailureReason
from eudi_connect.errors import InvalidArgumentError
from eudi_connect.services.presentation.requests import (
    policy_from_text,
    policy_text,
    strict_json,
)
from eudi_connect.services.presentation.results import (
    PresentedResult,
    parse_results,
    results_text,
)
from eudi_connect.services.verification import (
    CheckResult,
    VerificationOutcome,
    VerificationPolicy,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
QUERY = parse_dcql(
    {
        "credentials": [
            {"id": "pid", "format": "dc+sd-jwt", "meta": {"vct_values": ["urn:x"]}},
            {"id": "mdl", "format": "mso_mdoc", "meta": {"doctype_value": "org.iso.18013.5.1.mDL"}},
        ]
    }
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Verifier.Example.COM", "verifier.example.com"),
        ("127.0.0.1", "127.0.0.1"),
        ("localhost", "localhost"),
        ("a-b.example.", "a-b.example"),
    ],
)
def test_host_names_are_accepted_in_lower_case(name: str, expected: str) -> None:
    """Host names and IPv4 literals pass, lower-cased, without a trailing dot."""
    assert checked_dns_name(name) == expected


@pytest.mark.parametrize(
    "name", ["", "not a name", "-a.example", "a_b.example", "*.example", "é.example", "a" * 64]
)
def test_what_is_no_host_name_is_refused(name: str) -> None:
    """Spaces, wildcards, underscores, non-ASCII and over-long labels are refused."""
    with pytest.raises(InvalidArgumentError) as refused:
        checked_dns_name(name)
    assert refused.value.reason == "VERIFIER_DNS_NAME_INVALID"


def test_the_verifier_certificate_names_its_dns_name_for_both_prefixes() -> None:
    """The leaf's only SAN is the DNS name; both client ids check against it."""
    key = generate_p256_key()
    der = make_verifier_certificate(
        key,
        dns_name="127.0.0.1",
        subject_name="verifier t1",
        not_before=NOW,
        not_after=NOW + timedelta(days=1),
    )
    certificate = x509.load_der_x509_certificate(der)
    san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert list(san) == [x509.DNSName("127.0.0.1")]
    assert not certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    for prefix in ClientIdPrefix:
        check_client_id(client_id_for(prefix, der, dns_name="127.0.0.1"), der)
    assert certificate.public_key() == key.public_key()


def test_transaction_data_hashes_cover_each_entry_as_sent() -> None:
    """The KB-JWT must hold the SHA-256 of every entry's base64url text; another algorithm,
    a missing hash or none at all is a problem."""
    entry = encode_transaction_data({"type": "t", "credential_ids": ["pid"]})
    other = encode_transaction_data({"type": "u", "credential_ids": ["mdl"]})
    digest = b64url_encode(hashlib.sha256(entry.encode()).digest())
    assert entries_for([entry, other], "pid") == (entry,)
    assert hashes_problem({"transaction_data_hashes": [digest]}, [entry]) is None
    assert hashes_problem({}, []) is None
    assert hashes_problem({}, [entry]) is not None
    assert hashes_problem({"transaction_data_hashes": ["x"]}, [entry]) is not None
    wrong_alg = {"transaction_data_hashes": [digest], "transaction_data_hashes_alg": "sha-512"}
    assert hashes_problem(wrong_alg, [entry]) is not None


def test_transaction_data_this_verifier_cannot_check_is_refused() -> None:
    """Entries for an mdoc, or offering only another hash, are TRANSACTION_DATA_UNSUPPORTED."""
    check_supported([encode_transaction_data({"type": "t", "credential_ids": ["pid"]})], QUERY)
    for entry in (
        {"type": "t", "credential_ids": ["mdl"]},
        {"type": "t", "credential_ids": ["pid"], "transaction_data_hashes_alg": ["sha-384"]},
    ):
        with pytest.raises(InvalidArgumentError) as refused:
            check_supported([encode_transaction_data(entry)], QUERY)
        assert refused.value.reason == "TRANSACTION_DATA_UNSUPPORTED"


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_dcql_text_with_nan_or_infinity_is_refused(constant: str) -> None:
    """JSON has no NaN or Infinity, though Python's parser reads them."""
    text = (
        '{"credentials": [{"id": "a", "format": "dc+sd-jwt", "meta": {"vct_values": ["x"]}, '
        f'"claims": [{{"path": ["age"], "values": [{constant}]}}]}}]}}'
    )
    with pytest.raises(DcqlError, match=constant):
        parse_dcql(text)
    with pytest.raises(InvalidArgumentError) as refused:
        strict_json(f"[{constant}]", "x")
    assert refused.value.reason == "JSON_INVALID"


def test_a_policy_round_trips_through_its_stored_text() -> None:
    """What is stored reads back as the same policy."""
    policy = VerificationPolicy(
        require_key_binding=True,
        max_key_binding_age_seconds=60,
        allowed_vcts=frozenset({"b", "a"}),
        check_status=False,
        clock_skew_seconds=5,
    )
    assert policy_from_text(policy_text(policy)) == policy
    assert policy_from_text(policy_text(VerificationPolicy())) == VerificationPolicy()


def test_results_round_trip_through_their_stored_text() -> None:
    """Every field of a verification outcome survives the store, checks included."""
    outcome = VerificationOutcome(
        valid=False,
        status=TokenStatus.INVALID,
        failure=VerificationFailureReason.REVOKED,
        detail="revoked",
        claims={"given_name": "Erika", "nested": {"n": [1, 2]}},
        issuer="https://issuer.example",
        vct="urn:x",
        key_binding_verified=True,
        checks=(
            CheckResult(Check.FORMAT, True),
            CheckResult(Check.STATUS, False, VerificationFailureReason.REVOKED, "revoked"),
        ),
        format="dc+sd-jwt",
    )
    results = (
        PresentedResult("pid", 0, outcome),
        PresentedResult("pid", 1, VerificationOutcome(valid=True)),
    )
    assert parse_results(results_text(results)) == results
    assert parse_results("") == ()


def test_a_configured_ca_signs_the_verifier_certificate() -> None:
    """With an authority the leaf names the CA as its issuer, carries the CA's key
    identifier and verifies under the CA's key."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from eudi_connect.core.mdoc import CertificateAuthority

    ca_key = generate_p256_key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Verifier CA")])
    ca_certificate = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(NOW)
        .not_valid_after(NOW + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = x509.load_der_x509_certificate(
        make_verifier_certificate(
            generate_p256_key(),
            dns_name="verifier.example",
            subject_name="verifier t1",
            not_before=NOW,
            not_after=NOW + timedelta(days=1),
            authority=CertificateAuthority(ca_certificate, ca_key),
        )
    )
    assert leaf.issuer == ca_name
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    expected = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())
    assert aki.key_identifier == expected.key_identifier
    signature_hash = leaf.signature_hash_algorithm
    assert signature_hash is not None
    ca_key.public_key().verify(leaf.signature, leaf.tbs_certificate_bytes, ec.ECDSA(signature_hash))
