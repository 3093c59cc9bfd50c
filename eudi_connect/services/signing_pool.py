"""Signs groups of credential drafts in worker processes.

Why: in a batch, the event loop's own work (stream messages, grouped commits) fills one
core; rendering and ECDSA signing fill another. A worker process lets the second core
take the signing while the loop streams the previous group. Unary calls stay in-process:
for one credential the round trip to a worker costs more than it saves.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from multiprocessing.connection import wait

from eudi_connect.core.credential_builder import CredentialDraft, SharedRenders, sign_draft
from eudi_connect.core.signer import Signer, SignerReference
from eudi_connect.core.signers import open_signer
from eudi_connect.core.templates import TemplateEnvironment
from eudi_connect.errors import EudiConnectError, InvalidArgumentError, UnavailableError
from eudi_connect.reasons import Reason

# Per worker process: one template environment, and signers opened once per kid (a
# PKCS#11 key gets this worker's own session: sessions never cross into a child).
_environment: TemplateEnvironment | None = None
_keys: dict[str, Signer] = {}


@dataclass(frozen=True)
class SigningFailure:
    """A picklable stand-in for the domain error of one draft."""

    reason: Reason
    message: str
    metadata: dict[str, str]
    unavailable: bool = False  # the key's token failed, not the draft

    def error(self) -> EudiConnectError:
        if self.unavailable:
            return UnavailableError(self.message, reason=self.reason, metadata=self.metadata)
        return InvalidArgumentError(self.message, reason=self.reason, metadata=self.metadata)


def _signing_key(reference: SignerReference) -> Signer:
    key = _keys.get(reference.kid)
    if key is None:
        key = open_signer(reference)
        _keys[reference.kid] = key
    return key


def _sign_group(
    reference: SignerReference, drafts: Sequence[CredentialDraft]
) -> list[str | SigningFailure]:
    global _environment  # one environment per worker process, built once
    if _environment is None:
        _environment = TemplateEnvironment()
    key = _signing_key(reference)
    results: list[str | SigningFailure] = []
    # Copies of one credential arrive with one shared subject object (pickle keeps the
    # sharing), so they are rendered once per group.
    renders = SharedRenders(_environment.render_claims)
    for draft in drafts:
        try:
            if draft.claims is None:
                draft = replace(draft, claims=renders.claims(draft.template, draft.subject))
            results.append(sign_draft(draft, key, _environment))
        except UnavailableError as error:
            # The key's token failed: every draft of the group fails alike.
            failure = SigningFailure(error.reason, error.message, error.metadata, True)
            return [failure] * len(drafts)
        except EudiConnectError as error:
            results.append(SigningFailure(error.reason, error.message, error.metadata))
    return results


def _warm_up() -> None:
    """Imports everything in the worker before the first batch needs it."""


# How often a worker without a parent sentinel checks that its parent still runs.
PARENT_POLL_SECONDS = 0.5


def _wait_for_parent_exit(parent_pid: int) -> None:
    """Returns once the server process that started this worker has gone, however it went.

    The parent's sentinel (a pipe only the parent holds open) reads as closed the moment
    the parent dies, even by SIGKILL or a crash; without one, a change of parent id (the
    orphan is adopted) tells the same, checked every `PARENT_POLL_SECONDS`.
    """
    parent = multiprocessing.parent_process()
    if parent is not None:
        wait([parent.sentinel])
        return
    while os.getppid() == parent_pid:
        time.sleep(PARENT_POLL_SECONDS)


def _exit_with_parent(parent_pid: int) -> None:
    """A worker outlives no server: a stopped server shuts its pool down, but one that
    was killed cannot, and its workers would wait for work forever (they hold the work
    queue open themselves), keeping the resource tracker alive too. The worker's state is
    the server's alone, so it ends at once."""
    _wait_for_parent_exit(parent_pid)
    os._exit(0)


def _start_worker(parent_pid: int) -> None:
    """Runs first in every worker process."""
    # Ctrl-C reaches the whole process group; the server decides when workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(
        target=_exit_with_parent, args=(parent_pid,), name="parent-watch", daemon=True
    ).start()


#: What every worker process of the service runs first (with the server's pid): the render
#: pool starts its processes the same way as the signing pool, orphan watch included.
worker_initializer = _start_worker


class SigningPool:
    def __init__(self, processes: int) -> None:
        self._executor = ProcessPoolExecutor(
            max_workers=processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(os.getpid(),),
        )
        self._references: dict[str, SignerReference] = {}

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, _warm_up)

    async def sign(
        self, drafts: Sequence[CredentialDraft], signing_key: Signer
    ) -> list[str | EudiConnectError]:
        reference = self._references.get(signing_key.kid)
        if reference is None:
            reference = signing_key.reference()
            self._references[signing_key.kid] = reference
        loop = asyncio.get_running_loop()
        signed = await loop.run_in_executor(self._executor, _sign_group, reference, list(drafts))
        return [r.error() if isinstance(r, SigningFailure) else r for r in signed]

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
