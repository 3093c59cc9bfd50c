"""mdoc holder binding through the real server: issue an mdoc, present it as a DeviceResponse
signed over an OpenID4VP session, and verify it with require_key_binding; every mismatch is
refused with its reason, revocation still shows, and the CLI presents mdocs too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from eudi.connect.v1 import credential_service_pb2 as pb
from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc
from google.protobuf import json_format

from eudi_connect.cli.main import main
from eudi_connect.core.jose import generate_p256_key, private_jwk
from eudi_connect.core.mdoc import PID_NAMESPACE, make_device_response, openid4vp_session_transcript

from .chunks import each_result
from .client_helpers import issue_pid_mdoc
from .conftest import Tenant
from .template_helpers import expect_error

F = pb  # VerificationFailure values live in the credential service's module
CLIENT_ID = "x509_san_dns:verifier.example"
NONCE = "n-2f9c81"
RESPONSE_URI = "https://verifier.example/response"
REQUIRE_KB = pb.VerificationPolicy(require_key_binding=True)


def _transcript(
    client_id: str = CLIENT_ID, nonce: str = NONCE, response_uri: str = RESPONSE_URI
) -> bytes:
    return openid4vp_session_transcript(client_id=client_id, nonce=nonce, response_uri=response_uri)


def _present(
    credential: str,
    holder: ec.EllipticCurvePrivateKey,
    *,
    transcript: bytes | None = None,
    disclose: list[str] | None = None,
) -> str:
    """A DeviceResponse for `credential`, over the default session unless told another."""
    return make_device_response(
        credential,
        holder_key=holder,
        session_transcript=_transcript() if transcript is None else transcript,
        disclose=disclose,
    )


async def _issue_and_present(
    stub: pb_grpc.CredentialServiceStub,
    tenant: Tenant,
    *,
    transcript: bytes | None = None,
    disclose: list[str] | None = None,
) -> str:
    """An mdoc issued to a fresh holder key, presented by that holder."""
    holder = generate_p256_key()
    issued = await issue_pid_mdoc(stub, tenant, holder)
    return _present(issued.credential, holder, transcript=transcript, disclose=disclose)


async def _verify(
    stub: pb_grpc.CredentialServiceStub, tenant: Tenant, credential: str, **fields: Any
) -> pb.VerifyCredentialResponse:
    fields.setdefault("expected_audience", CLIENT_ID)
    fields.setdefault("expected_nonce", NONCE)
    fields.setdefault("expected_response_uri", RESPONSE_URI)
    fields.setdefault("policy", REQUIRE_KB)
    response: pb.VerifyCredentialResponse = await stub.VerifyCredential(
        pb.VerifyCredentialRequest(credential=credential, **fields), metadata=tenant.metadata
    )
    return response


def _checks(response: pb.VerifyCredentialResponse) -> list[tuple[str, bool]]:
    return [(c.name, c.passed) for c in response.checks]


def _claims(response: pb.VerifyCredentialResponse) -> dict[str, Any]:
    claims: dict[str, Any] = json_format.MessageToDict(response.claims)
    return claims


async def test_a_device_response_verifies_with_key_binding(
    stub: pb_grpc.CredentialServiceStub, tenant: Tenant
) -> None:
    presented = await _issue_and_present(stub, tenant)
    response = await _verify(stub, tenant, presented)
    assert response.valid, response.detail
    assert response.key_binding_verified
    assert response.format == "mso_mdoc"
    assert response.status == pb.CREDENTIAL_STATUS_VALID
    assert _checks(response) == [
        ("format", True),
        ("issuer", True),
        ("signature", True),
        ("type", True),
        ("validity", True),
        ("disclosures", True),
        ("key_binding", True),
        ("status", True),
    ]
    assert "OpenID4VP" in response.checks[6].detail
    assert _claims(response)[PID_NAMESPACE]["family_name"] == "Mustermann"


async def test_selective_disclosure_shows_only_the_chosen_elements(
    stub: pb_grpc.CredentialServiceStub, tenant: Tenant
) -> None:
    presented = await _issue_and_present(stub, tenant, disclose=["given_name", "age_over_18"])
    response = await _verify(stub, tenant, presented)
    assert response.valid, response.detail
    assert _claims(response) == {PID_NAMESPACE: {"given_name": "Erika", "age_over_18": True}}


@pytest.mark.parametrize(
    "mismatch",
    [
        {"expected_nonce": "another-nonce"},
        {"expected_audience": "x509_san_dns:evil.example"},
        {"expected_response_uri": "https://evil.example/response"},
        {"expected_jwk_thumbprint": bytes(32)},
        {"mdoc_session_transcript": _transcript(nonce="another-nonce")},
    ],
    ids=["nonce", "client_id", "response_uri", "jwk_thumbprint", "explicit_transcript"],
)
async def test_another_session_is_refused(
    mismatch: dict[str, Any], stub: pb_grpc.CredentialServiceStub, tenant: Tenant
) -> None:
    presented = await _issue_and_present(stub, tenant)
    response = await _verify(stub, tenant, presented, **mismatch)
    assert not response.valid
    assert response.failure == F.VERIFICATION_FAILURE_KEY_BINDING_INVALID
    assert not response.key_binding_verified
    assert _checks(response)[-1] == ("key_binding", False)


async def test_another_holder_key_is_refused(
    stub: pb_grpc.CredentialServiceStub, tenant: Tenant
) -> None:
    issued = await issue_pid_mdoc(stub, tenant, generate_p256_key())
    presented = _present(issued.credential, generate_p256_key())
    response = await _verify(stub, tenant, presented)
    assert response.failure == F.VERIFICATION_FAILURE_KEY_BINDING_INVALID


async def test_an_explicit_transcript_wins_over_the_openid4vp_fields(
    stub: pb_grpc.CredentialServiceStub, tenant: Tenant
) -> None:
    transcript = _transcript(client_id="x509_san_dns:other.example")
    presented = await _issue_and_present(stub, tenant, transcript=transcript)
    response = await _verify(stub, tenant, presented, mdoc_session_transcript=transcript)
    assert response.valid, response.detail
    assert response.key_binding_verified
    assert "given" in response.checks[6].detail


async def test_issuer_signed_alone_still_fails_key_binding_required(
    stub: pb_grpc.CredentialServiceStub, tenant: Tenant
) -> None:
    issued = await issue_pid_mdoc(stub, tenant, generate_p256_key())
    response = await _verify(stub, tenant, issued.credential)
    assert response.failure == F.VERIFICATION_FAILURE_KEY_BINDING_REQUIRED
    plain = await stub.VerifyCredential(
        pb.VerifyCredentialRequest(credential=issued.credential), metadata=tenant.metadata
    )
    assert plain.valid, plain.detail
    assert not plain.key_binding_verified
    assert "key_binding" not in [name for name, _ in _checks(plain)]


async def test_a_device_response_without_a_session_is_invalid_argument(
    stub: pb_grpc.CredentialServiceStub, tenant: Tenant
) -> None:
    presented = await _issue_and_present(stub, tenant)
    await expect_error(
        _verify(stub, tenant, presented, expected_response_uri=""),
        grpc.StatusCode.INVALID_ARGUMENT,
        "SESSION_TRANSCRIPT_MISSING",
    )
    await expect_error(
        _verify(stub, tenant, presented, mdoc_session_transcript=b"\xff"),
        grpc.StatusCode.INVALID_ARGUMENT,
        "SESSION_TRANSCRIPT_INVALID",
    )


async def test_a_revoked_mdoc_presented_is_revoked(
    stub: pb_grpc.CredentialServiceStub, tenant: Tenant
) -> None:
    holder = generate_p256_key()
    issued = await issue_pid_mdoc(stub, tenant, holder)
    await stub.RevokeCredential(
        pb.RevokeCredentialRequest(credential_id=issued.credential_id, reason="lost"),
        metadata=tenant.metadata,
    )
    presented = _present(issued.credential, holder)
    response = await _verify(stub, tenant, presented)
    assert response.failure == F.VERIFICATION_FAILURE_REVOKED
    assert response.status == pb.CREDENTIAL_STATUS_REVOKED
    assert response.key_binding_verified  # the presentation itself was fine
    assert _checks(response)[-2:] == [("key_binding", True), ("status", False)]


async def test_the_batch_rpc_verifies_device_responses(
    stub: pb_grpc.CredentialServiceStub, tenant: Tenant
) -> None:
    presented = await _issue_and_present(stub, tenant)
    session: dict[str, Any] = {
        "expected_audience": CLIENT_ID,
        "expected_nonce": NONCE,
        "expected_response_uri": RESPONSE_URI,
        "policy": REQUIRE_KB,
    }
    items = [
        pb.VerifyCredentialRequest(credential=presented, **session),
        pb.VerifyCredentialRequest(credential=presented, **{**session, "expected_nonce": "x"}),
        pb.VerifyCredentialRequest(credential=presented),
    ]
    results = {
        r.index: r
        async for r in each_result(
            stub.VerifyCredentialBatch(
                pb.VerifyCredentialBatchRequest(items=items), metadata=tenant.metadata
            )
        )
    }
    assert results[0].result.valid
    assert results[0].result.key_binding_verified
    assert results[1].result.failure == F.VERIFICATION_FAILURE_KEY_BINDING_INVALID
    assert results[2].WhichOneof("outcome") == "error"


async def test_the_cli_presents_an_mdoc(
    stub: pb_grpc.CredentialServiceStub,
    tenant: Tenant,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    holder = generate_p256_key()
    key_file = tmp_path / "holder-key.json"
    key_file.write_text(json.dumps(private_jwk(holder)), encoding="utf-8")
    issued = await issue_pid_mdoc(stub, tenant, holder)
    credential_file = tmp_path / "mdoc.txt"
    credential_file.write_text(issued.credential, encoding="utf-8")
    main(
        [
            "present",
            f"@{credential_file}",
            "--holder-key",
            str(key_file),
            "--disclose",
            "family_name",
            "--audience",
            CLIENT_ID,
            "--nonce",
            NONCE,
            "--response-uri",
            RESPONSE_URI,
        ]
    )
    presented = capsys.readouterr().out.strip()
    response = await _verify(stub, tenant, presented)
    assert response.valid, response.detail
    assert response.key_binding_verified
    assert _claims(response) == {PID_NAMESPACE: {"family_name": "Mustermann"}}
    with pytest.raises(SystemExit) as refused:
        main(["present", issued.credential, "--holder-key", str(key_file), "--nonce", NONCE])
    assert refused.value.code == 2  # a usage error
    assert "--response-uri" in capsys.readouterr().err
