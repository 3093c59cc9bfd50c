"""Load-generator scenarios for CredentialService: one function per kind of call.

Each ``*_scenario`` follows the :mod:`loadtest.loadgen` contract (``"module:function"``)::

    python -m loadtest.loadgen --target 127.0.0.1:50051 \\
        --scenario loadtest.scenarios:issue_scenario -o api_key=ek_... -c 32 -n 2000

Options every scenario reads (``-o key=value`` on the command line, ``LoadSpec.options``):

* ``api_key`` — the tenant's key, sent as ``x-api-key`` (default: ``$EUDI_CONNECT_API_KEY``);
* ``template_id`` — default ``"pid"``, the built-in PID template;
* ``subject`` — the subject data (default: the PID example subject);
* ``holder_binding`` — bind each credential to a holder key (default true); a small set of
  P-256 holder keys is made once per worker, so no key generation happens during the load;
* ``timeout`` — seconds per RPC (default 10).

Scenario-specific options are listed in each docstring. A call whose answer is wrong
(an unexpected status, a credential that does not verify) raises :class:`ScenarioCheckError`,
which the load generator counts as ``EXCEPTION:ScenarioCheckError`` rather than as a success.

The names and options here are a stable interface: other tools (benchmarks, the scaling and
production tests, people at a shell) refer to them by name.
"""

from __future__ import annotations

import itertools
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc
from eudi.connect.v1 import credential_service_pb2 as pb
from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc
from google.protobuf import struct_pb2

from eudi_connect.core.jose import generate_p256_key, public_jwk
from eudi_connect.core.sdjwt import make_presentation
from eudi_connect.core.templates import PID_EXAMPLE_SUBJECT

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

    from loadtest.lib.spec import WorkerContext

__all__ = [
    "API_KEY_ENV",
    "API_KEY_METADATA",
    "CallFunction",
    "ScenarioCheckError",
    "ScenarioConfig",
    "batch_scenario",
    "issue_credentials",
    "issue_mdoc_scenario",
    "issue_request",
    "issue_scenario",
    "jwks_scenario",
    "lifecycle_scenario",
    "revoke_scenario",
    "status_list_scenario",
    "status_scenario",
    "stream_scenario",
    "verify_scenario",
]

CallFunction = Callable[[int], Awaitable[object]]

API_KEY_METADATA = "x-api-key"
API_KEY_ENV = "EUDI_CONNECT_API_KEY"
DEFAULT_TEMPLATE_ID = "pid"
DEFAULT_TIMEOUT = 10.0
HOLDER_KEYS = 8  # per worker; enough variety, made once
SETUP_BATCH = 500  # credentials per IssueCredentialBatch call when filling a pool
KB_AUDIENCE = "https://verifier.loadtest.invalid"
KB_NONCE = "loadtest-nonce"


class ScenarioCheckError(ValueError):
    """The service answered, but not with what the scenario expected."""


@dataclass(frozen=True)
class ScenarioConfig:
    """The options every scenario shares, read once per worker channel."""

    api_key: str
    template_id: str
    subject: Mapping[str, Any]
    holder_binding: bool
    timeout: float
    holder_jwks: tuple[str, ...]
    holder_keys: tuple[ec.EllipticCurvePrivateKey, ...]
    run_tag: str

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        """Request metadata carrying the API key."""
        return ((API_KEY_METADATA, self.api_key),)

    @classmethod
    def from_options(cls, options: Mapping[str, Any], *, worker_tag: str = "") -> ScenarioConfig:
        """Reads the shared options; raises ``ValueError`` without an API key."""
        api_key = str(options.get("api_key") or os.environ.get(API_KEY_ENV) or "")
        if not api_key:
            raise ValueError(f"scenario option 'api_key' (or ${API_KEY_ENV}) is required")
        subject = options.get("subject", PID_EXAMPLE_SUBJECT)
        if isinstance(subject, str):  # -o subject='{"...": ...}' arrives parsed; a path is read
            with open(subject, encoding="utf-8") as source:
                subject = json.load(source)
        holder_binding = bool(options.get("holder_binding", True))
        keys = tuple(generate_p256_key() for _ in range(HOLDER_KEYS)) if holder_binding else ()
        return cls(
            api_key=api_key,
            template_id=str(options.get("template_id", DEFAULT_TEMPLATE_ID)),
            subject=dict(subject),
            holder_binding=holder_binding,
            timeout=float(options.get("timeout", DEFAULT_TIMEOUT)),
            holder_jwks=tuple(json.dumps(public_jwk(key.public_key())) for key in keys),
            holder_keys=keys,
            # Request ids must not repeat across workers, channels and runs on one database.
            run_tag=f"{uuid.uuid4().hex[:12]}{worker_tag}",
        )

    def holder_jwk(self, n: int) -> str:
        """The n-th holder key (round robin) as JSON, or "" without holder binding."""
        return self.holder_jwks[n % len(self.holder_jwks)] if self.holder_jwks else ""


