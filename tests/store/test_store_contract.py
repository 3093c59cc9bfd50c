"""The Store interface's promises, checked on every backend (SQLite and PostgreSQL).

Backend-specific behaviour (group commit, pools, migrations, failures) lives in the
backend's own test module; here only what services may rely on whatever the database.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from eudi_connect.errors import (
    AbortedError,
    AlreadyExistsError,
    EudiConnectError,
    InvalidArgumentError,
    NotFoundError,
    UnavailableError,
)
from eudi_connect.store.base import (
    ApiKeyRecord,
    IssuerKeyRecord,
    KeySettingsRecord,
    NewCredential,
    StatusListRecord,
    Store,
    TenantRecord,
)
from eudi_connect.store.factory import open_store_from_url
from tests.backends import count_rows, query

VALID, INVALID, SUSPENDED = 0, 1, 2


async def add_tenant(store: Store, tenant_id: str = "t1") -> None:
    await store.create_tenant(
        TenantRecord(tenant_id, f"Tenant {tenant_id}", 100),
        ApiKeyRecord(f"key-{tenant_id}", tenant_id, b"hash-" + tenant_id.encode(), 100),
    )


def status_list(list_id: str, *, tenant_id: str = "t1", size: int = 1024) -> StatusListRecord:
    return StatusListRecord(
        status_list_id=list_id,
        tenant_id=tenant_id,
        size=size,
        bits=2,
        permutation_key=b"k" * 32,
        next_position=0,
        version=0,
        created_at=100,
    )


async def add_list(store: Store, list_id: str = "L1", *, tenant_id: str = "t1") -> None:
    lease = await store.lease_positions(
        tenant_id, count=1, list_size=1024, new_list=status_list(list_id, tenant_id=tenant_id)
    )
    assert lease.status_list_id == list_id


def credential(
    number: int,
    *,
    tenant_id: str = "t1",
    list_id: str = "L1",
    index: int | None = None,
    request_id: str | None = "",
) -> NewCredential:
    """Row `number` (index `number` unless given); request_id "" means `req-<number>`."""
    return NewCredential(
        credential_id=f"cred-{tenant_id}-{number}",
        tenant_id=tenant_id,
        request_id=f"req-{number}" if request_id == "" else request_id,
        template_id="pid",
        format="dc+sd-jwt",
        credential=f"eyJ.payload-{number}.sig~",
        status_list_id=list_id,
        status_index=number if index is None else index,
        issued_at=1_000,
        expires_at=2_000,
    )


def issuer_key(kid: str, created_at: int, *, tenant_id: str = "t1") -> IssuerKeyRecord:
    return IssuerKeyRecord(
        kid=kid,
        tenant_id=tenant_id,
        private_key_encrypted=b"sealed-" + kid.encode(),
        public_jwk={"kty": "EC", "crv": "P-256", "x": kid, "y": "y", "kid": kid},
        created_at=created_at,
    )


# --- meta, tenants ---------------------------------------------------------------------------


async def test_meta_keeps_the_first_value_even_when_written_concurrently(store: Store) -> None:
    """Of many concurrent get_or_set_meta calls, every one returns the single stored value."""
    values = await asyncio.gather(
        *(store.get_or_set_meta("check", f"value-{n}".encode()) for n in range(20))
    )
    assert len(set(values)) == 1
    assert values[0] in {f"value-{n}".encode() for n in range(20)}
    assert await store.get_or_set_meta("check", b"later") == values[0]


async def test_tenant_round_trip_and_all_or_nothing_creation(store: Store) -> None:
    """A tenant and key read back equal; a clashing id fails with its reason, writes nothing."""
    tenant = TenantRecord("t1", "Tenant One", 100)
    key = ApiKeyRecord("key-1", "t1", b"\x00hash\xff", 101)
    await store.create_tenant(tenant, key)
    assert await store.get_tenant("t1") == tenant
    assert await store.get_api_key("key-1") == key
    assert await store.get_tenant("nope") is None
    assert await store.get_api_key("nope") is None
    with pytest.raises(AlreadyExistsError) as tenant_clash:
        await store.create_tenant(TenantRecord("t1", "x", 1), ApiKeyRecord("key-2", "t1", b"", 1))
    assert tenant_clash.value.reason == "TENANT_EXISTS"
    with pytest.raises(AlreadyExistsError) as key_clash:
        await store.create_tenant(TenantRecord("t2", "x", 1), ApiKeyRecord("key-1", "t2", b"", 1))
    assert key_clash.value.reason == "API_KEY_EXISTS"
    assert await store.get_tenant("t2") is None
    assert await store.get_api_key("key-2") is None
    with pytest.raises(InvalidArgumentError):
        await store.create_tenant(TenantRecord("t3", "x", 1), ApiKeyRecord("k3", "t1", b"h", 1))
    assert await count_rows(store, "tenants") == 1


# --- issuer keys -----------------------------------------------------------------------------


async def test_issuer_key_ensure_rotate_and_list(store: Store) -> None:
    """One key is active at a time; rotation retires the old key and keeps it listed."""
    await add_tenant(store)
    first = issuer_key("kid-1", 200)
    assert await store.ensure_active_issuer_key(first) == first
    assert await store.ensure_active_issuer_key(issuer_key("kid-other", 201)) == first
    second = issuer_key("kid-2", 200)  # same second as the first: order still by age
    await store.rotate_issuer_key(second, retired_at=300)
    keys = await store.list_issuer_keys("t1")
    assert [key.kid for key in keys] == ["kid-2", "kid-1"]
    assert keys[0] == second
    assert keys[1].retired_at == 300
    assert keys[1].public_jwk == first.public_jwk
    assert keys[1].private_key_encrypted == first.private_key_encrypted
    assert await store.ensure_active_issuer_key(issuer_key("kid-3", 400)) == second
    assert await store.list_issuer_keys("someone-else") == []


async def test_issuer_key_errors_change_nothing(store: Store) -> None:
    """A reused kid, an unknown tenant and a retired candidate are refused."""
    await add_tenant(store)
    await store.ensure_active_issuer_key(issuer_key("kid-1", 200))
    with pytest.raises(AlreadyExistsError) as reused:
        await store.rotate_issuer_key(issuer_key("kid-1", 300), retired_at=300)
    assert reused.value.reason == "ISSUER_KEY_EXISTS"
    [still_active] = await store.list_issuer_keys("t1")
    assert still_active.retired_at is None
    for call in (
        store.ensure_active_issuer_key(issuer_key("kid-x", 1, tenant_id="ghost")),
        store.rotate_issuer_key(issuer_key("kid-y", 1, tenant_id="ghost"), retired_at=1),
    ):
        with pytest.raises(NotFoundError) as unknown:
            await call
        assert unknown.value.reason == "TENANT_NOT_FOUND"
    retired = IssuerKeyRecord("kid-z", "t1", b"", {}, 1, retired_at=1)
    with pytest.raises(InvalidArgumentError):
        await store.ensure_active_issuer_key(retired)


async def test_concurrent_first_keys_and_rotations_leave_one_active_key(store: Store) -> None:
    """Racing first uses agree on one key; racing rotations all apply, one after another."""
    await add_tenant(store)
    chosen = await asyncio.gather(
        *(store.ensure_active_issuer_key(issuer_key(f"first-{n}", 100)) for n in range(10))
    )
    assert len({key.kid for key in chosen}) == 1
    await asyncio.gather(
        *(
            store.rotate_issuer_key(issuer_key(f"next-{n}", 200 + n), retired_at=300)
            for n in range(5)
        )
    )
    keys = await store.list_issuer_keys("t1")
    assert len(keys) == 6
    assert sum(key.retired_at is None for key in keys) == 1


async def test_issuer_keys_have_one_active_key_per_purpose(store: Store) -> None:
    """A status key and a credential key are active side by side; a rotation replaces only
    its own purpose's key, and a conditional rotation loses to one that came first."""
    await add_tenant(store)
    credential_key = issuer_key("kid-c", 100)
    status_key = replace(
        issuer_key("kid-s", 100),
        purpose="status",
        backend="pkcs11",
        private_key_encrypted=b"",
        key_ref={"module": "/lib.so", "key_id": "ab", "token_label": "t"},
    )
    assert await store.ensure_active_issuer_key(credential_key) == credential_key
    assert await store.ensure_active_issuer_key(status_key) == status_key
    assert await store.rotate_issuer_key(
        replace(status_key, kid="kid-s2", created_at=200), retired_at=200, replacing="kid-s"
    )
    assert not await store.rotate_issuer_key(
        replace(status_key, kid="kid-s3", created_at=300), retired_at=300, replacing="kid-s"
    )
    keys = {key.kid: key for key in await store.list_issuer_keys("t1")}
    assert set(keys) == {"kid-c", "kid-s", "kid-s2"}
    assert keys["kid-c"].retired_at is None
    assert keys["kid-s"].retired_at == 200
    assert keys["kid-s2"].retired_at is None
    assert keys["kid-s2"].key_ref == status_key.key_ref
    assert keys["kid-s2"].backend == "pkcs11"
    await store.set_issuer_key_published_until("kid-s", 900)
    [retired] = [k for k in await store.list_issuer_keys("t1") if k.kid == "kid-s"]
    assert retired.published_until == 900
    with pytest.raises(NotFoundError):
        await store.set_issuer_key_published_until("no-such-kid", 1)


