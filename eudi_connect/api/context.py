"""Per-call state set by the interceptor and read by servicers."""

from __future__ import annotations

from contextvars import ContextVar

_tenant: ContextVar[str] = ContextVar("eudi_connect_tenant")


def set_current_tenant(tenant_id: str) -> None:
    _tenant.set(tenant_id)


def current_tenant() -> str:
    """The authenticated tenant of the running call (set before any servicer runs)."""
    return _tenant.get()


def current_tenant_or_none() -> str | None:
    return _tenant.get(None)
