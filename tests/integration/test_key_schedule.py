"""The key schedule on a real store with the test's clock: keys rotated at their tenant's
maximum age, retired keys published until the last credential they signed expires, and
the key lifetimes the metrics report."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, NumberDataPoint

from eudi_connect.core.key_encryption import MasterKey
from eudi_connect.core.templates import PID_EXAMPLE_SUBJECT
from eudi_connect.errors import InvalidArgumentError, NotFoundError
from eudi_connect.monitoring.key_lifetimes import KEY_REMAINING_SECONDS, KEYS_NEARING_END
from eudi_connect.monitoring.performance_metrics import PerformanceMonitor
from eudi_connect.services.app import Services, open_services
from eudi_connect.services.issuance import IssueCommand
from eudi_connect.services.settings import ServiceSettings
from eudi_connect.store.base import KeySettingsRecord

REFRESH = 30.0
GRACE = 2 * REFRESH + 60  # how long after a rotation the old key may still sign elsewhere
STATUS_VALIDITY = 600
CREDENTIAL_VALIDITY = 5_000


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def services(db_url: str, clock: FakeClock) -> AsyncIterator[Services]:
    settings = ServiceSettings(
        issuer_key_refresh_seconds=REFRESH,
        status_list_validity_seconds=STATUS_VALIDITY,
        key_warning_seconds=1_000,
    )
    opened = await open_services(db_url, settings, master_key=MasterKey.generate(), clock=clock)
    try:
        yield opened
    finally:
        await opened.close()


async def issue(services: Services, tenant_id: str) -> str:
    issued = await services.issuance.issue(
        tenant_id,
        IssueCommand(
            template_id="pid", subject=PID_EXAMPLE_SUBJECT, validity_seconds=CREDENTIAL_VALIDITY
        ),
    )
    return issued.credential


async def published_kids(services: Services, tenant_id: str) -> set[str]:
    return {key["kid"] for key in (await services.keys.jwks(tenant_id))["keys"]}


async def test_a_retired_key_is_published_until_its_last_credential_expires(
    services: Services, clock: FakeClock
) -> None:
    """The retired key stays in the JWKS while another instance may still sign with it,
    then exactly until its last credential's expiry, and is dropped after that."""
    tenant = await services.tenants.create_tenant("Acme")
    old = (await services.keys.signing_key(tenant.tenant_id)).kid
    await issue(services, tenant.tenant_id)
    issued_at = clock.now
    clock.now += 10
    new = await services.keys.rotate(tenant.tenant_id)
    retired_at = clock.now

    clock.now = retired_at + GRACE - 1
    await services.keys.maintain()
    [record] = [k for k in await services.keys.list_keys(tenant.tenant_id) if k.kid == old]
    assert record.published_until is None
    assert await published_kids(services, tenant.tenant_id) == {old, new}

    clock.now = retired_at + GRACE
    await services.keys.maintain()
    [record] = [k for k in await services.keys.list_keys(tenant.tenant_id) if k.kid == old]
    assert record.published_until == int(issued_at) + CREDENTIAL_VALIDITY
    clock.now = record.published_until - 1
    assert await published_kids(services, tenant.tenant_id) == {old, new}
    clock.now = record.published_until
    assert await published_kids(services, tenant.tenant_id) == {new}
    assert len(await services.keys.issuer_certificates(tenant.tenant_id)) == 1


async def test_a_status_key_is_published_while_its_tokens_may_be_served(
    services: Services, clock: FakeClock
) -> None:
    """A retired status key signed only status list tokens: it stays published for their
    validity after another instance may last have used it."""
    tenant = await services.tenants.create_tenant("Acme")
    await services.keys.configure(
        KeySettingsRecord(tenant.tenant_id, "status", "software", int(clock.now))
    )
    credential_kid = (await services.keys.signing_key(tenant.tenant_id)).kid
    status_kid = (await services.keys.signing_key(tenant.tenant_id, "status")).kid
    assert status_kid != credential_kid
    assert await published_kids(services, tenant.tenant_id) == {credential_kid, status_kid}
    await services.keys.rotate(tenant.tenant_id, "status")
    retired_at = clock.now
    clock.now += GRACE
    await services.keys.maintain()
    [record] = [k for k in await services.keys.list_keys(tenant.tenant_id) if k.kid == status_kid]
    assert record.published_until == int(retired_at + GRACE) + STATUS_VALIDITY
    # The credential key was not touched.
    assert (await services.keys.signing_key(tenant.tenant_id)).kid == credential_kid


async def test_keys_past_their_maximum_age_are_rotated_and_reported(
    services: Services, clock: FakeClock
) -> None:
    """The schedule rotates a key once it reaches the tenant's maximum age (and not
    before), and the metrics report each key's remaining time and those nearing their end."""
    reader = InMemoryMetricReader()
    PerformanceMonitor(MeterProvider(metric_readers=[reader]))  # registers the key gauges
    tenant = await services.tenants.create_tenant("Acme")
    await services.keys.configure(
        KeySettingsRecord(
            tenant.tenant_id, "credential", "software", int(clock.now), max_age_seconds=3_000
        )
    )
    first = (await services.keys.signing_key(tenant.tenant_id)).kid
    clock.now += 2_999
    assert await services.keys.maintain() == []
    assert gauge(reader, KEY_REMAINING_SECONDS, kid=first) == [1.0]
    assert gauge(reader, KEYS_NEARING_END, tenant=tenant.tenant_id) == [1]

    clock.now += 1
    [second] = await services.keys.maintain()
    assert second != first
    clock.now += REFRESH
    assert (await services.keys.signing_key(tenant.tenant_id)).kid == second
    assert gauge(reader, KEY_REMAINING_SECONDS, kid=second) == [3_000.0]
    assert gauge(reader, KEYS_NEARING_END, tenant=tenant.tenant_id) == [0]
    assert await services.keys.maintain() == []  # one rotation per age, not one per pass


async def test_settings_that_can_never_make_a_key_are_refused(services: Services) -> None:
    """Unknown purposes, backends, a PKCS#11 setting without a PIN source and an unknown
    tenant are refused before anything is stored."""
    tenant = await services.tenants.create_tenant("Acme")
    token = {"module": "/no/such.so", "token_label": "hsm"}
    for settings, reason in [
        (KeySettingsRecord(tenant.tenant_id, "audit", "software", 1), "KEY_PURPOSE_INVALID"),
        (KeySettingsRecord(tenant.tenant_id, "status", "kms", 1), "KEY_BACKEND_INVALID"),
        (KeySettingsRecord(tenant.tenant_id, "status", "pkcs11", 1, token=token), "HSM_CONFIG"),
    ]:
        with pytest.raises(Exception) as refused:  # noqa: PT011 - the reason says which
            await services.keys.configure(settings)
        assert getattr(refused.value, "reason", None) == reason
    with pytest.raises(NotFoundError):
        await services.keys.configure(KeySettingsRecord("ghost", "status", "software", 1))
    with pytest.raises(InvalidArgumentError):
        await services.keys.rotate(tenant.tenant_id, "audit")
    assert await services.keys.key_settings(tenant.tenant_id) == []


def gauge(reader: InMemoryMetricReader, name: str, **attributes: Any) -> list[float]:
    """The gauge's values whose attributes include `attributes`."""
    data = reader.get_metrics_data()
    assert data is not None
    values = []
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name != name:
                    continue
                for point in metric.data.data_points:
                    found = dict(point.attributes or {})
                    if isinstance(point, NumberDataPoint) and all(
                        found.get(k) == v for k, v in attributes.items()
                    ):
                        values.append(float(point.value))
    return values