async def test_key_settings_are_replaced_per_purpose(store: Store) -> None:
    """Settings are kept per tenant and purpose; putting them again replaces them."""
    await add_tenant(store)
    await add_tenant(store, "t2")
    first = KeySettingsRecord("t1", "credential", "software", 100, max_age_seconds=3600)
    token = {"module": "/lib.so", "token_label": "hsm", "pin_env": "PIN"}
    status = KeySettingsRecord("t1", "status", "pkcs11", 100, token=token)
    await store.put_key_settings(first)
    await store.put_key_settings(status)
    await store.put_key_settings(KeySettingsRecord("t2", "credential", "software", 100))
    changed = replace(first, max_age_seconds=None, updated_at=200)
    await store.put_key_settings(changed)
    assert await store.list_key_settings("t1") == [changed, status]
    assert len(await store.list_key_settings()) == 3
    with pytest.raises(NotFoundError):
        await store.put_key_settings(KeySettingsRecord("ghost", "status", "software", 1))


async def test_last_credential_expiry_covers_an_issuing_interval(store: Store) -> None:
    """The latest expiry among the tenant's credentials issued in the interval, or None."""
    await add_tenant(store)
    await add_list(store)
    await store.insert_credentials(
        [
            replace(credential(1), issued_at=100, expires_at=500),
            replace(credential(2), issued_at=200, expires_at=400),
        ]
    )
    assert await store.last_credential_expiry("t1", issued_from=0, issued_until=300) == 500
    assert await store.last_credential_expiry("t1", issued_from=150, issued_until=300) == 400
    assert await store.last_credential_expiry("t1", issued_from=301, issued_until=900) is None


