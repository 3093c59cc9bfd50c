"""PresentationService: OpenID4VP transactions for relying parties; converts messages and
delegates to `services.presentation`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from eudi.connect.v1 import credential_service_pb2 as cpb
from eudi.connect.v1 import presentation_service_pb2 as pb
from eudi.connect.v1 import presentation_service_pb2_grpc as pb_grpc

from eudi_connect.api.context import current_tenant
from eudi_connect.api.convert import pem_certificates, timestamp
from eudi_connect.api.verification_convert import verify_command, verify_response
from eudi_connect.services.presentation import (
    CreatePresentationCommand,
    PresentationService,
    PresentationView,
)
from eudi_connect.services.verifier_identity import VerifierIdentities

Context = grpc.aio.ServicerContext[Any, Any]

PRESENTATION_STATE_OF: dict[str, pb.PresentationState] = {
    name: getattr(pb, f"PRESENTATION_STATE_{name}")
    for name in ("PENDING", "RETRIEVED", "RESPONDED", "VERIFIED", "FAILED", "EXPIRED")
}


def transaction_message(view: PresentationView) -> pb.PresentationTransaction:
    record = view.record
    return pb.PresentationTransaction(
        transaction_id=record.transaction_id,
        state=PRESENTATION_STATE_OF[view.state],
        client_id=record.client_id,
        response_mode=record.response_mode,
        authorization_request_uri=view.authorization_request_uri,
        request_uri=record.request_uri or "",
        created_at=timestamp(record.created_at),
        expires_at=timestamp(record.expires_at),
        updated_at=timestamp(record.updated_at),
        dcql_query_json=record.dcql_query,
        credentials=[
            pb.PresentedCredential(
                credential_query_id=result.credential_query_id,
                index=result.index,
                verification=verify_response(result.outcome),
            )
            for result in view.results
        ],
        failure_reason=record.failure_reason,
        failure_detail=record.failure_detail,
        response_code=record.response_code or "",
    )


class PresentationServicer(pb_grpc.PresentationServiceServicer):
    def __init__(self, presentations: PresentationService, identities: VerifierIdentities):
        self._presentations = presentations
        self._identities = identities

    async def CreatePresentationRequest(
        self, request: pb.CreatePresentationRequestRequest, context: Context
    ) -> pb.CreatePresentationRequestResponse:
        # The policy converts as VerifyCredential's does (one place for its defaults).
        policy = verify_command(cpb.VerifyCredentialRequest(policy=request.policy)).policy
        created = await self._presentations.create(
            current_tenant(),
            CreatePresentationCommand(
                dcql_query_json=request.dcql_query_json,
                client_id_prefix=request.client_id_prefix,
                response_mode=request.response_mode,
                transaction_data_json=tuple(request.transaction_data_json),
                lifetime_seconds=request.lifetime_seconds,
                policy=policy,
                request_id=request.request_id,
                redirect_uri=request.redirect_uri,
                request_uri_method=request.request_uri_method,
                expected_origins=tuple(request.expected_origins),
            ),
        )
        return pb.CreatePresentationRequestResponse(
            transaction=transaction_message(created.view),
            request_object=created.request_object,
            dc_api_request_json=created.dc_api_request_json,
        )

    async def GetPresentationResult(
        self, request: pb.GetPresentationResultRequest, context: Context
    ) -> pb.GetPresentationResultResponse:
        view = await self._presentations.get(current_tenant(), request.transaction_id)
        return pb.GetPresentationResultResponse(transaction=transaction_message(view))

    async def WatchPresentation(
        self, request: pb.WatchPresentationRequest, context: Context
    ) -> AsyncIterator[pb.WatchPresentationResponse]:
        async for view in self._presentations.watch(current_tenant(), request.transaction_id):
            yield pb.WatchPresentationResponse(transaction=transaction_message(view))

    async def SubmitPresentationResponse(
        self, request: pb.SubmitPresentationResponseRequest, context: Context
    ) -> pb.SubmitPresentationResponseResponse:
        view = await self._presentations.submit(
            current_tenant(),
            request.transaction_id,
            origin=request.origin,
            response_json=request.response_json,
        )
        return pb.SubmitPresentationResponseResponse(transaction=transaction_message(view))

    async def GetVerifierIdentity(
        self, request: pb.GetVerifierIdentityRequest, context: Context
    ) -> pb.GetVerifierIdentityResponse:
        identity = await self._identities.identity(current_tenant())
        return pb.GetVerifierIdentityResponse(
            dns_name=identity.dns_name,
            client_ids=list(identity.client_ids),
            certificate_chain_pem=pem_certificates(identity.certificate_chain),
        )
