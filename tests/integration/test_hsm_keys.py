"""Issuer keys inside a PKCS#11 token (a throwaway SoftHSM2 token), through real server
processes: made non-extractable in the token, signing credentials, mdocs and status lists
that independent implementations verify, rotated by hand and on schedule, shared by two
servers, and failing with UNAVAILABLE (never a software key) when the token goes."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import cbor2
import grpc
import pkcs11
import pytest
from cryptography import x509
from eudi.connect.v1 import credential_service_pb2 as pb
from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc
from jwcrypto.jwk import JWK
from pycose.headers import X5chain
from pycose.keys.curves import P256
from pycose.keys.ec2 import EC2Key
from pycose.messages.sign1message import Sign1Message
from sd_jwt.verifier import SDJWTVerifier

from eudi_connect.core.encoding import b64url_decode
from eudi_connect.core.jose import generate_p256_key, public_jwk, public_key_from_jwk, split_jws
from eudi_connect.core.status_list import decode_status_list_token
from eudi_connect.devtools.softhsm import SoftToken

from .client_helpers import pid_request
from .processes import cli_env, create_tenant, free_port, run_command, start_server
from .template_helpers import error_info

pytestmark = pytest.mark.slow


class Issuer:
    """A tenant on a database file whose keys the test puts in the token."""

    def __init__(self, folder: Path) -> None:
        self.db = f"sqlite:///{folder / 'eudi.db'}"
        self.db_file = folder / "eudi.db"
        created = create_tenant(self.db, "Acme")
        self.tenant_id = created["tenant_id"]
        self.metadata = (("x-api-key", created["api_key"]),)

    def keys(self, *args: str) -> dict[str, Any]:
        """`eudi-connect keys ARGS --tenant T --db DB`, its JSON output."""
        completed = run_command(
            "keys", *args, "--tenant", self.tenant_id, "--db", self.db, env=None, timeout=120
        )
        assert completed.returncode == 0, completed.stderr
        result: dict[str, Any] = json.loads(completed.stdout)
        return result


@contextmanager
def server(issuer: Issuer, *extra: str) -> Iterator[str]:
    """A server process on the issuer's database (the token is the environment's)."""
    process, address = start_server(issuer.db, *extra)
    try:
        yield address
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


@asynccontextmanager
async def client(address: str) -> AsyncIterator[pb_grpc.CredentialServiceStub]:
    async with grpc.aio.insecure_channel(address) as channel:
        yield pb_grpc.CredentialServiceStub(channel)


async def published_jwks(
    stub: pb_grpc.CredentialServiceStub, issuer: Issuer
) -> dict[str, dict[str, Any]]:
    response = await stub.GetIssuerKeys(pb.GetIssuerKeysRequest(), metadata=issuer.metadata)
    return {key["kid"]: key for key in json.loads(response.jwks)["keys"]}


def their_sd_jwt_verifier(credential: str, jwks: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """sd-jwt-python verifies the credential with the key the JWKS lists under its kid."""

    def issuer_key(issuer: str, header: dict[str, Any]) -> JWK:
        return JWK.from_json(json.dumps(jwks[header["kid"]]))

    payload: dict[str, Any] = SDJWTVerifier(credential, issuer_key).get_verified_payload()
    return payload


def http_status(url: str) -> int:
    """The status of a GET (loopback only), error statuses included."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
        return str(response.read().decode())


async def issue_or_status(
    stub: pb_grpc.CredentialServiceStub, issuer: Issuer
) -> pb.IssueCredentialResponse | grpc.StatusCode:
    """The credential, or the status code the server refused it with."""
    try:
        issued: pb.IssueCredentialResponse = await stub.IssueCredential(
            pid_request(), metadata=issuer.metadata
        )
    except grpc.aio.AioRpcError as error:
        return error.code()
    return issued


def kid_of(credential: str) -> str:
    return str(split_jws(credential.split("~")[0]).header["kid"])


@pytest.fixture
def issuer(tmp_path: Path, soft_token: SoftToken) -> Issuer:
    return Issuer(tmp_path)


