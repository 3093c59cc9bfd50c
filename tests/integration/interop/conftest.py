"""Fixtures of the interop tests: the verifier tests' `eudi-connect serve` process, tenant,
clients and HTTP session, and the Node wallet installed once per session."""

from __future__ import annotations

import pytest

from tests.integration.oid4vp.conftest import (
    channel,
    issuer,
    issuer_cluster,
    local,
    offers,
    presentations,
    session,
    tenant,
    verifier,
    verifier_cluster,
)

from .node_wallet import NodeWallet, install_node_wallet

__all__ = [
    "channel",
    "issuer",
    "issuer_cluster",
    "local",
    "node_wallet",
    "offers",
    "presentations",
    "session",
    "tenant",
    "verifier",
    "verifier_cluster",
]


@pytest.fixture(scope="session")
def node_wallet(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> NodeWallet:
    """Installed under pytest's cache, kept between runs; in a temporary directory when the
    cache is turned off (`-p no:cacheprovider`)."""
    cache: pytest.Cache | None = getattr(pytestconfig, "cache", None)
    if cache is not None:
        return install_node_wallet(cache.mkdir("interop-node"))
    return install_node_wallet(tmp_path_factory.mktemp("interop-node"))
