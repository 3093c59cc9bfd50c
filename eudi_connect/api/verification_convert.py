"""Verification messages <-> the verification service's commands and outcomes."""

from __future__ import annotations

from eudi.connect.v1 import credential_service_pb2 as pb

from eudi_connect.api.convert import credential_status, dict_to_struct, verification_failure
from eudi_connect.services.verification import (
    VerificationOutcome,
    VerificationPolicy,
    VerifyCommand,
)


def verify_command(request: pb.VerifyCredentialRequest) -> VerifyCommand:
    policy = request.policy
    return VerifyCommand(
        credential=request.credential,
        expected_audience=request.expected_audience,
        expected_nonce=request.expected_nonce,
        mdoc_session_transcript=request.mdoc_session_transcript,
        expected_response_uri=request.expected_response_uri,
        expected_jwk_thumbprint=request.expected_jwk_thumbprint,
        policy=VerificationPolicy(
            require_key_binding=policy.require_key_binding,
            max_key_binding_age_seconds=(
                policy.max_key_binding_age_seconds
                if policy.HasField("max_key_binding_age_seconds")
                else None
            ),
            allowed_vcts=frozenset(policy.allowed_vcts),
            # Unset means on: checking status is the safe default.
            check_status=policy.check_status if policy.HasField("check_status") else True,
            clock_skew_seconds=(
                policy.clock_skew_seconds if policy.HasField("clock_skew_seconds") else None
            ),
        ),
    )


def verify_response(outcome: VerificationOutcome) -> pb.VerifyCredentialResponse:
    return pb.VerifyCredentialResponse(
        valid=outcome.valid,
        status=credential_status(outcome.status),
        failure=verification_failure(outcome.failure),
        detail=outcome.detail,
        claims=dict_to_struct(outcome.claims),
        issuer=outcome.issuer,
        vct=outcome.vct,
        key_binding_verified=outcome.key_binding_verified,
        checks=[
            pb.VerificationCheck(
                name=check.name.value,
                passed=check.passed,
                failure=verification_failure(check.failure),
                detail=check.detail,
            )
            for check in outcome.checks
        ],
        format=outcome.format,
    )
