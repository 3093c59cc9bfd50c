"""Credential Issuer and Authorization Server metadata of one issuer."""

from __future__ import annotations

from eudi_connect.core.oid4vci.metadata import (
    AUTHORIZATION_SERVER_WELL_KNOWN,
    ISSUER_WELL_KNOWN,
    CredentialConfiguration,
    IssuerEndpoints,
    KeyAttestationRequirement,
    authorization_server_metadata,
    credential_issuer_metadata,
    well_known_url,
)

ISSUER = "https://eudi.example/issuers/t1"
ENDPOINTS = IssuerEndpoints(credential_issuer=ISSUER, display_name="Example", batch_size=10)
PID_SD_JWT = CredentialConfiguration(
    configuration_id="pid.dc+sd-jwt",
    format="dc+sd-jwt",
    type_name="urn:eudi:pid:1",
    display_name="PID",
    claim_paths=(("given_name",), ("nationalities", None), ("place_of_birth", "locality")),
)
PID_MDOC = CredentialConfiguration(
    configuration_id="pid.mso_mdoc",
    format="mso_mdoc",
    type_name="eu.europa.ec.eudi.pid.1",
    display_name="PID",
    claim_paths=(("eu.europa.ec.eudi.pid.1", "given_name"),),
    key_attestation=KeyAttestationRequirement(key_storage=("iso_18045_high",)),
)


def test_the_well_known_location_goes_between_host_and_path() -> None:
    """Section 12.2.2: the well-known string is inserted before the identifier's path."""
    assert well_known_url(ISSUER, ISSUER_WELL_KNOWN) == (
        "https://eudi.example/.well-known/openid-credential-issuer/issuers/t1"
    )
    assert well_known_url("https://h.example", AUTHORIZATION_SERVER_WELL_KNOWN) == (
        "https://h.example/.well-known/oauth-authorization-server"
    )


def test_issuer_metadata_lists_endpoints_and_each_configuration() -> None:
    """Endpoints hang off the issuer identifier; each format carries its own type name."""
    metadata = credential_issuer_metadata(ENDPOINTS, [PID_SD_JWT, PID_MDOC])
    assert metadata["credential_issuer"] == ISSUER
    assert metadata["credential_endpoint"] == ISSUER + "/credential"
    assert metadata["nonce_endpoint"] == ISSUER + "/nonce"
    assert metadata["batch_credential_issuance"] == {"batch_size": 10}
    sd_jwt = metadata["credential_configurations_supported"]["pid.dc+sd-jwt"]
    assert sd_jwt["vct"] == "urn:eudi:pid:1"
    assert sd_jwt["cryptographic_binding_methods_supported"] == ["jwk"]
    assert sd_jwt["proof_types_supported"]["jwt"] == {
        "proof_signing_alg_values_supported": ["ES256"]
    }
    assert {"path": ["nationalities", None]} in sd_jwt["credential_metadata"]["claims"]
    mdoc = metadata["credential_configurations_supported"]["pid.mso_mdoc"]
    assert mdoc["doctype"] == "eu.europa.ec.eudi.pid.1"
    assert mdoc["cryptographic_binding_methods_supported"] == ["cose_key"]
    assert mdoc["proof_types_supported"]["jwt"]["key_attestations_required"] == {
        "key_storage": ["iso_18045_high"]
    }


def test_a_single_proof_issuer_announces_no_batch() -> None:
    """batch_size must be 2 or more, so a one-proof issuer leaves the parameter out."""
    single = IssuerEndpoints(credential_issuer=ISSUER, display_name="x", batch_size=1)
    assert "batch_credential_issuance" not in credential_issuer_metadata(single, [PID_SD_JWT])


def test_authorization_server_metadata_names_the_pre_authorized_grant_and_dpop() -> None:
    """The token endpoint, the grant, anonymous access and DPoP algorithms are announced."""
    metadata = authorization_server_metadata(ENDPOINTS, client_attestation=True)
    assert metadata["issuer"] == ISSUER
    assert metadata["token_endpoint"] == ISSUER + "/token"
    assert metadata["grant_types_supported"] == [
        "urn:ietf:params:oauth:grant-type:pre-authorized_code"
    ]
    assert metadata["dpop_signing_alg_values_supported"] == ["ES256"]
    assert metadata["token_endpoint_auth_methods_supported"] == ["attest_jwt_client_auth"]
