"""TrustService: a tenant's trusted issuers and trust anchors; converts and delegates."""

from __future__ import annotations

from typing import Any

import grpc
from eudi.connect.v1 import trust_service_pb2 as pb
from eudi.connect.v1 import trust_service_pb2_grpc as pb_grpc

from eudi_connect.api.context import current_tenant
from eudi_connect.api.convert import timestamp
from eudi_connect.core.encoding import ascii_json
from eudi_connect.services.app import Services
from eudi_connect.services.trust import TrustAnchor, TrustedIssuer

Context = grpc.aio.ServicerContext[Any, Any]


def trusted_issuer_message(trusted: TrustedIssuer) -> pb.TrustedIssuer:
    message = pb.TrustedIssuer(issuer=trusted.issuer, created_at=timestamp(trusted.created_at))
    if trusted.jwks is not None:
        message.jwks = ascii_json(trusted.jwks)
    elif trusted.jwks_uri is not None:
        message.jwks_uri = trusted.jwks_uri
    return message


def trust_anchor_message(anchor: TrustAnchor) -> pb.TrustAnchor:
    return pb.TrustAnchor(
        anchor_id=anchor.anchor_id,
        certificate=anchor.certificate,
        subject=anchor.subject,
        not_after=timestamp(anchor.not_after),
        created_at=timestamp(anchor.created_at),
    )


class TrustServicer(pb_grpc.TrustServiceServicer):
    def __init__(self, services: Services) -> None:
        self._trust = services.trust

    async def AddTrustedIssuer(
        self, request: pb.AddTrustedIssuerRequest, context: Context
    ) -> pb.AddTrustedIssuerResponse:
        wanted = request.trusted_issuer
        added = await self._trust.add_issuer(
            current_tenant(), wanted.issuer, jwks=wanted.jwks, jwks_uri=wanted.jwks_uri
        )
        return pb.AddTrustedIssuerResponse(trusted_issuer=trusted_issuer_message(added))

    async def ListTrustedIssuers(
        self, request: pb.ListTrustedIssuersRequest, context: Context
    ) -> pb.ListTrustedIssuersResponse:
        found, next_token = await self._trust.list_issuers(
            current_tenant(), page_size=request.page_size, page_token=request.page_token
        )
        return pb.ListTrustedIssuersResponse(
            trusted_issuers=[trusted_issuer_message(t) for t in found],
            next_page_token=next_token,
        )

    async def RemoveTrustedIssuer(
        self, request: pb.RemoveTrustedIssuerRequest, context: Context
    ) -> pb.RemoveTrustedIssuerResponse:
        await self._trust.remove_issuer(current_tenant(), request.issuer)
        return pb.RemoveTrustedIssuerResponse()

    async def AddTrustAnchor(
        self, request: pb.AddTrustAnchorRequest, context: Context
    ) -> pb.AddTrustAnchorResponse:
        added = await self._trust.add_anchor(current_tenant(), request.certificate)
        return pb.AddTrustAnchorResponse(trust_anchor=trust_anchor_message(added))

    async def ListTrustAnchors(
        self, request: pb.ListTrustAnchorsRequest, context: Context
    ) -> pb.ListTrustAnchorsResponse:
        found, next_token = await self._trust.list_anchors(
            current_tenant(), page_size=request.page_size, page_token=request.page_token
        )
        return pb.ListTrustAnchorsResponse(
            trust_anchors=[trust_anchor_message(a) for a in found], next_page_token=next_token
        )

    async def RemoveTrustAnchor(
        self, request: pb.RemoveTrustAnchorRequest, context: Context
    ) -> pb.RemoveTrustAnchorResponse:
        await self._trust.remove_anchor(current_tenant(), request.anchor_id)
        return pb.RemoveTrustAnchorResponse()
