"""Key proofs and key attestations at the Credential Endpoint (OpenID4VCI 1.0 App. D, F)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from jwcrypto import jwk

from eudi_connect.core.oid4vci import (
    ProofPolicy,
    ProtocolError,
    WalletErrorCode,
    verify_attestation_proof,
    verify_jwt_proof,
)
from eudi_connect.core.oid4vci.key_proof import AttestationTrust
from tests.unit.oid4vci_wallet import new_key, public_jwk, sign

NOW = 1_800_000_000
ISSUER = "https://issuer.example/issuers/t1"
HOLDER = new_key()
PROVIDER = new_key()
PROVIDER_TRUST = AttestationTrust(
    keys_by_kid={"wp-1": PROVIDER.get_op_key("verify")}  # the provider's public key
)


def policy(**changes: Any) -> ProofPolicy:
    return ProofPolicy(credential_issuer=ISSUER, now=NOW, **changes)


def jwt_proof(
    claims: dict[str, Any] | None = None,
    header: dict[str, Any] | None = None,
    *,
    key: jwk.JWK = HOLDER,
) -> str:
    body = {"aud": ISSUER, "iat": NOW, "nonce": "c-1", **(claims or {})}
    jose = {"typ": "openid4vci-proof+jwt", "alg": "ES256", "jwk": public_jwk(key), **(header or {})}
    return sign(key, jose, body)


def attestation(keys: list[jwk.JWK], **claims: Any) -> str:
    body = {
        "iat": NOW - 60,
        "exp": NOW + 3600,
        "attested_keys": [public_jwk(k) for k in keys],
        "key_storage": ["iso_18045_high"],
        "user_authentication": ["iso_18045_moderate"],
        "nonce": "c-1",
        **claims,
    }
    body = {k: v for k, v in body.items() if v is not None}
    return sign(PROVIDER, {"typ": "key-attestation+jwt", "alg": "ES256", "kid": "wp-1"}, body)


def refused(code: WalletErrorCode, token: str, checked_policy: ProofPolicy | None = None) -> None:
    with pytest.raises(ProtocolError) as caught:
        verify_jwt_proof(token, checked_policy or policy())
    assert caught.value.code is code


def test_a_jwt_proof_gives_its_key_and_nonce() -> None:
    """A valid proof yields the public JWK it was signed with and the c_nonce it carries."""
    proven = verify_jwt_proof(jwt_proof(), policy())
    assert proven.keys == (public_jwk(HOLDER),)
    assert proven.nonces == ("c-1",)
    assert proven.attestation is None


@pytest.mark.parametrize(
    ("claims", "header"),
    [
        ({"aud": "https://other.example"}, {}),
        ({"iat": NOW - 3600}, {}),
        ({"iat": NOW + 600}, {}),
        ({"iss": "some-client"}, {}),
        ({}, {"typ": "JWT"}),
        ({}, {"kid": "k"}),
    ],
)
def test_a_proof_that_breaks_a_rule_is_invalid_proof(
    claims: dict[str, Any], header: dict[str, Any]
) -> None:
    """Wrong aud, stale or future iat, iss with anonymous access, typ, alg or kid: refused."""
    refused(WalletErrorCode.INVALID_PROOF, jwt_proof(claims, header))


def test_a_symmetric_alg_is_refused_before_any_signature_work() -> None:
    """A proof relabelled as HS256 is refused on its alg alone."""
    protected, body, signature = jwt_proof().split(".")
    header = json.loads(base64.urlsafe_b64decode(protected + "=" * (-len(protected) % 4)))
    relabelled = base64.urlsafe_b64encode(json.dumps({**header, "alg": "HS256"}).encode())
    token = ".".join((relabelled.decode().rstrip("="), body, signature))
    refused(WalletErrorCode.INVALID_PROOF, token)


def test_a_proof_without_a_nonce_is_refused_when_nonces_are_in_use() -> None:
    """The issuer has a Nonce Endpoint, so a proof without nonce is invalid_proof."""
    token = sign(
        HOLDER,
        {"typ": "openid4vci-proof+jwt", "alg": "ES256", "jwk": public_jwk(HOLDER)},
        {"aud": ISSUER, "iat": NOW},
    )
    refused(WalletErrorCode.INVALID_PROOF, token)
    assert verify_jwt_proof(token, policy(nonce_required=False)).nonces == ()


def test_a_proof_signed_by_another_key_is_refused() -> None:
    """The signature must verify with the jwk header's key."""
    forged = sign(
        new_key(),
        {"typ": "openid4vci-proof+jwt", "alg": "ES256", "jwk": public_jwk(HOLDER)},
        {"aud": ISSUER, "iat": NOW, "nonce": "c-1"},
    )
    refused(WalletErrorCode.INVALID_PROOF, forged)


def test_a_client_id_must_be_the_proof_iss() -> None:
    """With an authenticated client, iss must name it."""
    assert verify_jwt_proof(jwt_proof({"iss": "w-1"}), policy(client_id="w-1")).keys
    refused(WalletErrorCode.INVALID_PROOF, jwt_proof(), policy(client_id="w-1"))