async def test_token_keys_sign_credentials_mdocs_and_status_lists_that_verify(
    issuer: Issuer,
    soft_token: SoftToken,
) -> None:
    """Credential and status keys made in the token cannot be read out, and what they sign
    (SD-JWT VC, mdoc, status list token, the key's certificate) verifies independently."""
    made = issuer.keys("create", *soft_token.key_flags(), "--label", "credential-signing")
    status = issuer.keys(
        "create", "--purpose", "status", *soft_token.key_flags(), "--label", "status-signing"
    )
    assert made["backend"] == status["backend"] == "pkcs11"
    assert made["kid"] != status["kid"]

    # Inside the token: sensitive, not extractable, and the private value cannot be read.
    library = pkcs11.lib(soft_token.module)
    with library.get_token(token_label=soft_token.label).open(user_pin=soft_token.pin) as session:
        for label in (made["key_label"], status["key_label"]):
            private = session.get_key(object_class=pkcs11.ObjectClass.PRIVATE_KEY, label=label)
            assert private[pkcs11.Attribute.SENSITIVE] is True
            assert private[pkcs11.Attribute.EXTRACTABLE] is False
            with pytest.raises(pkcs11.exceptions.AttributeSensitive):
                private[pkcs11.Attribute.VALUE]
    # ... and the database holds no private material for them.
    with sqlite3.connect(issuer.db_file) as db:
        rows = db.execute("SELECT kid, private_key_encrypted, backend FROM issuer_keys").fetchall()
    assert {(kid, bytes(blob), backend) for kid, blob, backend in rows} == {
        (made["kid"], b"", "pkcs11"),
        (status["kid"], b"", "pkcs11"),
    }

    with server(issuer) as address:
        async with client(address) as stub:
            issued = await stub.IssueCredential(pid_request(), metadata=issuer.metadata)
            holder = generate_p256_key()
            mdoc = await stub.IssueCredential(
                pid_request(
                    format="mso_mdoc", holder_jwk=json.dumps(public_jwk(holder.public_key()))
                ),
                metadata=issuer.metadata,
            )
            token = (
                await stub.GetStatusList(
                    pb.GetStatusListRequest(status_list_id=issued.status_list_id),
                    metadata=issuer.metadata,
                )
            ).token
            jwks = await published_jwks(stub, issuer)

    assert set(jwks) == {made["kid"], status["kid"]}  # both purposes are published
    assert kid_of(issued.credential) == made["kid"]
    payload = their_sd_jwt_verifier(issued.credential, jwks)
    assert payload["family_name"]

    issuer_auth = cbor2.loads(b64url_decode(mdoc.credential))["issuerAuth"]
    message = Sign1Message.from_cose_obj(list(issuer_auth), True)
    certificate = x509.load_der_x509_certificate(message.uhdr[X5chain])
    certificate.verify_directly_issued_by(certificate)  # self-signed inside the token
    numbers = public_key_from_jwk(jwks[made["kid"]]).public_numbers()
    assert certificate.public_key().public_numbers() == numbers  # type: ignore[union-attr]
    message.key = EC2Key(crv=P256, x=numbers.x.to_bytes(32, "big"), y=numbers.y.to_bytes(32, "big"))
    assert message.verify_signature()

    assert split_jws(token).header["kid"] == status["kid"]
    decoded = decode_status_list_token(
        token, public_key=public_key_from_jwk(jwks[status["kid"]]), now=int(time.time())
    )
    assert decoded.status_list.get(issued.status_index) == 0