def _setup(
    channel: grpc.aio.Channel, worker: WorkerContext
) -> tuple[ScenarioConfig, pb_grpc.CredentialServiceStub]:
    """The worker channel's shared options, and a stub on its channel."""
    tag = f"-w{worker.index}c{worker.channel_index}"
    config = ScenarioConfig.from_options(worker.options, worker_tag=tag)
    return config, pb_grpc.CredentialServiceStub(channel)


async def _pool(
    stub: pb_grpc.CredentialServiceStub, config: ScenarioConfig, worker: WorkerContext, default: int
) -> list[pb.IssueCredentialResponse]:
    """Option ``pool`` (``default`` without it) credentials, issued at setup."""
    return await issue_credentials(stub, config, max(1, int(worker.options.get("pool", default))))


def _struct(data: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(data)
    return struct


def issue_request(
    config: ScenarioConfig, n: int, *, request_id: str = ""
) -> pb.IssueCredentialRequest:
    """An IssueCredentialRequest for the configured template and subject (n picks the key)."""
    return pb.IssueCredentialRequest(
        template_id=config.template_id,
        subject=_struct(config.subject),
        holder_jwk=config.holder_jwk(n),
        request_id=request_id,
    )


async def issue_credentials(
    stub: pb_grpc.CredentialServiceStub, config: ScenarioConfig, count: int
) -> list[pb.IssueCredentialResponse]:
    """Issues ``count`` credentials through IssueCredentialBatch (setup, not measured load)."""
    issued: list[pb.IssueCredentialResponse] = []
    while len(issued) < count:
        size = min(SETUP_BATCH, count - len(issued))
        items = [issue_request(config, len(issued) + i) for i in range(size)]
        request = pb.IssueCredentialBatchRequest(items=pb.IssueCredentialBatchItems(items=items))
        call = stub.IssueCredentialBatch(
            request, metadata=config.metadata, timeout=max(config.timeout, 60.0)
        )
        async for chunk in call:
            for result in chunk.results:
                if result.WhichOneof("outcome") != "credential":
                    raise ScenarioCheckError(
                        f"setup issuance failed for item {result.index}: {result.error.message}"
                    )
                issued.append(result.credential)
    return issued


def _check_issued(response: pb.IssueCredentialResponse) -> None:
    if not response.credential_id or response.format != "dc+sd-jwt":
        raise ScenarioCheckError("IssueCredential answered without a dc+sd-jwt credential")


# --------------------------------------------------------------------------- unary scenarios


async def issue_scenario(channel: grpc.aio.Channel, worker: WorkerContext) -> CallFunction:
    """IssueCredential: one credential per call, each with its own request id.

    Option ``request_ids`` (default true): send a unique ``request_id`` (the idempotent
    path that real clients use); false sends none.
    """
    config, stub = _setup(channel, worker)
    with_ids = bool(worker.options.get("request_ids", True))
    subject = _struct(config.subject)

    async def call(seq: int) -> None:
        request = pb.IssueCredentialRequest(
            template_id=config.template_id,
            subject=subject,
            holder_jwk=config.holder_jwk(seq),
            request_id=f"{config.run_tag}-{seq}" if with_ids else "",
        )
        _check_issued(
            await stub.IssueCredential(request, metadata=config.metadata, timeout=config.timeout)
        )

    return call


async def issue_mdoc_scenario(channel: grpc.aio.Channel, worker: WorkerContext) -> CallFunction:
    """IssueCredential with format mso_mdoc: an ISO/IEC 18013-5 mdoc per call, each with
    its own request id. An mdoc needs a device key: without configured holder keys the
    worker makes a few of its own and uses them in turn."""
    config, stub = _setup(channel, worker)
    subject = _struct(config.subject)
    holders = list(config.holder_jwks) or [
        json.dumps(public_jwk(generate_p256_key().public_key())) for _ in range(8)
    ]

    async def call(seq: int) -> None:
        request = pb.IssueCredentialRequest(
            template_id=config.template_id,
            subject=subject,
            holder_jwk=holders[seq % len(holders)],
            request_id=f"{config.run_tag}-mdoc-{seq}",
            format="mso_mdoc",
        )
        response = await stub.IssueCredential(
            request, metadata=config.metadata, timeout=config.timeout
        )
        if not response.credential_id or response.format != "mso_mdoc":
            raise ScenarioCheckError("IssueCredential answered without an mso_mdoc credential")

    return call


async def verify_scenario(channel: grpc.aio.Channel, worker: WorkerContext) -> CallFunction:
    """VerifyCredential over a pool of credentials issued during setup (not measured).

    Options: ``pool`` (credentials to issue first, default 64); ``key_binding`` (default
    false): present each credential with a Key Binding JWT, made at setup, and ask the
    service to check audience and nonce. Every answer must be ``valid``.
    """
    config, stub = _setup(channel, worker)
    pool = await _pool(stub, config, worker, 64)
    key_binding = bool(worker.options.get("key_binding", False)) and config.holder_binding
    requests: list[pb.VerifyCredentialRequest] = []
    for n, issued in enumerate(pool):
        if key_binding:
            presentation = make_presentation(
                issued.credential,
                holder_key=config.holder_keys[n % len(config.holder_keys)],
                audience=KB_AUDIENCE,
                nonce=KB_NONCE,
                issued_at=int(time.time()),
            )
            requests.append(
                pb.VerifyCredentialRequest(
                    credential=presentation,
                    expected_audience=KB_AUDIENCE,
                    expected_nonce=KB_NONCE,
                )
            )
        else:
            requests.append(pb.VerifyCredentialRequest(credential=issued.credential))
    counter = itertools.count()

    async def call(seq: int) -> None:
        request = requests[next(counter) % len(requests)]
        response = await stub.VerifyCredential(
            request, metadata=config.metadata, timeout=config.timeout
        )
        if not response.valid:
            raise ScenarioCheckError(f"credential did not verify: {response.detail}")

    return call


async def revoke_scenario(channel: grpc.aio.Channel, worker: WorkerContext) -> CallFunction:
    """RevokeCredential: each call revokes a fresh credential from a pool issued at setup.

    Option ``pool`` (default 256): how many credentials to issue first. Size it to the
    calls this worker channel makes (warm-up included): once the pool is used up, a call
    raises ``ScenarioCheckError`` rather than re-revoking (a cheaper, different path).
    """
    config, stub = _setup(channel, worker)
    pool = await _pool(stub, config, worker, 256)
    ids = iter([issued.credential_id for issued in pool])

    async def call(seq: int) -> None:
        credential_id = next(ids, None)
        if credential_id is None:
            raise ScenarioCheckError(f"revocation pool of {len(pool)} used up; raise 'pool'")
        response = await stub.RevokeCredential(
            pb.RevokeCredentialRequest(credential_id=credential_id, reason="load test"),
            metadata=config.metadata,
            timeout=config.timeout,
        )
        if response.status != pb.CREDENTIAL_STATUS_REVOKED:
            raise ScenarioCheckError(f"revocation answered status {response.status}")

    return call


async def lifecycle_scenario(channel: grpc.aio.Channel, worker: WorkerContext) -> CallFunction:
    """The full lifecycle as one call: issue, verify (valid), revoke, verify (revoked).

    Four RPCs in sequence on one channel; each answer is checked, so a revocation that does
    not show at once in verification counts as an error.
    """
    config, stub = _setup(channel, worker)
    metadata = config.metadata
    timeout = config.timeout
    subject = _struct(config.subject)

    async def call(seq: int) -> None:
        issued = await stub.IssueCredential(
            pb.IssueCredentialRequest(
                template_id=config.template_id,
                subject=subject,
                holder_jwk=config.holder_jwk(seq),
                request_id=f"{config.run_tag}-{seq}",
            ),
            metadata=metadata,
            timeout=timeout,
        )
        _check_issued(issued)
        verify = pb.VerifyCredentialRequest(credential=issued.credential)
        first = await stub.VerifyCredential(verify, metadata=metadata, timeout=timeout)
        if not first.valid:
            raise ScenarioCheckError(f"fresh credential did not verify: {first.detail}")
        revoked = await stub.RevokeCredential(
            pb.RevokeCredentialRequest(credential_id=issued.credential_id, reason="load test"),
            metadata=metadata,
            timeout=timeout,
        )
        if revoked.status != pb.CREDENTIAL_STATUS_REVOKED:
            raise ScenarioCheckError(f"revocation answered status {revoked.status}")
        second = await stub.VerifyCredential(verify, metadata=metadata, timeout=timeout)
        if second.valid or second.failure != pb.VERIFICATION_FAILURE_REVOKED:
            raise ScenarioCheckError("a revoked credential was not reported as revoked")

    return call


async def status_scenario(channel: grpc.aio.Channel, worker: WorkerContext) -> CallFunction:
    """GetCredentialStatus over a pool issued at setup (option ``pool``, default 16)."""
    config, stub = _setup(channel, worker)
    pool = await _pool(stub, config, worker, 16)
    ids = [issued.credential_id for issued in pool]

    async def call(seq: int) -> None:
        response = await stub.GetCredentialStatus(
            pb.GetCredentialStatusRequest(credential_id=ids[seq % len(ids)]),
            metadata=config.metadata,
            timeout=config.timeout,
        )
        if response.status == pb.CREDENTIAL_STATUS_UNSPECIFIED:
            raise ScenarioCheckError("GetCredentialStatus answered no status")

    return call


async def status_list_scenario(channel: grpc.aio.Channel, worker: WorkerContext) -> CallFunction:
    """GetStatusList for the list that holds one credential issued at setup (cached token)."""
    config, stub = _setup(channel, worker)
    (issued,) = await issue_credentials(stub, config, 1)
    request = pb.GetStatusListRequest(status_list_id=issued.status_list_id)

    async def call(seq: int) -> None:
        response = await stub.GetStatusList(
            request, metadata=config.metadata, timeout=config.timeout
        )
        if response.token.count(".") != 2:
            raise ScenarioCheckError("GetStatusList answered no JWT")

    return call


async def jwks_scenario(channel: grpc.aio.Channel, worker: WorkerContext) -> CallFunction:
    """GetIssuerKeys: the tenant's JWKS (a read that touches the store every call)."""
    config, stub = _setup(channel, worker)

    async def call(seq: int) -> None:
        response = await stub.GetIssuerKeys(
            pb.GetIssuerKeysRequest(), metadata=config.metadata, timeout=config.timeout
        )
        if not json.loads(response.jwks).get("keys"):
            raise ScenarioCheckError("GetIssuerKeys answered an empty JWKS")

    return call


# --------------------------------------------------------------------------- streaming


def _check_batch_results(results: Sequence[pb.IssueCredentialBatchResult], expected: int) -> None:
    if len(results) != expected:
        raise ScenarioCheckError(f"expected {expected} results, got {len(results)}")
    for result in results:
        if result.WhichOneof("outcome") != "credential":
            raise ScenarioCheckError(f"item {result.index} failed: {result.error.message}")


async def batch_scenario(channel: grpc.aio.Channel, worker: WorkerContext) -> CallFunction:
    """IssueCredentialBatch: ``batch_size`` credentials per call (default 100).

    Option ``copies`` (default false): send them as one CredentialCopies set (the same
    claims bound to ``batch_size`` holder keys) instead of a list of separate items.
    A call counts once; multiply by ``batch_size`` for credentials per second.
    """
    config, stub = _setup(channel, worker)
    size = max(1, int(worker.options.get("batch_size", 100)))
    copies = bool(worker.options.get("copies", False))
    subject = _struct(config.subject)

    def request_for(seq: int) -> pb.IssueCredentialBatchRequest:
        request_id = f"{config.run_tag}-{seq}"
        if copies:
            return pb.IssueCredentialBatchRequest(
                copies=pb.CredentialCopies(
                    template_id=config.template_id,
                    subject=subject,
                    holder_jwks=[config.holder_jwk(i) or "" for i in range(size)],
                    request_id=request_id,
                )
            )
        items = [
            pb.IssueCredentialRequest(
                template_id=config.template_id,
                subject=subject,
                holder_jwk=config.holder_jwk(i),
                request_id=f"{request_id}#{i}",
            )
            for i in range(size)
        ]
        return pb.IssueCredentialBatchRequest(items=pb.IssueCredentialBatchItems(items=items))

    async def call(seq: int) -> None:
        results = [
            result
            async for chunk in stub.IssueCredentialBatch(
                request_for(seq), metadata=config.metadata, timeout=config.timeout
            )
            for result in chunk.results
        ]
        _check_batch_results(results, size)

    return call


async def stream_scenario(channel: grpc.aio.Channel, worker: WorkerContext) -> CallFunction:
    """IssueCredentialStream: one stream per call carrying ``batch_size`` requests (default 100).

    Requests are written as fast as flow control allows while results are read back.
    """
    config, stub = _setup(channel, worker)
    size = max(1, int(worker.options.get("batch_size", 100)))

    async def call(seq: int) -> None:
        async def requests() -> AsyncIterator[pb.IssueCredentialRequest]:
            for i in range(size):
                yield issue_request(config, i, request_id=f"{config.run_tag}-{seq}#{i}")

        results = [
            result
            async for chunk in stub.IssueCredentialStream(
                requests(), metadata=config.metadata, timeout=config.timeout
            )
            for result in chunk.results
        ]
        _check_batch_results(results, size)

    return call
