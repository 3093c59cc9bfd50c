"""OfferService: credential offers for wallets; converts messages and delegates."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from eudi.connect.v1 import offer_service_pb2 as pb
from eudi.connect.v1 import offer_service_pb2_grpc as pb_grpc

from eudi_connect.api.context import current_tenant
from eudi_connect.api.convert import struct_to_dict, timestamp
from eudi_connect.core.oid4vci import TxCodePolicy
from eudi_connect.services.offers import CreateOfferCommand, OfferService, OfferView
from eudi_connect.services.wallet_policy import WalletPolicyConfig, WalletPolicyService

Context = grpc.aio.ServicerContext[Any, Any]

OFFER_STATE_OF: dict[str, pb.OfferState] = {
    name: getattr(pb, f"OFFER_STATE_{name}")
    for name in (
        "OFFERED",
        "TOKEN_ISSUED",
        "DEFERRED",
        "CREDENTIALS_ISSUED",
        "ACCEPTED",
        "FAILED",
        "DELETED",
        "EXPIRED",
    )
}


def offer_message(view: OfferView) -> pb.CredentialOffer:
    record = view.record
    return pb.CredentialOffer(
        offer_id=record.offer_id,
        state=OFFER_STATE_OF[view.state],
        credential_offer_json=record.offer_json,
        credential_offer_uri=view.credential_offer_uri,
        credential_offer_by_value_uri=view.credential_offer_by_value_uri,
        offer_url=view.offer_url,
        credential_configuration_ids=[item.configuration_id for item in record.items],
        created_at=timestamp(record.created_at),
        expires_at=timestamp(record.expires_at),
        updated_at=timestamp(record.updated_at),
        credential_ids=list(record.credential_ids),
        failure_reason=record.failure_reason,
        copies_remaining=view.copies_remaining,
    )


def _tx_code(policy: pb.TransactionCodePolicy) -> TxCodePolicy | None:
    if policy.length == 0:
        return None
    return TxCodePolicy(
        length=policy.length,
        input_mode=policy.input_mode or "numeric",  # type: ignore[arg-type]  # checked there
        description=policy.description or None,
    )


def policy_message(config: WalletPolicyConfig) -> pb.WalletPolicy:
    return pb.WalletPolicy(
        wallet_attestation_required=config.wallet_attestation_required,
        key_attestation_required=config.key_attestation_required,
        key_storage=list(config.key_storage),
        user_authentication=list(config.user_authentication),
        wallet_provider_certificates=list(config.provider_certificates),
        wallet_provider_jwks=config.provider_jwks,
    )


def policy_config(message: pb.WalletPolicy) -> WalletPolicyConfig:
    return WalletPolicyConfig(
        wallet_attestation_required=message.wallet_attestation_required,
        key_attestation_required=message.key_attestation_required,
        key_storage=tuple(message.key_storage),
        user_authentication=tuple(message.user_authentication),
        provider_certificates=tuple(message.wallet_provider_certificates),
        provider_jwks=message.wallet_provider_jwks,
    )


class OfferServicer(pb_grpc.OfferServiceServicer):
    def __init__(self, offers: OfferService, policies: WalletPolicyService) -> None:
        self._offers = offers
        self._policies = policies

    async def CreateCredentialOffer(
        self, request: pb.CreateCredentialOfferRequest, context: Context
    ) -> pb.CreateCredentialOfferResponse:
        subject = struct_to_dict(request.subject) if request.HasField("subject") else None
        created = await self._offers.create(
            current_tenant(),
            CreateOfferCommand(
                items=[(item.template_id, item.format) for item in request.credentials],
                subject=subject,
                deferred=request.deferred,
                max_copies=request.max_copies,
                lifetime_seconds=request.lifetime_seconds,
                tx_code=_tx_code(request.tx_code),
                request_id=request.request_id,
                validity_seconds=(
                    request.validity_seconds if request.HasField("validity_seconds") else None
                ),
            ),
        )
        return pb.CreateCredentialOfferResponse(
            offer=offer_message(created.offer), tx_code=created.tx_code or ""
        )

    async def GetCredentialOffer(
        self, request: pb.GetCredentialOfferRequest, context: Context
    ) -> pb.GetCredentialOfferResponse:
        view = await self._offers.get(current_tenant(), request.offer_id)
        return pb.GetCredentialOfferResponse(offer=offer_message(view))

    async def WatchCredentialOffer(
        self, request: pb.WatchCredentialOfferRequest, context: Context
    ) -> AsyncIterator[pb.WatchCredentialOfferResponse]:
        async for view in self._offers.watch(current_tenant(), request.offer_id):
            yield pb.WatchCredentialOfferResponse(offer=offer_message(view))

    async def CompleteDeferredOffer(
        self, request: pb.CompleteDeferredOfferRequest, context: Context
    ) -> pb.CompleteDeferredOfferResponse:
        outcome = request.WhichOneof("outcome")
        view = await self._offers.complete_deferred(
            current_tenant(),
            request.offer_id,
            subject=struct_to_dict(request.subject) if outcome == "subject" else None,
            failure_reason=request.failure_reason if outcome == "failure_reason" else None,
        )
        return pb.CompleteDeferredOfferResponse(offer=offer_message(view))

    async def DeleteCredentialOffer(
        self, request: pb.DeleteCredentialOfferRequest, context: Context
    ) -> pb.DeleteCredentialOfferResponse:
        view = await self._offers.delete(current_tenant(), request.offer_id)
        return pb.DeleteCredentialOfferResponse(offer=offer_message(view))

    async def GetWalletPolicy(
        self, request: pb.GetWalletPolicyRequest, context: Context
    ) -> pb.GetWalletPolicyResponse:
        config = await self._policies.get(current_tenant())
        return pb.GetWalletPolicyResponse(policy=policy_message(config))

    async def UpdateWalletPolicy(
        self, request: pb.UpdateWalletPolicyRequest, context: Context
    ) -> pb.UpdateWalletPolicyResponse:
        config = await self._policies.update(current_tenant(), policy_config(request.policy))
        return pb.UpdateWalletPolicyResponse(policy=policy_message(config))
