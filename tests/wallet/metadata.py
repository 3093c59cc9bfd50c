"""Credential Issuer Metadata (OpenID4VCI §12.2.4) and Authorization Server Metadata (RFC 8414).

Parsing checks what the wallet relies on: the identifier it asked for (a simple string
comparison, §12.2.4), the endpoints (https), and each credential configuration's format
specifics (`vct` for dc+sd-jwt, Appendix A.3.2; `doctype` for mso_mdoc, Appendix A.2.2).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tests.wallet.errors import ProtocolViolation
from tests.wallet.urls import check_https_url

SD_JWT_VC_FORMAT = "dc+sd-jwt"
MDOC_FORMAT = "mso_mdoc"


def _bad(description: str) -> ProtocolViolation:
    return ProtocolViolation("metadata_invalid", description)


def _optional_url(document: Mapping[str, Any], name: str, *, allow_http: bool) -> str | None:
    value = document.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _bad(f"{name} is not a string")
    check_https_url(value, name, allow_loopback_http=allow_http)
    return value


def _non_empty_strings(value: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise _bad(f"{what} must be a non-empty array of strings")
    return tuple(value)


@dataclass(frozen=True)
class ProofTypeMetadata:
    """One entry of `proof_types_supported`."""

    signing_algs: tuple[str, ...]
    # `key_attestations_required` when present (possibly empty): attestation is required.
    key_attestations_required: Mapping[str, Any] | None


@dataclass(frozen=True)
class CredentialConfiguration:
    """One entry of `credential_configurations_supported`."""

    id: str
    format: str
    raw: Mapping[str, Any]
    binding_methods: tuple[str, ...]
    proof_types: Mapping[str, ProofTypeMetadata]

    @property
    def vct(self) -> str | None:
        value = self.raw.get("vct")
        return None if value is None else str(value)

    @property
    def doctype(self) -> str | None:
        value = self.raw.get("doctype")
        return None if value is None else str(value)

    @property
    def requires_proof(self) -> bool:
        """`proofs` must be sent when `proof_types_supported` is present (§8.2)."""
        return bool(self.proof_types)


@dataclass(frozen=True)
class IssuerMetadata:
    """Validated Credential Issuer Metadata."""

    credential_issuer: str
    credential_endpoint: str
    nonce_endpoint: str | None
    deferred_credential_endpoint: str | None
    notification_endpoint: str | None
    authorization_servers: tuple[str, ...]
    batch_size: int | None
    configurations: Mapping[str, CredentialConfiguration]
    raw: Mapping[str, Any]

    def configuration(self, configuration_id: str) -> CredentialConfiguration:
        try:
            return self.configurations[configuration_id]
        except KeyError:
            raise ProtocolViolation(
                "unknown_configuration",
                f"{configuration_id!r} is not in credential_configurations_supported",
            ) from None


@dataclass(frozen=True)
class AuthorizationServerMetadata:
    """The parts of RFC 8414 metadata a pre-authorized flow uses."""

    issuer: str
    token_endpoint: str
    anonymous_access: bool
    dpop_signing_algs: tuple[str, ...] | None
    grant_types: tuple[str, ...] | None
    raw: Mapping[str, Any]


def parse_issuer_metadata(
    document: Any, expected_identifier: str, *, allow_loopback_http: bool = True
) -> IssuerMetadata:
    """Validates Credential Issuer Metadata fetched for `expected_identifier`."""
    if not isinstance(document, dict):
        raise _bad("the credential issuer metadata is not a JSON object")
    issuer = document.get("credential_issuer")
    if issuer != expected_identifier:
        # §12.2.4: not identical by simple string comparison -> the data MUST NOT be used.
        raise ProtocolViolation(
            "issuer_mismatch",
            f"credential_issuer {issuer!r} differs from the identifier {expected_identifier!r}",
        )
    http = allow_loopback_http
    credential_endpoint = _optional_url(document, "credential_endpoint", allow_http=http)
    if credential_endpoint is None:
        raise _bad("credential_endpoint is required")
    servers: tuple[str, ...] = ()
    if "authorization_servers" in document:
        servers = _non_empty_strings(document["authorization_servers"], "authorization_servers")
    batch_size = None
    if "batch_credential_issuance" in document:
        batch = document["batch_credential_issuance"]
        size = batch.get("batch_size") if isinstance(batch, dict) else None
        if not isinstance(size, int) or isinstance(size, bool) or size < 2:
            raise _bad("batch_credential_issuance.batch_size must be an integer of 2 or more")
        batch_size = size
    configurations = document.get("credential_configurations_supported")
    if not isinstance(configurations, dict) or not configurations:
        raise _bad("credential_configurations_supported must be a non-empty object")
    return IssuerMetadata(
        credential_issuer=issuer,
        credential_endpoint=credential_endpoint,
        nonce_endpoint=_optional_url(document, "nonce_endpoint", allow_http=http),
        deferred_credential_endpoint=_optional_url(
            document, "deferred_credential_endpoint", allow_http=http
        ),
        notification_endpoint=_optional_url(document, "notification_endpoint", allow_http=http),
        authorization_servers=servers,
        batch_size=batch_size,
        configurations={
            name: _parse_configuration(name, entry) for name, entry in configurations.items()
        },
        raw=document,
    )


def _parse_configuration(name: str, entry: Any) -> CredentialConfiguration:
    if not isinstance(entry, dict):
        raise _bad(f"configuration {name!r} is not an object")
    fmt = entry.get("format")
    if not isinstance(fmt, str):
        raise _bad(f"configuration {name!r} has no format")
    if fmt == SD_JWT_VC_FORMAT and not isinstance(entry.get("vct"), str):
        raise _bad(f"dc+sd-jwt configuration {name!r} has no vct")
    if fmt == MDOC_FORMAT and not isinstance(entry.get("doctype"), str):
        raise _bad(f"mso_mdoc configuration {name!r} has no doctype")
    methods: tuple[str, ...] = ()
    if "cryptographic_binding_methods_supported" in entry:
        methods = _non_empty_strings(
            entry["cryptographic_binding_methods_supported"],
            f"{name}.cryptographic_binding_methods_supported",
        )
    raw_proofs = entry.get("proof_types_supported")
    # §12.2.4: proof_types_supported is present exactly when binding methods are.
    if bool(methods) != (raw_proofs is not None):
        raise _bad(
            f"configuration {name!r}: proof_types_supported and "
            "cryptographic_binding_methods_supported must appear together"
        )
    proof_types: dict[str, ProofTypeMetadata] = {}
    if raw_proofs is not None:
        if not isinstance(raw_proofs, dict) or not raw_proofs:
            raise _bad(f"{name}.proof_types_supported must be a non-empty object")
        for proof_type, spec in raw_proofs.items():
            if not isinstance(spec, dict):
                raise _bad(f"{name}.proof_types_supported.{proof_type} is not an object")
            algs = _non_empty_strings(
                spec.get("proof_signing_alg_values_supported"),
                f"{name}.{proof_type}.proof_signing_alg_values_supported",
            )
            required = spec.get("key_attestations_required")
            if required is not None and not isinstance(required, dict):
                raise _bad(f"{name}.{proof_type}.key_attestations_required is not an object")
            proof_types[proof_type] = ProofTypeMetadata(algs, required)
    return CredentialConfiguration(name, fmt, entry, methods, proof_types)


def parse_authorization_server_metadata(
    document: Any, expected_issuer: str, *, allow_loopback_http: bool = True
) -> AuthorizationServerMetadata:
    """Validates RFC 8414 metadata: `issuer` identical to the one asked for (§3.3)."""
    if not isinstance(document, dict):
        raise _bad("the authorization server metadata is not a JSON object")
    issuer = document.get("issuer")
    if issuer != expected_issuer:
        raise ProtocolViolation(
            "issuer_mismatch",
            f"authorization server issuer {issuer!r} differs from {expected_issuer!r}",
        )
    token_endpoint = _optional_url(document, "token_endpoint", allow_http=allow_loopback_http)
    if token_endpoint is None:
        raise _bad("token_endpoint is required for the pre-authorized code flow")
    anonymous = document.get("pre-authorized_grant_anonymous_access_supported", False)
    if not isinstance(anonymous, bool):
        raise _bad("pre-authorized_grant_anonymous_access_supported must be a boolean")
    dpop_algs = None
    if "dpop_signing_alg_values_supported" in document:
        dpop_algs = _non_empty_strings(
            document["dpop_signing_alg_values_supported"], "dpop_signing_alg_values_supported"
        )
    grant_types = None
    if "grant_types_supported" in document:
        grant_types = _non_empty_strings(document["grant_types_supported"], "grant_types_supported")
    return AuthorizationServerMetadata(
        issuer=issuer,
        token_endpoint=token_endpoint,
        anonymous_access=anonymous,
        dpop_signing_algs=dpop_algs,
        grant_types=grant_types,
        raw=document,
    )
