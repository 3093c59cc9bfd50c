"""A presentation response claimed by an instance that stopped mid-verification: its
transaction stays RESPONDED in the store, and reads through the server report it FAILED
(VERIFICATION_ABANDONED) once the verification time bound has passed, on every backend.

The dead instance is played by the store itself: the response is claimed with a claim time
in the past and never finished, as a killed process leaves it."""

from __future__ import annotations

import time

import grpc
import pytest

from eudi_connect.services.app import Services
from eudi_connect.services.presentation.results import VERIFICATION_ABANDONED_SECONDS
from eudi_connect.store.presentations import PresentationOutcome
from tests.integration.conftest import Tenant
from tests.integration.oid4vp.verifier_client import Presentations, state_name


@pytest.fixture
def presentations(channel: grpc.aio.Channel, tenant: Tenant) -> Presentations:
    return Presentations(channel, tenant)


async def _claimed_seconds_ago(
    services: Services, presentations: Presentations, seconds: int
) -> str:
    """A new transaction whose response was claimed `seconds` ago and never finished."""
    created = (await presentations.create(lifetime_seconds=600)).transaction
    claimed = await services.store.claim_presentation_response(
        presentations.tenant.tenant_id, created.transaction_id, int(time.time()) - seconds
    )
    assert claimed is not None
    assert claimed.state == "RESPONDED"
    return created.transaction_id


async def test_an_abandoned_verification_reads_as_failed(
    services: Services, presentations: Presentations
) -> None:
    """Past the bound a read reports FAILED with VERIFICATION_ABANDONED, records it, and a
    verifier finishing late no longer changes the outcome."""
    tenant_id = presentations.tenant.tenant_id
    transaction_id = await _claimed_seconds_ago(
        services, presentations, VERIFICATION_ABANDONED_SECONDS + 1
    )
    read = await presentations.get(transaction_id)
    assert state_name(read) == "FAILED"
    assert read.failure_reason == "VERIFICATION_ABANDONED"
    stored = await services.store.get_presentation(tenant_id, transaction_id)
    assert stored is not None
    assert stored.state == "FAILED"
    late = await services.store.finish_presentation(
        tenant_id, transaction_id, PresentationOutcome(state="VERIFIED"), int(time.time())
    )
    assert late is None
    again = await presentations.get(transaction_id)
    assert (state_name(again), again.failure_reason) == ("FAILED", "VERIFICATION_ABANDONED")


async def test_a_verification_within_the_bound_is_still_responded(
    services: Services, presentations: Presentations
) -> None:
    """A response claimed recently is still being verified: RESPONDED, nothing recorded."""
    transaction_id = await _claimed_seconds_ago(
        services, presentations, VERIFICATION_ABANDONED_SECONDS // 2
    )
    assert state_name(await presentations.get(transaction_id)) == "RESPONDED"
    stored = await services.store.get_presentation(presentations.tenant.tenant_id, transaction_id)
    assert stored is not None
    assert stored.state == "RESPONDED"


async def test_a_watch_on_an_abandoned_verification_ends_failed(
    services: Services, presentations: Presentations
) -> None:
    """WatchPresentation sends the FAILED state once and ends, as for any final state."""
    transaction_id = await _claimed_seconds_ago(
        services, presentations, VERIFICATION_ABANDONED_SECONDS + 1
    )
    messages = [message async for message in presentations.watch(transaction_id, timeout=10.0)]
    assert [state_name(m.transaction) for m in messages] == ["FAILED"]
    assert messages[0].transaction.failure_reason == "VERIFICATION_ABANDONED"