async def test_batch_through_the_signing_worker_uses_its_own_token_session(
    issuer: Issuer,
    soft_token: SoftToken,
) -> None:
    """A batch signed in the worker process (its own PKCS#11 session) verifies item by item."""
    made = issuer.keys("create", *soft_token.key_flags())
    items = [pid_request(request_id=f"r{n}") for n in range(300)]
    with server(issuer, "--sign-workers", "1") as address:
        async with client(address) as stub:
            request = pb.IssueCredentialBatchRequest(
                items=pb.IssueCredentialBatchItems(items=items)
            )
            results = [
                result
                async for chunk in stub.IssueCredentialBatch(request, metadata=issuer.metadata)
                for result in chunk.results
            ]
            jwks = await published_jwks(stub, issuer)
    assert [r.WhichOneof("outcome") for r in results] == ["credential"] * len(items)
    for result in results[:: len(items) // 10]:
        assert kid_of(result.credential.credential) == made["kid"]
        assert their_sd_jwt_verifier(result.credential.credential, jwks)["family_name"]


async def test_rotation_by_hand_and_on_schedule_keeps_old_credentials_verifying(
    issuer: Issuer,
    soft_token: SoftToken,
) -> None:
    """`keys rotate` and the maximum key age each activate a new token key; credentials
    signed before still verify, and the metrics report the keys' remaining time."""
    first = issuer.keys("create", *soft_token.key_flags())
    metrics_port = free_port()
    flags = ["--key-refresh-seconds", "0.2", "--key-schedule-seconds", "0.5"]
    with server(issuer, *flags, "--metrics-port", str(metrics_port)) as address:
        async with client(address) as stub:
            before = await stub.IssueCredential(pid_request(), metadata=issuer.metadata)
            assert kid_of(before.credential) == first["kid"]
            rotated = await asyncio.to_thread(issuer.keys, "rotate")
            second = rotated["active_kid"]
            await asyncio.sleep(0.5)  # past the refresh interval
            middle = await stub.IssueCredential(pid_request(), metadata=issuer.metadata)
            assert kid_of(middle.credential) == second

            # A maximum age of 3 s: `create` makes a third key, the schedule a fourth.
            await asyncio.to_thread(
                issuer.keys, "create", *soft_token.key_flags(), "--max-age", "3"
            )
            listed = await asyncio.to_thread(issuer.keys, "list")
            deadline = time.monotonic() + 30
            while len(listed["keys"]) < 4 and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
                listed = await asyncio.to_thread(issuer.keys, "list")
            assert len(listed["keys"]) >= 4, "the schedule did not rotate the aged key"
            assert [k["state"] for k in listed["keys"]].count("active") == 1
            await asyncio.sleep(0.5)
            after = await stub.IssueCredential(pid_request(), metadata=issuer.metadata)
            jwks = await published_jwks(stub, issuer)
            for credential in (before, middle, after):
                verified = await stub.VerifyCredential(
                    pb.VerifyCredentialRequest(credential=credential.credential),
                    metadata=issuer.metadata,
                )
                assert verified.valid, verified.detail
                assert their_sd_jwt_verifier(credential.credential, jwks)["family_name"]
            scraped = await asyncio.to_thread(scrape, f"http://127.0.0.1:{metrics_port}/metrics")
    assert len({kid_of(c.credential) for c in (before, middle, after)}) == 3
    assert kid_of(after.credential) not in (first["kid"], second)
    assert {first["kid"], second} <= set(jwks)
    remaining = [line for line in scraped.splitlines() if line.startswith("issuer_key_remaining")]
    assert any(issuer.tenant_id in line and 'state="active"' in line for line in remaining)


async def test_a_removed_token_fails_with_unavailable_and_never_falls_back(
    issuer: Issuer,
    soft_token: SoftToken,
) -> None:
    """Once the token is gone, issuing fails with UNAVAILABLE and an HSM reason, again on
    retry, and a status list that must be signed again answers 503; no software key is
    made and nothing more is issued."""
    issuer.keys("create", *soft_token.key_flags())
    issuer.keys("create", "--purpose", "status", *soft_token.key_flags())
    http_port = free_port()
    with server(issuer, "--http-port", str(http_port)) as address:
        async with client(address) as stub:
            issued = await stub.IssueCredential(pid_request(), metadata=issuer.metadata)
            url = f"http://127.0.0.1:{http_port}/status-lists/{issued.status_list_id}"
            assert await asyncio.to_thread(http_status, url) == 200
            soft_token.remove()
            for _ in range(3):
                with pytest.raises(grpc.aio.AioRpcError) as failed:
                    await stub.IssueCredential(pid_request(), metadata=issuer.metadata)
                assert failed.value.code() == grpc.StatusCode.UNAVAILABLE
                assert error_info(failed.value).reason.startswith("HSM_")
                await asyncio.sleep(0.6)
            # A status change needs a new token for the list: the status key cannot sign it.
            await stub.RevokeCredential(
                pb.RevokeCredentialRequest(credential_id=issued.credential_id),
                metadata=issuer.metadata,
            )
            assert await asyncio.to_thread(http_status, url) == 503
            with pytest.raises(grpc.aio.AioRpcError) as unsigned:
                await stub.GetStatusList(
                    pb.GetStatusListRequest(status_list_id=issued.status_list_id),
                    metadata=issuer.metadata,
                )
            assert unsigned.value.code() == grpc.StatusCode.UNAVAILABLE
    with sqlite3.connect(issuer.db_file) as db:
        backends = [row[0] for row in db.execute("SELECT backend FROM issuer_keys")]
        count = db.execute("SELECT count(*) FROM credentials").fetchone()[0]
    assert backends == ["pkcs11", "pkcs11"]
    assert count == 1


async def test_a_wrong_pin_is_unavailable_until_fixed_then_retried(
    issuer: Issuer,
    soft_token: SoftToken,
) -> None:
    """A PIN the token refuses gives UNAVAILABLE with HSM_PIN_INCORRECT; once the PIN
    file is right again, the next attempt after the backoff signs."""
    issuer.keys("create", *soft_token.key_flags())
    soft_token.pin_file.write_text("000000\n")
    with server(issuer) as address:
        async with client(address) as stub:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.IssueCredential(pid_request(), metadata=issuer.metadata)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
            assert error_info(refused.value).reason == "HSM_PIN_INCORRECT"
            assert soft_token.pin not in str(refused.value.details())
            soft_token.pin_file.write_text(soft_token.pin + "\n")
            outcomes = []
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                await asyncio.sleep(0.3)
                outcomes.append(await issue_or_status(stub, issuer))
                if not isinstance(outcomes[-1], grpc.StatusCode):
                    break
            *waiting, issued = outcomes
            assert set(waiting) <= {grpc.StatusCode.UNAVAILABLE}
            assert isinstance(issued, pb.IssueCredentialResponse), "the token was not retried"


async def test_two_server_processes_share_one_token(
    issuer: Issuer,
    soft_token: SoftToken,
) -> None:
    """Two servers on one database sign with the same token key, each with its own
    session, and each verifies what the other issued."""
    made = issuer.keys("create", *soft_token.key_flags())
    with server(issuer) as first, server(issuer) as second:
        async with client(first) as one, client(second) as two:
            issued = await asyncio.gather(
                *(
                    stub.IssueCredential(pid_request(), metadata=issuer.metadata)
                    for stub in (one, two, one, two)
                )
            )
            for credential, verifier in zip(issued, (two, one, two, one), strict=True):
                assert kid_of(credential.credential) == made["kid"]
                verified = await verifier.VerifyCredential(
                    pb.VerifyCredentialRequest(credential=credential.credential),
                    metadata=issuer.metadata,
                )
                assert verified.valid, verified.detail


def test_keys_create_refuses_what_cannot_make_a_key(
    issuer: Issuer, soft_token: SoftToken, tmp_path: Path
) -> None:
    """Token options without pkcs11, pkcs11 without a module or PIN source are usage
    errors; a token that is not there is refused with its reason, and leaves neither a key
    nor settings behind."""
    base = ["keys", "create", "--tenant", issuer.tenant_id, "--db", issuer.db]
    env = {**cli_env(), **soft_token.environment()}
    no_module = run_command(
        *base, "--backend", "pkcs11", "--token-label", soft_token.label, "--pin-file",
        str(soft_token.pin_file), env=env,
    )  # fmt: skip
    assert no_module.returncode == 2
    assert "--module" in no_module.stderr
    no_pin = run_command(
        *base, "--backend", "pkcs11", "--module", soft_token.module, "--token-label",
        soft_token.label, env=env,
    )  # fmt: skip
    assert no_pin.returncode == 2
    assert "--pin-file or --pin-env" in no_pin.stderr
    stray = run_command(*base, "--token-label", soft_token.label, env=env)
    assert stray.returncode == 2
    missing = run_command(
        *base, *soft_token.key_flags()[:4], "--token-label", "no-such-token", "--pin-file",
        str(soft_token.pin_file), env=env, timeout=120,
    )  # fmt: skip
    assert missing.returncode == 1
    assert "HSM_TOKEN_NOT_FOUND" in missing.stderr
    assert soft_token.pin not in missing.stderr + missing.stdout
    listed = issuer.keys("list")
    assert listed["keys"] == []
    assert listed["settings"] == []
