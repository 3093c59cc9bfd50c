"""TLS and mutual TLS for the gRPC port, from PEM files."""

from __future__ import annotations

from pathlib import Path

import grpc

from eudi_connect.errors import ConfigurationError
from eudi_connect.reasons import Reason


def _read(path: str | Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read the {what} file: {exc.strerror}", reason=Reason.TLS
        ) from exc


def server_credentials(
    cert_file: str | Path, key_file: str | Path, client_ca_file: str | Path | None = None
) -> grpc.ServerCredentials:
    """Server certificate chain and key; with `client_ca_file`, clients must present a
    certificate issued by that CA (mutual TLS)."""
    chain = _read(cert_file, "TLS certificate")
    key = _read(key_file, "TLS private key")
    client_ca = _read(client_ca_file, "client CA") if client_ca_file else None
    return grpc.ssl_server_credentials(
        [(key, chain)], root_certificates=client_ca, require_client_auth=client_ca is not None
    )
