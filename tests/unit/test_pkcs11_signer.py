"""The PKCS#11 signer against a throwaway SoftHSM2 token: ES256 signatures in the JOSE
form, certificates signed inside the token, sessions that never cross a fork, and the
backoff after a token failure."""

from __future__ import annotations

import multiprocessing
import os
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509

from eudi_connect.core.jose import es256_verify, sign_jws, split_jws
from eudi_connect.core.mdoc import make_issuer_certificate
from eudi_connect.core.pkcs11_signer import generate_key
from eudi_connect.core.pkcs11_token import (
    BACKOFF_FIRST_SECONDS,
    Pkcs11Token,
    TokenConfig,
    token_for,
)
from eudi_connect.core.signer import Signer
from eudi_connect.core.signers import open_signer
from eudi_connect.devtools.softhsm import SoftToken
from eudi_connect.errors import InvalidArgumentError, UnavailableError


def config_of(token: SoftToken, **changes: str) -> TokenConfig:
    fields = {
        "module": token.module,
        "token_label": token.label,
        "pin_file": str(token.pin_file),
        **changes,
    }
    return TokenConfig(**fields)  # type: ignore[arg-type]


def test_a_token_key_signs_jws_and_its_own_certificate(soft_token: SoftToken) -> None:
    """Signatures are raw r || s that verify with the public key; a self-signed certificate
    made through the token verifies as issued by itself and holds the token's key."""
    signer = generate_key(config_of(soft_token), "unit")
    assert isinstance(signer, Signer)
    assert es256_verify(signer.public_key(), b"data", signer.sign(b"data"))
    token = sign_jws({"kid": signer.kid}, {"sub": "x"}, signer)
    parts = split_jws(token)
    assert len(parts.signature) == 64
    assert es256_verify(signer.public_key(), parts.signing_input, parts.signature)

    now = datetime.now(UTC)
    der = make_issuer_certificate(
        signer,
        issuer_name="Token Issuer",
        country="DE",
        not_before=now - timedelta(days=1),
        not_after=now + timedelta(days=1),
    )
    certificate = x509.load_der_x509_certificate(der)
    certificate.verify_directly_issued_by(certificate)
    assert certificate.public_key() == signer.public_key()


def test_a_reference_reopens_the_same_key(soft_token: SoftToken) -> None:
    """What crosses to a worker names the key, not a session: reopened, it signs alike."""
    signer = generate_key(config_of(soft_token), "unit")
    reference = signer.reference()
    assert reference.software_der is None
    reopened = open_signer(reference)
    assert reopened.kid == signer.kid
    assert es256_verify(signer.public_key(), b"again", reopened.sign(b"again"))


def _sign_in_child(token: Pkcs11Token, queue: multiprocessing.Queue[str]) -> None:
    try:
        token.run(lambda session: None)
        queue.put("used")
    except RuntimeError as error:
        queue.put(str(error))


def test_a_session_never_crosses_a_fork(soft_token: SoftToken) -> None:
    """A forked child that inherits a token object refuses to use its session."""
    signer = generate_key(config_of(soft_token), "unit")
    signer.sign(b"open the session")
    token = token_for(config_of(soft_token))
    context = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[str] = context.Queue()
    child = context.Process(target=_sign_in_child, args=(token, queue))
    child.start()
    child.join(30)
    assert "cannot cross a fork" in queue.get(timeout=5)
    assert os.getpid() == token._pid


def test_a_failing_token_is_retried_only_after_the_backoff(soft_token: SoftToken) -> None:
    """After a refused PIN, calls fail at once (without asking the token) until the backoff
    has passed; the next attempt after it reaches the token again."""
    now = [1000.0]
    token = Pkcs11Token(config_of(soft_token), clock=lambda: now[0])
    soft_token.pin_file.write_text("000000\n")
    with pytest.raises(UnavailableError) as refused:
        token.run(lambda session: None)
    assert refused.value.reason == "HSM_PIN_INCORRECT"
    soft_token.pin_file.write_text(soft_token.pin + "\n")
    now[0] += BACKOFF_FIRST_SECONDS / 2
    with pytest.raises(UnavailableError) as waiting:
        token.run(lambda session: None)
    assert waiting.value is refused.value  # the token was not asked again
    now[0] += BACKOFF_FIRST_SECONDS
    assert token.run(lambda session: "signed") == "signed"
    token.close()


def test_a_refused_pin_is_never_offered_again(soft_token: SoftToken) -> None:
    """Past the backoff, the same wrong PIN fails without a login (an HSM locks its PIN
    after a few wrong ones); a changed PIN file is tried, and once right, signs."""
    now = [1000.0]
    token = Pkcs11Token(config_of(soft_token), clock=lambda: now[0])
    soft_token.pin_file.write_text("000000\n")
    with pytest.raises(UnavailableError) as refused:
        token.run(lambda session: None)
    assert refused.value.reason == "HSM_PIN_INCORRECT"
    now[0] += 3600  # far past any backoff
    with pytest.raises(UnavailableError) as again:
        token.run(lambda session: None)
    assert again.value is refused.value  # the token was not asked again
    soft_token.pin_file.write_text("111111\n")
    with pytest.raises(UnavailableError) as other:
        token.run(lambda session: None)
    assert other.value is not refused.value  # a new PIN is offered
    assert other.value.reason == "HSM_PIN_INCORRECT"
    soft_token.pin_file.write_text(soft_token.pin + "\n")
    now[0] += 3600
    assert token.run(lambda session: "signed") == "signed"
    token.close()


def test_missing_pins_and_incomplete_settings_are_refused(
    soft_token: SoftToken,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A PIN variable that is unset, or a module that cannot be loaded, is UNAVAILABLE
    (HSM_PIN_MISSING, HSM_MODULE); settings without a token, or with two PIN sources, are
    refused before anything is opened."""
    monkeypatch.delenv("EUDI_TEST_NO_SUCH_PIN", raising=False)
    token = Pkcs11Token(config_of(soft_token, pin_file="", pin_env="EUDI_TEST_NO_SUCH_PIN"))
    with pytest.raises(UnavailableError) as missing:
        token.run(lambda session: None)
    assert missing.value.reason == "HSM_PIN_MISSING"
    with pytest.raises(UnavailableError) as no_module:
        Pkcs11Token(config_of(soft_token, module="/no/such/pkcs11.so")).run(lambda s: None)
    assert no_module.value.reason == "HSM_MODULE"
    for broken in (
        config_of(soft_token, token_label=""),
        config_of(soft_token, pin_env="ALSO"),
        config_of(soft_token, module=""),
    ):
        with pytest.raises(InvalidArgumentError):
            Pkcs11Token(broken)
