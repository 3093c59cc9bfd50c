"""Credential Issuer Metadata (OpenID4VCI 1.0 section 12.2) and the Authorization Server
Metadata (RFC 8414, section 12.3) of one issuer.

Each tenant is its own Credential Issuer and its own Authorization Server for the
pre-authorized code grant, at one identifier; these functions turn a description of its
credential configurations into the JSON documents wallets read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from eudi_connect.core.formats import SD_JWT_VC_FORMAT
from eudi_connect.core.jose import ALLOWED_ALGORITHMS
from eudi_connect.core.oid4vci.offer import PRE_AUTHORIZED_GRANT

Format = Literal["dc+sd-jwt", "mso_mdoc"]
ISSUER_WELL_KNOWN = "/.well-known/openid-credential-issuer"
AUTHORIZATION_SERVER_WELL_KNOWN = "/.well-known/oauth-authorization-server"
#: COSE ES256 (-7) for mdoc IssuerAuth; JOSE names for SD-JWT VC (section A.2/A.3).
_MDOC_SIGNING_ALGS = (-7,)
#: One path element of a claims path pointer (Appendix C): a name, an index, or None
#: for every element of an array.
PathElement = str | int | None


@dataclass(frozen=True)
class KeyAttestationRequirement:
    """`key_attestations_required`: empty lists mean "an attestation, any level"."""

    key_storage: tuple[str, ...] = ()
    user_authentication: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        described: dict[str, Any] = {}
        if self.key_storage:
            described["key_storage"] = list(self.key_storage)
        if self.user_authentication:
            described["user_authentication"] = list(self.user_authentication)
        return described


@dataclass(frozen=True)
class CredentialConfiguration:
    """One entry of `credential_configurations_supported`."""

    configuration_id: str
    format: Format
    type_name: str  # vct for SD-JWT VC, doctype for mdoc
    display_name: str
    claim_paths: tuple[tuple[PathElement, ...], ...] = ()
    key_attestation: KeyAttestationRequirement | None = None
    attestation_proofs: bool = False  # also accept the `attestation` proof type
    scope: str | None = None

    def as_json(self) -> dict[str, Any]:
        binding = "jwk" if self.format == SD_JWT_VC_FORMAT else "cose_key"
        proof: dict[str, Any] = {"proof_signing_alg_values_supported": sorted(ALLOWED_ALGORITHMS)}
        if self.key_attestation is not None:
            proof["key_attestations_required"] = self.key_attestation.as_json()
        proof_types: dict[str, Any] = {"jwt": proof}
        if self.attestation_proofs:
            proof_types["attestation"] = dict(proof)
        described: dict[str, Any] = {"format": self.format}
        if self.format == SD_JWT_VC_FORMAT:
            described["vct"] = self.type_name
            described["credential_signing_alg_values_supported"] = sorted(ALLOWED_ALGORITHMS)
        else:
            described["doctype"] = self.type_name
            described["credential_signing_alg_values_supported"] = list(_MDOC_SIGNING_ALGS)
        if self.scope:
            described["scope"] = self.scope
        described["cryptographic_binding_methods_supported"] = [binding]
        described["proof_types_supported"] = proof_types
        credential_metadata: dict[str, Any] = {"display": [{"name": self.display_name}]}
        if self.claim_paths:
            credential_metadata["claims"] = [{"path": list(path)} for path in self.claim_paths]
        described["credential_metadata"] = credential_metadata
        return described


@dataclass(frozen=True)
class IssuerEndpoints:
    credential_issuer: str
    display_name: str
    batch_size: int = 1  # proofs one credential request may carry
    deferred: bool = True
    notification: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"{self.credential_issuer.rstrip('/')}/{path}"


def well_known_url(identifier: str, well_known: str) -> str:
    """The well-known URI of an identifier with a path: inserted between host and path
    (section 12.2.2 and RFC 8414 section 3.1), e.g. https://h/.well-known/x/issuers/t."""
    parts = urlsplit(identifier)
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme, parts.netloc, well_known + path, "", ""))


def credential_issuer_metadata(
    endpoints: IssuerEndpoints, configurations: Sequence[CredentialConfiguration]
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "credential_issuer": endpoints.credential_issuer,
        "credential_endpoint": endpoints.url("credential"),
        "nonce_endpoint": endpoints.url("nonce"),
    }
    if endpoints.deferred:
        metadata["deferred_credential_endpoint"] = endpoints.url("deferred_credential")
    if endpoints.notification:
        metadata["notification_endpoint"] = endpoints.url("notification")
    if endpoints.batch_size >= 2:
        metadata["batch_credential_issuance"] = {"batch_size": endpoints.batch_size}
    metadata["display"] = [{"name": endpoints.display_name}]
    metadata["credential_configurations_supported"] = {
        c.configuration_id: c.as_json() for c in configurations
    }
    metadata.update(endpoints.extra)
    return metadata


def authorization_server_metadata(
    endpoints: IssuerEndpoints,
    *,
    client_attestation: bool = False,
    anonymous_access: bool = True,
) -> dict[str, Any]:
    """RFC 8414 metadata of the issuer's own token endpoint (pre-authorized code only,
    so no authorization endpoint and no response types)."""
    metadata: dict[str, Any] = {
        "issuer": endpoints.credential_issuer,
        "token_endpoint": endpoints.url("token"),
        "grant_types_supported": [PRE_AUTHORIZED_GRANT],
        "pre-authorized_grant_anonymous_access_supported": anonymous_access,
        "dpop_signing_alg_values_supported": sorted(ALLOWED_ALGORITHMS),
        "token_endpoint_auth_methods_supported": (
            ["attest_jwt_client_auth"] if client_attestation else ["none"]
        ),
    }
    if client_attestation:
        metadata["client_attestation_signing_alg_values_supported"] = sorted(ALLOWED_ALGORITHMS)
        metadata["client_attestation_pop_signing_alg_values_supported"] = sorted(ALLOWED_ALGORITHMS)
    return metadata
