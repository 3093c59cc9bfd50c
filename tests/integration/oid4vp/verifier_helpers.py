"""The verifier as a relying party drives it (PresentationService over gRPC) and the holder
the tests present with: a test wallet that trusts the tenant's verifier certificate and
holds a PID collected from the same server over OpenID4VCI, as an SD-JWT VC and an mdoc."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import grpc
from eudi.connect.v1 import credential_service_pb2 as pb
from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc
from eudi.connect.v1 import presentation_service_pb2 as ppb
from google.protobuf import json_format

from tests.integration.conftest import Tenant
from tests.integration.oid4vci.issuer_processes import Offers
from tests.wallet import (
    HeldCredential,
    KeyPair,
    PresentationWallet,
    Wallet,
    load_pem_certificates,
)
from tests.wallet.replies import Reply

from . import verifier_client
from .verifier_client import state_name

PID_VCT = verifier_client.PID_VCT
PID_DOCTYPE = "eu.europa.ec.eudi.pid.1"
PID_NAMESPACE = "eu.europa.ec.eudi.pid.1"
FINAL_STATES = {"VERIFIED", "FAILED", "EXPIRED"}


def sd_jwt_query(
    query_id: str = "pid", claims: Sequence[Sequence[Any]] = (("given_name",),), **extra: Any
) -> dict[str, Any]:
    """A Credential Query for the PID as an SD-JWT VC with the given claim paths."""
    entry: dict[str, Any] = {
        "id": query_id,
        "format": "dc+sd-jwt",
        "meta": {"vct_values": [PID_VCT]},
        **extra,
    }
    if claims:
        entry["claims"] = [{"path": list(path)} for path in claims]
    return entry


def mdoc_query(
    query_id: str = "mdoc", elements: Sequence[str] = ("family_name",), **extra: Any
) -> dict[str, Any]:
    """A Credential Query for the PID as an mdoc with the given element identifiers."""
    return {
        "id": query_id,
        "format": "mso_mdoc",
        "meta": {"doctype_value": PID_DOCTYPE},
        "claims": [{"path": [PID_NAMESPACE, element]} for element in elements],
        **extra,
    }


def dcql(*credentials: Mapping[str, Any], **rest: Any) -> str:
    return json.dumps({"credentials": [dict(c) for c in credentials], **rest})


def failure_name(verification: pb.VerifyCredentialResponse) -> str:
    return str(pb.VerificationFailure.Name(verification.failure)).removeprefix(
        "VERIFICATION_FAILURE_"
    )


def status_name(verification: pb.VerifyCredentialResponse) -> str:
    return str(pb.CredentialStatus.Name(verification.status)).removeprefix("CREDENTIAL_STATUS_")


def claims_of(presented: ppb.PresentedCredential) -> dict[str, Any]:
    document: dict[str, Any] = json_format.MessageToDict(presented.verification.claims)
    return document


class Presentations(verifier_client.Presentations):
    """The PresentationService as one tenant's relying party calls it, with the shorthands
    the exchange tests use (`lifetime`, `transaction_data`), DC API submissions and the
    issuer's revocation."""

    def __init__(self, channel: grpc.aio.Channel, tenant: Tenant) -> None:
        super().__init__(channel, tenant)
        self.credentials = pb_grpc.CredentialServiceStub(channel)

    async def create(
        self,
        query: dict[str, Any] | str = verifier_client.PID_QUERY,
        *,
        lifetime: int = 0,
        transaction_data: Sequence[str] = (),
        **fields: Any,
    ) -> ppb.CreatePresentationRequestResponse:
        if lifetime:
            fields["lifetime_seconds"] = lifetime
        if transaction_data:
            fields["transaction_data_json"] = list(transaction_data)
        return await super().create(query, **fields)

    async def result(self, transaction_id: str) -> ppb.PresentationTransaction:
        return await self.get(transaction_id)

    async def submit(
        self, transaction_id: str, *, origin: str, response: Mapping[str, Any] | str
    ) -> ppb.PresentationTransaction:
        text = response if isinstance(response, str) else json.dumps(dict(response))
        reply = await self.stub.SubmitPresentationResponse(
            ppb.SubmitPresentationResponseRequest(
                transaction_id=transaction_id, origin=origin, response_json=text
            ),
            metadata=self.tenant.metadata,
        )
        transaction: ppb.PresentationTransaction = reply.transaction
        return transaction

    async def revoke(self, credential_id: str) -> None:
        await self.credentials.RevokeCredential(
            pb.RevokeCredentialRequest(credential_id=credential_id, reason="test"),
            metadata=self.tenant.metadata,
        )


@dataclass
class Holder:
    """A presentation wallet with a PID in both formats and the ids the issuer gave them."""

    wallet: PresentationWallet
    sd_jwt: HeldCredential
    mdoc: HeldCredential
    sd_jwt_id: str
    mdoc_id: str


async def collect_pid(
    issuance: Wallet, offers: Offers, *, credential_format: str = "", copies: int = 1
) -> tuple[list[str], tuple[KeyPair, ...], list[str]]:
    """A PID collected over OpenID4VCI: the credentials, their keys, their credential ids."""
    created = await offers.create(credential_format=credential_format, copies=copies)
    collected = await issuance.collect(created.offer.credential_offer_uri, copies=copies)
    offer = await offers.get(created.offer.offer_id)
    return list(collected.credentials), collected.holder_keys, list(offer.credential_ids)


async def trusted_verifier(presentations: Presentations) -> list[Any]:
    """The tenant's verifier certificates, as a wallet is configured to trust them."""
    identity = await presentations.identity()
    return load_pem_certificates(identity.certificate_chain_pem)


async def new_holder(
    session: aiohttp.ClientSession, offers: Offers, presentations: Presentations, **options: Any
) -> Holder:
    issuance = Wallet(session)
    wallet = PresentationWallet(session, trusted=await trusted_verifier(presentations), **options)
    [sd_jwt], sd_keys, [sd_id] = await collect_pid(issuance, offers)
    [mdoc], mdoc_keys, [mdoc_id] = await collect_pid(issuance, offers, credential_format="mso_mdoc")
    return Holder(
        wallet,
        wallet.hold(sd_jwt, sd_keys, label="pid-sd-jwt"),
        wallet.hold(mdoc, mdoc_keys, label="pid-mdoc"),
        sd_id,
        mdoc_id,
    )


def assert_refused(reply: Reply, error: str = "invalid_request") -> None:
    """A refusal at the response URI: HTTP 400, a JSON body with the spec's `error`."""
    assert reply.status == 400, reply.describe()
    assert reply.content_type == "application/json", reply.describe()
    assert reply.error == error, reply.describe()


async def final_state(
    presentations: Presentations, transaction_id: str
) -> ppb.PresentationTransaction:
    """The transaction once it is final, read through GetPresentationResult."""
    transaction = await presentations.result(transaction_id)
    assert state_name(transaction) in FINAL_STATES, state_name(transaction)
    return transaction
