"""A relying party's PresentationService client for the tests, and the DCQL queries and
request-object reading they share."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import grpc
from eudi.connect.v1 import presentation_service_pb2 as ppb
from eudi.connect.v1 import presentation_service_pb2_grpc as ppb_grpc
from jwcrypto import jwk, jws

from tests.integration.conftest import Tenant

PID_VCT = "urn:eudi:pid:1"
PID_QUERY: dict[str, Any] = {
    "credentials": [
        {
            "id": "pid",
            "format": "dc+sd-jwt",
            "meta": {"vct_values": [PID_VCT]},
            "claims": [{"path": ["given_name"]}, {"path": ["family_name"]}],
        }
    ]
}


class Presentations:
    """PresentationService calls as one tenant."""

    def __init__(self, channel: grpc.aio.Channel, tenant: Tenant) -> None:
        self.stub = ppb_grpc.PresentationServiceStub(channel)
        self.tenant = tenant

    async def create(
        self, query: dict[str, Any] | str = PID_QUERY, **fields: Any
    ) -> ppb.CreatePresentationRequestResponse:
        text = query if isinstance(query, str) else json.dumps(query)
        request = ppb.CreatePresentationRequestRequest(dcql_query_json=text, **fields)
        response: ppb.CreatePresentationRequestResponse = await self.stub.CreatePresentationRequest(
            request, metadata=self.tenant.metadata
        )
        return response

    async def get(self, transaction_id: str) -> ppb.PresentationTransaction:
        response = await self.stub.GetPresentationResult(
            ppb.GetPresentationResultRequest(transaction_id=transaction_id),
            metadata=self.tenant.metadata,
        )
        transaction: ppb.PresentationTransaction = response.transaction
        return transaction

    def watch(self, transaction_id: str, *, timeout: float = 30.0) -> Any:
        return self.stub.WatchPresentation(
            ppb.WatchPresentationRequest(transaction_id=transaction_id),
            metadata=self.tenant.metadata,
            timeout=timeout,
        )

    async def identity(self) -> ppb.GetVerifierIdentityResponse:
        response: ppb.GetVerifierIdentityResponse = await self.stub.GetVerifierIdentity(
            ppb.GetVerifierIdentityRequest(), metadata=self.tenant.metadata
        )
        return response


def state_name(transaction: ppb.PresentationTransaction) -> str:
    return ppb.PresentationState.Name(transaction.state).removeprefix("PRESENTATION_STATE_")


def request_parameters(authorization_request_uri: str) -> dict[str, str]:
    """The query of `openid4vp://?client_id=..&request_uri=..`, one value each."""
    parts = urlsplit(authorization_request_uri)
    assert parts.scheme == "openid4vp"
    return {name: values[0] for name, values in parse_qs(parts.query).items()}


def jws_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and payload of a compact JWS, unverified (jwcrypto verifies separately)."""
    verified = jws.JWS()
    verified.deserialize(token)
    header = verified.jose_header
    payload = json.loads(verified.objects["payload"])
    assert isinstance(header, dict)
    return header, payload


def verify_with_jwcrypto(token: str, public_jwk: dict[str, Any]) -> dict[str, Any]:
    """The payload once jwcrypto (an independent JOSE library) verified the signature."""
    verified = jws.JWS()
    verified.deserialize(token)
    verified.verify(jwk.JWK(**public_jwk), alg="ES256")
    payload: dict[str, Any] = json.loads(verified.payload)
    return payload
