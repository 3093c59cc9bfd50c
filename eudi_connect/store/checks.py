"""What both SQL stores check before they write, and the domain errors they answer with.

Each error is made here once, so the two backends cannot drift apart in reason or wording;
the backends decide only which database condition means which error.
"""

from __future__ import annotations

from typing import Final, Literal

from eudi_connect.errors import (
    AbortedError,
    AlreadyExistsError,
    EudiConnectError,
    InvalidArgumentError,
    NotFoundError,
    ResourceExhaustedError,
    UnavailableError,
)
from eudi_connect.reasons import Reason
from eudi_connect.store.base import ApiKeyRecord, IssuerKeyRecord, StatusListRecord, TenantRecord

# --- argument checks, before any database work ---------------------------------------------


def check_new_tenant(tenant: TenantRecord, api_key: ApiKeyRecord) -> None:
    if api_key.tenant_id != tenant.tenant_id:
        raise InvalidArgumentError(
            "the API key belongs to another tenant", reason=Reason.TENANT_MISMATCH
        )
    check_new_api_key(api_key)


def check_new_api_key(api_key: ApiKeyRecord) -> None:
    if api_key.revoked_at is not None or api_key.last_used_at is not None:
        raise invalid_record("a new API key is neither revoked nor used")


def check_new_issuer_key(key: IssuerKeyRecord) -> None:
    if key.retired_at is not None:
        raise InvalidArgumentError("a new issuer key cannot be retired", reason=Reason.KEY_RETIRED)


def check_lease(tenant_id: str, *, count: int, list_size: int, new_list: StatusListRecord) -> None:
    """The arguments of `Store.lease_positions`."""
    if count < 1:
        raise InvalidArgumentError("count must be at least 1", reason=Reason.INVALID_LEASE)
    if new_list.tenant_id != tenant_id or new_list.size != list_size:
        raise InvalidArgumentError(
            "new_list must belong to the tenant and have list_size entries",
            reason=Reason.INVALID_LEASE,
        )
    if not 0 <= new_list.next_position < new_list.size:
        raise InvalidArgumentError("new_list must have free positions", reason=Reason.INVALID_LEASE)


# --- limits, checked in the transaction that writes ----------------------------------------


def check_api_key_room(live: int, max_live: int) -> None:
    """Refuses another key to a tenant that has `live` keys, `max_live` at the most."""
    if live >= max_live:
        raise ResourceExhaustedError(
            f"the tenant has {live} live API keys, the most it may have; revoke one first",
            reason=Reason.API_KEY_LIMIT,
        )


def check_trust_room(count: int, max_entries: int | None) -> None:
    """Undoes an insert that took a tenant's trust entries, new one included, to `count`."""
    if max_entries is not None and count > max_entries:
        raise ResourceExhaustedError(
            f"the tenant has {max_entries} trust entries, the most allowed; remove one first",
            reason=Reason.TRUST_ENTRIES_LIMIT,
            metadata={"max_entries": str(max_entries)},
        )


# --- errors --------------------------------------------------------------------------------


_UNAVAILABLE: Final = {
    "busy": "the store is busy; retry later",
    "full": "the store is out of disk space",
    "down": "the store is unavailable; retry later",
}


def unavailable(
    why: Literal["busy", "full", "down"], cause: BaseException | None = None
) -> UnavailableError:
    """The error for a database that cannot serve now: short, no SQL, no path or address;
    `cause` stays as `__cause__` for the logs."""
    error = UnavailableError(_UNAVAILABLE[why], reason=Reason.STORE_UNAVAILABLE)
    error.__cause__ = cause
    return error


def closed_error() -> UnavailableError:
    return UnavailableError("the store is closed", reason=Reason.STORE_UNAVAILABLE)


def invalid_record(message: str = "a value is out of range") -> InvalidArgumentError:
    """A value the schema cannot hold (CHECK, NOT NULL, type, range)."""
    return InvalidArgumentError(message, reason=Reason.INVALID_RECORD)


def store_race(message: str = "a setting was written concurrently; retry") -> AbortedError:
    return AbortedError(message, reason=Reason.STORE_RACE)


def tenant_exists() -> AlreadyExistsError:
    return AlreadyExistsError("the tenant exists", reason=Reason.TENANT_EXISTS)


def tenant_not_found() -> NotFoundError:
    return NotFoundError("the tenant does not exist", reason=Reason.TENANT_NOT_FOUND)


def api_key_exists() -> AlreadyExistsError:
    return AlreadyExistsError("the API key id exists", reason=Reason.API_KEY_EXISTS)


def issuer_key_exists() -> AlreadyExistsError:
    return AlreadyExistsError("the issuer key id exists", reason=Reason.ISSUER_KEY_EXISTS)


def issuer_key_not_found() -> NotFoundError:
    return NotFoundError("the issuer key does not exist", reason=Reason.ISSUER_KEY_NOT_FOUND)


def issuer_key_race() -> AbortedError:
    return AbortedError(
        "the tenant's active issuer key changed concurrently; retry", reason=Reason.ISSUER_KEY_RACE
    )


def status_list_exists() -> AlreadyExistsError:
    return AlreadyExistsError("the status list id exists", reason=Reason.STATUS_LIST_EXISTS)


def status_list_not_found() -> NotFoundError:
    return NotFoundError(
        "the status list does not exist for this tenant", reason=Reason.STATUS_LIST_NOT_FOUND
    )


def credential_exists() -> AlreadyExistsError:
    return AlreadyExistsError("the credential id exists", reason=Reason.CREDENTIAL_EXISTS)


def credential_not_found() -> NotFoundError:
    return NotFoundError("the credential does not exist", reason=Reason.CREDENTIAL_NOT_FOUND)


def status_index_taken() -> EudiConnectError:
    """An index handed out twice is a bug in allocation, never the caller's fault."""
    return EudiConnectError("the status index is already in use", reason=Reason.STATUS_INDEX_TAKEN)


def template_exists() -> AlreadyExistsError:
    return AlreadyExistsError("the template exists", reason=Reason.TEMPLATE_EXISTS)


def etag_mismatch() -> AbortedError:
    return AbortedError(
        "the template changed since it was read; read it again",
        reason=Reason.TEMPLATE_ETAG_MISMATCH,
    )


def trust_entry_exists() -> AlreadyExistsError:
    return AlreadyExistsError("the trust entry exists", reason=Reason.TRUST_ENTRY_EXISTS)