def test_a_key_attestation_vouches_for_every_attested_key() -> None:
    """A proof with a key attestation binds to all the attested keys."""
    second = new_key()
    token = jwt_proof(header={"key_attestation": attestation([HOLDER, second])})
    proven = verify_jwt_proof(
        token, policy(key_attestation_required=True, attestation_trust=PROVIDER_TRUST)
    )
    assert proven.keys == (public_jwk(HOLDER), public_jwk(second))
    assert proven.nonces == ("c-1", "c-1")
    assert proven.attestation is not None
    assert proven.attestation.key_storage == ("iso_18045_high",)


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": NOW - 10},
        {"exp": None},
        {"key_storage": ["iso_18045_basic"]},
        {"user_authentication": ["iso_18045_basic"]},
        {"attested_keys": []},
    ],
)
def test_an_unacceptable_key_attestation_is_refused(claims: dict[str, Any]) -> None:
    """Expired, without exp, too weak a storage or user authentication, or no keys."""
    checked = policy(
        attestation_trust=PROVIDER_TRUST,
        accepted_key_storage=["iso_18045_high"],
        accepted_user_authentication=["iso_18045_moderate", "iso_18045_high"],
    )
    token = jwt_proof(header={"key_attestation": attestation([HOLDER], **claims)})
    refused(WalletErrorCode.INVALID_PROOF, token, checked)


def test_a_key_attestation_from_an_untrusted_provider_is_refused() -> None:
    """Only wallet providers in the tenant's trust configuration may attest keys."""
    token = jwt_proof(header={"key_attestation": attestation([HOLDER])})
    refused(WalletErrorCode.INVALID_PROOF, token, policy())


def test_a_key_attestation_nobody_asked_to_evaluate_is_ignored() -> None:
    """An issuer that trusts no provider and requires none binds the proof's own key."""
    token = jwt_proof(header={"key_attestation": attestation([HOLDER, new_key()])})
    proven = verify_jwt_proof(token, policy(evaluate_key_attestations=False))
    assert proven.keys == (public_jwk(HOLDER),)
    assert proven.attestation is None
    required = policy(evaluate_key_attestations=False, key_attestation_required=True)
    refused(WalletErrorCode.INVALID_PROOF, token, required)


def test_a_proof_by_a_key_the_attestation_does_not_list_is_refused() -> None:
    """The proof's own key must be one of the attested keys."""
    token = jwt_proof(header={"key_attestation": attestation([new_key()])})
    refused(WalletErrorCode.INVALID_PROOF, token, policy(attestation_trust=PROVIDER_TRUST))


def test_a_required_key_attestation_that_is_missing_is_refused() -> None:
    """A configuration that needs attested keys refuses a bare jwt proof."""
    refused(
        WalletErrorCode.INVALID_PROOF,
        jwt_proof(),
        policy(key_attestation_required=True, attestation_trust=PROVIDER_TRUST),
    )


def test_the_attestation_proof_type_needs_no_proof_of_possession() -> None:
    """An `attestation` proof binds to the attested keys alone."""
    keys = [new_key(), new_key(), new_key()]
    proven = verify_attestation_proof(attestation(keys), policy(attestation_trust=PROVIDER_TRUST))
    assert proven.keys == tuple(public_jwk(k) for k in keys)


def _certificate(
    subject_key: ec.EllipticCurvePrivateKey,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    subject: str,
    issuer: str,
    ca: bool,
) -> x509.Certificate:
    now = datetime.fromtimestamp(NOW, UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(subject_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    return builder.sign(issuer_key, hashes.SHA256())


def test_a_key_attestation_signed_under_a_trusted_ca_is_accepted() -> None:
    """A wallet provider may sign with an x5c chain to a CA the tenant trusts."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    signer_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate(ca_key, ca_key, subject="WP CA", issuer="WP CA", ca=True)
    leaf = _certificate(signer_key, ca_key, subject="WP signer", issuer="WP CA", ca=False)
    signer = jwk.JWK.from_pem(
        signer_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    x5c = [base64.b64encode(leaf.public_bytes(serialization.Encoding.DER)).decode()]
    token = sign(
        signer,
        {"typ": "key-attestation+jwt", "alg": "ES256", "x5c": x5c},
        {"iat": NOW, "exp": NOW + 60, "attested_keys": [public_jwk(HOLDER)], "nonce": "c-1"},
    )
    trusted = policy(attestation_trust=AttestationTrust(anchors=(ca,)))
    assert verify_attestation_proof(token, trusted).keys == (public_jwk(HOLDER),)
    other_ca_key = ec.generate_private_key(ec.SECP256R1())
    other_ca = _certificate(other_ca_key, other_ca_key, subject="X", issuer="X", ca=True)
    with pytest.raises(ProtocolError):
        verify_attestation_proof(
            token, policy(attestation_trust=AttestationTrust(anchors=(other_ca,)))
        )
