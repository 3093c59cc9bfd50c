"""The rules of the issuer key schedule (`KeyService.maintain`): which active key is due
for rotation, until when a retired key stays published, and how long each key has left.

Decisions only; the key service reads the store, rotates and records what they say.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from eudi_connect.core.templates import MAX_TIMESTAMP_GRANULARITY_SECONDS
from eudi_connect.monitoring.key_lifetimes import KeyLifetime
from eudi_connect.services.key_backends import CREDENTIAL_PURPOSE
from eudi_connect.store.base import IssuerKeyRecord, KeySettingsRecord, Store

#: The maximum age of each tenant's keys, by tenant and purpose (None: no maximum).
MaxAges = Mapping[tuple[str, str], int | None]


def grace_seconds(refresh_seconds: float) -> float:
    """How long after a rotation another instance may still sign with the old key (it
    re-reads the active key every `refresh_seconds`), with room for clock skew."""
    return 2 * refresh_seconds + 60


def due_for_rotation(
    records: Sequence[IssuerKeyRecord], settings: KeySettingsRecord, now: float
) -> IssuerKeyRecord | None:
    """The active key of `settings`' purpose when it has reached the maximum age."""
    if settings.max_age_seconds is None:
        return None
    active = next(
        (r for r in records if r.retired_at is None and r.purpose == settings.purpose), None
    )
    if active is None or now - active.created_at < settings.max_age_seconds:
        return None
    return active


def needs_publication_end(record: IssuerKeyRecord, now: float, grace: float) -> bool:
    """A retired key whose publication end is not fixed yet, and no instance signs with
    it any more."""
    return (
        record.retired_at is not None
        and record.published_until is None
        and now >= record.retired_at + grace
    )


async def publication_end(
    store: Store, record: IssuerKeyRecord, *, grace: float, status_token_validity: int
) -> int:
    """When the last thing the retired key signed expires: its status list tokens, and
    for a credential key the credentials issued while it was active. Copies carry an
    issuance time rounded down by up to the largest timestamp granularity."""
    assert record.retired_at is not None
    signed_until = int(record.retired_at + grace)
    end = signed_until + status_token_validity
    if record.purpose == CREDENTIAL_PURPOSE:
        last = await store.last_credential_expiry(
            record.tenant_id,
            issued_from=record.created_at - MAX_TIMESTAMP_GRANULARITY_SECONDS,
            issued_until=signed_until,
        )
        end = max(end, last or 0)
    return end


def lifetimes(
    tenant_id: str, records: Sequence[IssuerKeyRecord], max_ages: MaxAges, now: float
) -> list[KeyLifetime]:
    """How long each of the tenant's keys has left: an active key until its maximum age,
    a retired one until its publication ends; keys without an end, or no longer
    published, are left out."""
    found = []
    for record in records:
        if record.retired_at is None:
            max_age = max_ages.get((tenant_id, record.purpose))
            if max_age is None:
                continue
            end, state = record.created_at + max_age, "active"
        elif record.published_until is not None:
            end, state = record.published_until, "retired"
        else:
            continue
        if record.retired_at is not None and end <= now:
            continue  # no longer published: nothing left to watch
        found.append(KeyLifetime(tenant_id, record.purpose, record.kid, state, end - now))
    return found