async def test_issuer_key_certificates_are_stored_and_set_once(store: Store) -> None:
    """A key made with a certificate keeps it; a key without one takes the first
    certificate any instance sets, and later ones get that first one back."""
    await add_tenant(store)
    with_certificate = replace(issuer_key("kid-1", 100), certificate=b"der-1")
    await store.ensure_active_issuer_key(with_certificate)
    await store.rotate_issuer_key(issuer_key("kid-2", 200), retired_at=200)
    keys = {key.kid: key for key in await store.list_issuer_keys("t1")}
    assert keys["kid-1"].certificate == b"der-1"
    assert keys["kid-2"].certificate is None
    results = await asyncio.gather(
        *(store.set_issuer_key_certificate("kid-2", f"der-2-{n}".encode()) for n in range(5))
    )
    assert len(set(results)) == 1
    assert await store.set_issuer_key_certificate("kid-1", b"other") == b"der-1"
    keys = {key.kid: key for key in await store.list_issuer_keys("t1")}
    assert keys["kid-2"].certificate == results[0]
    with pytest.raises(NotFoundError):
        await store.set_issuer_key_certificate("kid-unknown", b"der")


# --- status lists ----------------------------------------------------------------------------


async def test_lease_positions_across_a_list_boundary(store: Store) -> None:
    """Leases fill a list of 8, stop short at its end, then open a new list; none overlap."""
    await add_tenant(store)
    leases = [
        await store.lease_positions(
            "t1", count=3, list_size=8, new_list=status_list(f"L{n}", size=8)
        )
        for n in range(5)
    ]
    assert [(lease.status_list_id, lease.start, lease.count) for lease in leases] == [
        ("L0", 0, 3),
        ("L0", 3, 3),
        ("L0", 6, 2),
        ("L3", 0, 3),
        ("L3", 3, 3),
    ]
    first = await store.get_status_list("L0")
    assert first is not None
    assert (first.next_position, first.size, first.bits, first.version) == (8, 8, 2, 0)
    assert first.permutation_key == b"k" * 32
    assert await store.get_status_list("L1") is None  # offered, not needed: never created
    assert await store.get_status_list("L2") is None


