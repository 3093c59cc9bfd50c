"""Which asyncpg and PostgreSQL errors mean what: a failing database (retry later), a
refused configuration, or a constraint a record broke (by the constraint's name)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, NoReturn, cast

import asyncpg

from eudi_connect.errors import (
    AbortedError,
    AlreadyExistsError,
    ConfigurationError,
    EudiConnectError,
    UnavailableError,
)
from eudi_connect.reasons import Reason
from eudi_connect.store.checks import (
    api_key_exists,
    credential_exists,
    credential_not_found,
    invalid_record,
    issuer_key_exists,
    issuer_key_race,
    status_index_taken,
    status_list_exists,
    status_list_not_found,
    store_race,
    template_exists,
    tenant_exists,
    tenant_not_found,
    unavailable,
)

# A violated constraint, by name, to the error the caller gets. Violations the code
# prevents (ON CONFLICT, row locks) are listed too: if one happens anyway it is reported
# as what it means, never as a raw database error.
_CONSTRAINT_ERRORS: Final[Mapping[str, Callable[[], EudiConnectError]]] = {
    "meta_pkey": store_race,
    "tenants_pkey": tenant_exists,
    "api_keys_pkey": api_key_exists,
    "issuer_keys_pkey": issuer_key_exists,
    "issuer_keys_one_active": issuer_key_race,
    "status_lists_pkey": status_list_exists,
    "credentials_pkey": credential_exists,
    "credentials_one_per_index": status_index_taken,
    "credentials_one_per_request": lambda: store_race(
        "the request id was used concurrently; retry"
    ),
    "templates_pkey": template_exists,
    "credentials_status_list_fk": status_list_not_found,
    "status_events_credential_fk": credential_not_found,
}


def map_error(error: BaseException) -> BaseException:
    """The domain error for a driver or database error; anything else unchanged.

    Messages are short and never carry SQL, values or the server's address; the original
    stays as `__cause__` for the logs.
    """
    if isinstance(error, EudiConnectError):
        return error
    if isinstance(error, asyncpg.PostgresError):
        return _map_postgres_error(error)
    if isinstance(error, TimeoutError):
        # Pool exhaustion (no connection within acquire_timeout) or a statement that ran
        # past command_timeout: either way the store cannot serve this call now.
        return unavailable("busy", error)
    if isinstance(error, OSError | asyncpg.InterfaceError | asyncpg.InternalClientError):
        # Refused or broken connections, a pool that is closing, a connection whose
        # protocol state a server-side disconnect left inconsistent.
        return unavailable("down", error)
    return error


def _map_postgres_error(error: Any) -> BaseException:
    state = str(getattr(error, "sqlstate", "") or "")
    if state in ("23505", "23503"):  # unique_violation, foreign_key_violation
        name = str(getattr(error, "constraint_name", "") or "")
        known = _CONSTRAINT_ERRORS.get(name)
        if known is None and state == "23503" and name.endswith("_tenant_fk"):
            known = tenant_not_found
        mapped: BaseException = (
            known()
            if known
            else AlreadyExistsError("the record exists", reason=Reason.ALREADY_EXISTS)
        )
    elif state.startswith(("22", "23")):
        # Data exceptions (a NUL character in text, a number out of range) and the other
        # integrity checks (CHECK, NOT NULL): the values sent cannot be stored.
        mapped = invalid_record()
    elif state in ("40001", "40P01"):  # serialization_failure, deadlock_detected
        mapped = AbortedError("a concurrent change won; retry", reason=Reason.STORE_CONFLICT)
    elif state == "53100":  # disk_full
        mapped = unavailable("full")
    elif (
        state.startswith(("08", "53", "57P", "58"))
        or state in ("57014", "25006")
        or isinstance(error, asyncpg.PostgresConnectionError)
    ):
        # Connection lost, too many connections, shutting down, starting up, I/O error,
        # statement timeout, a read-only server (a standby after failover).
        mapped = unavailable("down")
    else:
        return cast(BaseException, error)  # a bug (bad SQL): reported as an internal error
    mapped.__cause__ = error
    return mapped


def raise_mapped(error: BaseException) -> NoReturn:
    """Raises the domain error for `error` (`from` it), or `error` itself if it has none."""
    mapped = map_error(error)
    if mapped is error:
        raise error
    raise mapped from error


def raise_open_error(error: BaseException) -> NoReturn:
    """Why the store could not open: waiting may help (Unavailable) or not (Configuration)."""
    if isinstance(error, Exception) and not isinstance(error, EudiConnectError):
        if isinstance(error, OSError | TimeoutError):
            raise UnavailableError(
                "the PostgreSQL server cannot be reached", reason=Reason.STORE_UNAVAILABLE
            ) from error
        state = str(getattr(error, "sqlstate", "") or "")
        if state.startswith("28") or state == "3D000":
            # Authentication failed, no such role, no such database: fix the URL.
            raise ConfigurationError(
                "the PostgreSQL server refused the connection "
                f"({type(error).__name__}); check the URL's user, password and database",
                reason=Reason.DATABASE_UNUSABLE,
            ) from error
    raise_mapped(error)
