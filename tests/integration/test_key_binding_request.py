"""Key binding is verified only against an audience and a nonce, through a real server
process: a request that asks for it with less is INVALID_ARGUMENT, and a KB-JWT checked
without them is not reported as verified, by the API or by the CLI."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from eudi.connect.v1 import credential_service_pb2 as pb

from eudi_connect.core.jose import generate_p256_key, public_jwk
from eudi_connect.core.sdjwt import make_presentation

from .chunks import each_result
from .client_helpers import pid_request
from .processes import CLI
from .template_helpers import expect_error
from .trust_helpers import Served, ServerProcess, connected, server_process

AUDIENCE, NONCE = "https://verifier.example", "n-1"
INCOMPLETE = "KEY_BINDING_CHECK_INCOMPLETE"


@pytest.fixture(scope="module")
def process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with server_process(tmp_path_factory.mktemp("kb"), tenants=("Verifier",)) as running:
        yield running


@pytest.fixture
async def served(process: ServerProcess) -> AsyncIterator[Served]:
    async with connected(process.address, process.tenants) as connection:
        yield connection


@pytest.fixture
async def presentation(served: Served) -> str:
    """A PID presented with a KB-JWT made for AUDIENCE and NONCE."""
    holder = generate_p256_key()
    issued = await served.credentials.IssueCredential(
        pid_request(holder_jwk=json.dumps(public_jwk(holder.public_key()))),
        metadata=served.tenants["Verifier"].metadata,
    )
    return make_presentation(
        issued.credential,
        disclose=["given_name"],
        holder_key=holder,
        audience=AUDIENCE,
        nonce=NONCE,
        issued_at=int(time.time()),
    )


@pytest.mark.parametrize(
    "asked",
    [
        {"policy": pb.VerificationPolicy(require_key_binding=True)},
        {"expected_audience": AUDIENCE},
        {"expected_nonce": NONCE},
        {"policy": pb.VerificationPolicy(require_key_binding=True), "expected_nonce": NONCE},
    ],
)
async def test_key_binding_asked_for_without_audience_and_nonce_is_refused(
    asked: dict[str, Any], served: Served, presentation: str
) -> None:
    """require_key_binding, or one of audience and nonce, without both: the KB-JWT could
    be any verifier's, so the request is INVALID_ARGUMENT (KEY_BINDING_CHECK_INCOMPLETE),
    alone and as a batch item."""
    tenant = served.tenants["Verifier"]
    await expect_error(
        served.verify(tenant, presentation, **asked),
        grpc.StatusCode.INVALID_ARGUMENT,
        INCOMPLETE,
    )
    batch = pb.VerifyCredentialBatchRequest(
        items=[
            pb.VerifyCredentialRequest(credential=presentation, **asked),
            pb.VerifyCredentialRequest(
                credential=presentation, expected_audience=AUDIENCE, expected_nonce=NONCE
            ),
        ]
    )
    results = {
        r.index: r
        async for r in each_result(
            served.credentials.VerifyCredentialBatch(batch, metadata=tenant.metadata)
        )
    }
    assert results[0].error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert results[1].result.key_binding_verified


async def test_a_kb_jwt_is_verified_only_against_an_audience_and_a_nonce(
    served: Served, presentation: str
) -> None:
    """With both, the KB-JWT is verified (and another verifier's or session's is refused);
    with neither, the credential verifies but its key binding is reported not verified."""
    tenant = served.tenants["Verifier"]
    required = pb.VerificationPolicy(require_key_binding=True)
    bound = await served.verify(
        tenant, presentation, expected_audience=AUDIENCE, expected_nonce=NONCE, policy=required
    )
    assert bound.valid, bound.detail
    assert bound.key_binding_verified
    assert ("key_binding", True) in [(c.name, c.passed) for c in bound.checks]
    elsewhere = await served.verify(
        tenant, presentation, expected_audience="https://other.example", expected_nonce=NONCE
    )
    assert elsewhere.failure == pb.VERIFICATION_FAILURE_AUDIENCE_MISMATCH
    replayed = await served.verify(
        tenant, presentation, expected_audience=AUDIENCE, expected_nonce="n-2"
    )
    assert replayed.failure == pb.VERIFICATION_FAILURE_NONCE_MISMATCH

    unbound = await served.verify(tenant, presentation)
    assert unbound.valid, unbound.detail
    assert not unbound.key_binding_verified
    assert "key_binding" not in [c.name for c in unbound.checks]
    assert "not verified" in unbound.detail


def _cli_verify(process: ServerProcess, presentation: Path, *flags: str) -> Any:
    client = ["--address", process.address, "--api-key", process.tenants["Verifier"].api_key]
    return subprocess.run(
        [*CLI, "verify", f"@{presentation}", *client, *flags],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_the_cli_does_not_call_an_unchecked_kb_jwt_verified(
    process: ServerProcess, presentation: str, tmp_path: Path
) -> None:
    """`verify` of a presentation without --audience and --nonce prints
    key_binding_verified false and says why; with one of them it fails; with both, true."""
    saved = tmp_path / "presentation.txt"
    saved.write_text(presentation)
    plain = _cli_verify(process, saved)
    assert plain.returncode == 0, plain.stderr
    assert json.loads(plain.stdout)["key_binding_verified"] is False
    assert "--audience and --nonce" in plain.stderr
    half = _cli_verify(process, saved, "--audience", AUDIENCE)
    assert half.returncode == 1
    assert "INVALID_ARGUMENT" in half.stderr
    both = _cli_verify(process, saved, "--audience", AUDIENCE, "--nonce", NONCE)
    assert both.returncode == 0, both.stderr
    assert json.loads(both.stdout)["key_binding_verified"] is True
    assert "note:" not in both.stderr