async def test_concurrent_leases_never_overlap_nor_open_spare_lists(store: Store) -> None:
    """Leases taken concurrently cover each position once and fill one list at a time."""
    await add_tenant(store)
    leases = await asyncio.gather(
        *(
            store.lease_positions("t1", count=3, list_size=8, new_list=status_list(f"L{n}", size=8))
            for n in range(20)
        )
    )
    taken = [
        (lease.status_list_id, position)
        for lease in leases
        for position in range(lease.start, lease.start + lease.count)
    ]
    assert len(taken) == len(set(taken))
    assert all(0 <= position < 8 for _, position in taken)
    lists = {lease.status_list_id for lease in leases}
    assert len(lists) == -(-len(taken) // 8)  # every list but the last one is full


async def test_lease_positions_rejects_bad_arguments(store: Store) -> None:
    """Zero counts, mismatched new lists, unknown tenants and reused list ids are refused."""
    await add_tenant(store)
    await add_tenant(store, "t2")
    with pytest.raises(InvalidArgumentError):
        await store.lease_positions("t1", count=0, list_size=8, new_list=status_list("L", size=8))
    with pytest.raises(InvalidArgumentError):
        await store.lease_positions("t1", count=1, list_size=16, new_list=status_list("L", size=8))
    with pytest.raises(InvalidArgumentError):
        await store.lease_positions(
            "t1", count=1, list_size=8, new_list=status_list("L", tenant_id="t2", size=8)
        )
    with pytest.raises(NotFoundError) as unknown:
        await store.lease_positions(
            "ghost", count=1, list_size=8, new_list=status_list("G", tenant_id="ghost", size=8)
        )
    assert unknown.value.reason == "TENANT_NOT_FOUND"
    await add_list(store, "L1")
    with pytest.raises(AlreadyExistsError) as reused:
        await store.lease_positions(
            "t2", count=1, list_size=1024, new_list=status_list("L1", tenant_id="t2")
        )
    assert reused.value.reason == "STATUS_LIST_EXISTS"


# --- credentials -----------------------------------------------------------------------------


async def test_concurrent_inserts_are_all_committed(store: Store) -> None:
    """500 concurrent single-row calls all commit and read back."""
    await add_tenant(store)
    await add_list(store)
    outcomes = await asyncio.gather(
        *(store.insert_credentials([credential(n)]) for n in range(500))
    )
    assert all(outcome.inserted and outcome.record.status == VALID for [outcome] in outcomes)
    assert await count_rows(store, "credentials") == 500
    sample = await store.get_credential("t1", "cred-t1-377")
    assert sample is not None
    assert (sample.status_index, sample.credential) == (377, "eyJ.payload-377.sig~")
    assert sample == outcomes[377][0].record


async def test_multi_row_insert_returns_outcomes_in_order(store: Store) -> None:
    """One call with many rows gets one outcome per row, in order, replays included."""
    await add_tenant(store)
    await add_list(store)
    await store.insert_credentials([credential(1)])
    outcomes = await store.insert_credentials(
        [
            credential(0),
            credential(99, index=50, request_id="req-1"),
            credential(2),
            credential(98, index=51, request_id="req-2"),  # replays a row of this very call
        ]
    )
    assert [outcome.inserted for outcome in outcomes] == [True, False, True, False]
    assert outcomes[1].record.credential_id == "cred-t1-1"
    assert outcomes[3].record.credential_id == "cred-t1-2"
    assert await store.insert_credentials([]) == []
    assert await store.get_status_at("L1", 50) is None


async def test_request_id_replay_returns_the_stored_row(store: Store) -> None:
    """A used request_id stores nothing and returns the first row as it is now."""
    await add_tenant(store)
    await add_list(store)
    [first] = await store.insert_credentials([credential(1)])
    await store.change_status(
        "t1", "cred-t1-1", to_status=SUSPENDED, from_statuses=frozenset({VALID}), reason="r", at=5
    )
    [replay] = await store.insert_credentials([credential(2, request_id="req-1")])
    assert first.inserted
    assert not replay.inserted
    assert replay.record.credential_id == "cred-t1-1"
    assert replay.record.status == SUSPENDED
    assert await store.get_status_at("L1", 2) is None
    assert await store.get_credential_by_request_id("t1", "req-1") == replay.record


async def test_request_id_is_per_tenant_and_null_never_collides(store: Store) -> None:
    """Tenants may reuse each other's request ids; rows without one never clash."""
    await add_tenant(store, "t1")
    await add_tenant(store, "t2")
    await add_list(store, "L1", tenant_id="t1")
    await add_list(store, "L2", tenant_id="t2")
    outcomes = await asyncio.gather(
        store.insert_credentials([credential(1, request_id="same")]),
        store.insert_credentials([credential(1, tenant_id="t2", list_id="L2", request_id="same")]),
        store.insert_credentials([credential(2, request_id=None)]),
        store.insert_credentials([credential(3, request_id=None)]),
    )
    assert all(outcome.inserted for [outcome] in outcomes)


async def test_concurrent_replays_insert_once(store: Store) -> None:
    """Concurrent calls with one request_id insert one row; the others get that row."""
    await add_tenant(store)
    await add_list(store)
    outcomes = await asyncio.gather(
        *(store.insert_credentials([credential(n, request_id="dup")]) for n in range(10))
    )
    inserted = [outcome for [outcome] in outcomes if outcome.inserted]
    assert len(inserted) == 1
    assert {outcome.record.credential_id for [outcome] in outcomes} == {
        inserted[0].record.credential_id
    }
    assert await count_rows(store, "credentials") == 1


async def test_a_bad_call_fails_alone(store: Store) -> None:
    """A status index already taken fails its own call; concurrent calls still commit."""
    await add_tenant(store)
    await add_list(store)
    await store.insert_credentials([credential(0)])
    results = await asyncio.gather(
        *(store.insert_credentials([credential(n)]) for n in range(1, 6)),
        store.insert_credentials([credential(6, index=0)]),
        *(store.insert_credentials([credential(n)]) for n in range(7, 10)),
        return_exceptions=True,
    )
    failure = results[5]
    assert isinstance(failure, EudiConnectError)
    assert failure.reason == "STATUS_INDEX_TAKEN"
    assert all(not isinstance(result, BaseException) for n, result in enumerate(results) if n != 5)
    assert await count_rows(store, "credentials") == 9
    assert await store.get_credential("t1", "cred-t1-6") is None


async def test_a_failing_row_undoes_its_whole_call(store: Store) -> None:
    """Rows of one call commit together: one bad row leaves none of that call stored."""
    await add_tenant(store)
    await add_list(store)
    await store.insert_credentials([credential(0)])
    with pytest.raises(EudiConnectError) as caught:
        await store.insert_credentials([credential(1), credential(2, index=0)])
    assert caught.value.reason == "STATUS_INDEX_TAKEN"
    assert await store.get_credential("t1", "cred-t1-1") is None


async def test_insert_reference_and_id_errors(store: Store) -> None:
    """Unknown lists, another tenant's list, unknown tenants and reused ids are refused."""
    await add_tenant(store, "t1")
    await add_tenant(store, "t2")
    await add_list(store, "L1", tenant_id="t1")
    with pytest.raises(NotFoundError) as unknown_list:
        await store.insert_credentials([credential(1, list_id="missing")])
    assert unknown_list.value.reason == "STATUS_LIST_NOT_FOUND"
    with pytest.raises(NotFoundError) as foreign_list:
        await store.insert_credentials([credential(1, tenant_id="t2", list_id="L1")])
    assert foreign_list.value.reason == "STATUS_LIST_NOT_FOUND"
    with pytest.raises(NotFoundError) as unknown_tenant:
        await store.insert_credentials([credential(1, tenant_id="ghost")])
    assert unknown_tenant.value.reason == "TENANT_NOT_FOUND"
    await store.insert_credentials([credential(1)])
    with pytest.raises(AlreadyExistsError) as same_id:
        await store.insert_credentials([credential(1, index=7, request_id="other")])
    assert same_id.value.reason == "CREDENTIAL_EXISTS"


# --- status changes --------------------------------------------------------------------------


async def test_change_status_transitions_events_and_versions(store: Store) -> None:
    """Changes obey their precondition, leave an audit trail and bump the list's version."""
    await add_tenant(store)
    await add_list(store)
    await store.insert_credentials([credential(1, index=5), credential(2, index=9)])
    # (to, from, reason, at, whether it changes, the list's entries after it)
    steps = [
        (SUSPENDED, {VALID}, "hold", 10, True, [(5, SUSPENDED)]),
        (VALID, {SUSPENDED}, "ok", 20, True, []),
        (INVALID, {VALID, SUSPENDED}, "x", 30, True, [(5, INVALID)]),
        (INVALID, {VALID, SUSPENDED}, "x", 40, False, [(5, INVALID)]),
    ]
    for to_status, from_statuses, reason, at, changes, entries in steps:
        result = await store.change_status(
            "t1",
            "cred-t1-1",
            to_status=to_status,
            from_statuses=frozenset(from_statuses),
            reason=reason,
            at=at,
        )
        assert result is not None
        assert result.changed is changes
        assert result.record.status == to_status
        assert result.record.status_updated_at == (at if changes else 30)
        assert await store.get_credential("t1", "cred-t1-1") == result.record
        assert await store.list_status_entries("L1") == entries
    assert await store.get_status_at("L1", 5) == INVALID
    assert await store.get_status_at("L1", 9) == VALID
    assert await store.get_status_at("L1", 6) is None
    record = await store.get_status_list("L1")
    assert record is not None
    assert record.version == 3
    events = await query(
        store,
        "SELECT credential_id, from_status, to_status, reason, at FROM status_events "
        "ORDER BY event_id",
    )
    assert events == [
        ("cred-t1-1", VALID, SUSPENDED, "hold", 10),
        ("cred-t1-1", SUSPENDED, VALID, "ok", 20),
        ("cred-t1-1", VALID, INVALID, "x", 30),
    ]


async def test_concurrent_changes_of_one_credential_apply_once(store: Store) -> None:
    """Of 10 concurrent suspensions one changes the row; one event, one version bump."""
    await add_tenant(store)
    await add_list(store)
    await store.insert_credentials([credential(1)])
    results = await asyncio.gather(
        *(
            store.change_status(
                "t1",
                "cred-t1-1",
                to_status=SUSPENDED,
                from_statuses=frozenset({VALID}),
                reason=f"r{n}",
                at=n,
            )
            for n in range(10)
        )
    )
    assert sum(1 for result in results if result is not None and result.changed) == 1
    assert all(result is not None and result.record.status == SUSPENDED for result in results)
    assert await count_rows(store, "status_events") == 1
    record = await store.get_status_list("L1")
    assert record is not None
    assert record.version == 1


async def test_change_status_is_tenant_isolated(store: Store) -> None:
    """Another tenant's credential id, or an unknown one, is None and stays unchanged."""
    await add_tenant(store, "t1")
    await add_tenant(store, "t2")
    await add_list(store)
    await store.insert_credentials([credential(1)])
    for tenant_id, credential_id in (("t2", "cred-t1-1"), ("t1", "missing")):
        result = await store.change_status(
            tenant_id,
            credential_id,
            to_status=INVALID,
            from_statuses=frozenset({VALID}),
            reason="x",
            at=1,
        )
        assert result is None
    assert await store.get_credential("t2", "cred-t1-1") is None
    assert await store.get_credential_by_request_id("t2", "req-1") is None
    assert await store.get_status_at("L1", 1) == VALID


# --- templates -------------------------------------------------------------------------------


async def test_template_lifecycle_keeps_versions_going_up(store: Store) -> None:
    """Create, update (compare-and-set), delete, re-create: the version never goes back."""
    await add_tenant(store)
    created = await store.create_template(
        "t1", "id-card", kind="credential", definition={"vct": "a"}, description="d", created_at=5
    )
    assert (created.version, created.created_at, created.updated_at) == (1, 5, 5)
    assert await store.get_template("t1", "id-card") == created
    assert await store.get_template_version("t1", "id-card") == 1
    with pytest.raises(AlreadyExistsError) as exists:
        await store.create_template(
            "t1", "id-card", kind="credential", definition={}, description="", created_at=6
        )
    assert exists.value.reason == "TEMPLATE_EXISTS"

    updated = await store.update_template(
        "t1", "id-card", definition={"vct": "b"}, description="e", expected_version=1, updated_at=7
    )
    assert updated is not None
    assert (updated.version, updated.definition, updated.created_at) == (2, {"vct": "b"}, 5)
    assert updated.kind == "credential"
    with pytest.raises(AbortedError) as stale:
        await store.update_template(
            "t1", "id-card", definition={}, description="", expected_version=1, updated_at=8
        )
    assert stale.value.reason == "TEMPLATE_ETAG_MISMATCH"
    with pytest.raises(AbortedError):
        await store.delete_template("t1", "id-card", expected_version=1, deleted_at=8)

    assert await store.delete_template("t1", "id-card", expected_version=2, deleted_at=9)
    assert await store.get_template("t1", "id-card") is None
    assert await store.get_template_version("t1", "id-card") is None
    assert not await store.delete_template("t1", "id-card", expected_version=None, deleted_at=9)
    missing = await store.update_template(
        "t1", "id-card", definition={}, description="", expected_version=3, updated_at=9
    )
    assert missing is None

    again = await store.create_template(
        "t1", "id-card", kind="notification", definition={"t": 1}, description="", created_at=10
    )
    assert (again.version, again.kind) == (4, "notification")
    with pytest.raises(NotFoundError) as unknown:
        await store.create_template(
            "ghost", "x", kind="credential", definition={}, description="", created_at=1
        )
    assert unknown.value.reason == "TENANT_NOT_FOUND"


async def test_template_pages_are_ordered_and_filtered(store: Store) -> None:
    """Pages come in bytewise id order, after a cursor, of one kind when asked."""
    await add_tenant(store)
    await add_tenant(store, "t2")
    ids = ["b", "a", "Z", "é", "a-1", "c"]
    for number, template_id in enumerate(ids):
        await store.create_template(
            "t1",
            template_id,
            kind="credential" if number % 2 else "notification",
            definition={"n": number},
            description="",
            created_at=number,
        )
    await store.create_template(
        "t2", "a", kind="credential", definition={}, description="", created_at=1
    )
    await store.delete_template("t1", "c", expected_version=None, deleted_at=9)
    first = await store.list_templates("t1", after=None, limit=3)
    assert [t.template_id for t in first] == ["Z", "a", "a-1"]
    rest = await store.list_templates("t1", after="a-1", limit=10)
    assert [t.template_id for t in rest] == ["b", "é"]
    credentials = await store.list_templates("t1", after=None, limit=10, kind="credential")
    assert [t.template_id for t in credentials] == ["a", "é"]
    assert await store.list_templates("t1", after=None, limit=0) == []


async def test_concurrent_template_creation_succeeds_once(store: Store) -> None:
    """Of several concurrent creations of one id exactly one succeeds."""
    await add_tenant(store)
    results = await asyncio.gather(
        *(
            store.create_template(
                "t1", "same", kind="credential", definition={"n": n}, description="", created_at=n
            )
            for n in range(6)
        ),
        return_exceptions=True,
    )
    assert sum(not isinstance(result, BaseException) for result in results) == 1
    assert all(
        isinstance(result, AlreadyExistsError)
        for result in results
        if isinstance(result, BaseException)
    )


# --- lifecycle -------------------------------------------------------------------------------


async def test_calls_after_close_are_unavailable(store_url: str) -> None:
    """Reads and writes after close() raise UnavailableError, and close() is idempotent."""
    store = open_store_from_url(store_url)
    await store.open()
    await store.close()
    await store.close()
    with pytest.raises(UnavailableError) as caught:
        await store.get_tenant("t1")
    assert caught.value.reason == "STORE_UNAVAILABLE"
    with pytest.raises(UnavailableError):
        await add_tenant(store)
