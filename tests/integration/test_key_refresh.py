"""Two instances on one store: a key rotated on one is used by the other after its refresh."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from eudi_connect.core.key_encryption import MasterKey
from eudi_connect.services.app import Services, open_services
from eudi_connect.services.settings import ServiceSettings

REFRESH = 30.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def pair(db_url: str) -> AsyncIterator[tuple[Services, Services, FakeClock]]:
    """Instances A and B on one database and one master key; B's clock is the test's."""
    master = MasterKey.generate()
    settings = ServiceSettings(issuer_key_refresh_seconds=REFRESH)
    clock = FakeClock()
    first = await open_services(db_url, settings, master_key=master)
    second = await open_services(db_url, settings, master_key=master, clock=clock)
    try:
        yield first, second, clock
    finally:
        await second.close()
        await first.close()


async def test_rotation_elsewhere_takes_effect_within_the_refresh_interval(
    pair: tuple[Services, Services, FakeClock],
) -> None:
    """B signs with its cached key until the interval ends, then with A's new key; the
    retired key keeps verifying on B, and B learns the new public key on demand."""
    first, second, clock = pair
    tenant = await first.tenants.create_tenant("Acme")
    old = await second.keys.signing_key(tenant.tenant_id)
    assert (await first.keys.signing_key(tenant.tenant_id)).kid == old.kid

    new_kid = await first.keys.rotate(tenant.tenant_id)
    assert new_kid != old.kid
    assert (await first.keys.signing_key(tenant.tenant_id)).kid == new_kid

    clock.now += REFRESH - 1
    assert (await second.keys.signing_key(tenant.tenant_id)).kid == old.kid
    clock.now += 1
    assert (await second.keys.signing_key(tenant.tenant_id)).kid == new_kid
    assert await second.keys.public_key(tenant.tenant_id, new_kid) is not None
    assert await second.keys.public_key(tenant.tenant_id, old.kid) is not None


async def test_an_unchanged_key_is_confirmed_with_one_read(
    pair: tuple[Services, Services, FakeClock],
) -> None:
    """Without a rotation the refresh keeps the same key object (no re-decryption)."""
    first, second, clock = pair
    tenant = await first.tenants.create_tenant("Acme")
    key = await second.keys.signing_key(tenant.tenant_id)
    clock.now += REFRESH * 3
    assert await second.keys.signing_key(tenant.tenant_id) is key
