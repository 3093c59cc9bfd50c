"""Offers need an issuer identifier wallets accept (OpenID4VCI 1.0 section 12.2.1): https,
or plain http on a loopback host; a server whose --public-url is plain http elsewhere
refuses to create one, through the real gRPC server."""

from __future__ import annotations

import grpc
import pytest
from eudi.connect.v1 import offer_service_pb2 as opb
from eudi.connect.v1 import offer_service_pb2_grpc as opb_grpc

from eudi_connect.api.convert import dict_to_struct
from eudi_connect.core.templates import PID_EXAMPLE_SUBJECT
from eudi_connect.services.settings import ServiceSettings

from .conftest import Tenant
from .template_helpers import expect_error


@pytest.fixture
def settings() -> ServiceSettings:
    return ServiceSettings(public_url="http://issuer.example")


async def test_a_plain_http_issuer_off_loopback_cannot_make_offers(
    channel: grpc.aio.Channel, tenant: Tenant
) -> None:
    """CreateCredentialOffer is FAILED_PRECONDITION / OFFER_ISSUER_NOT_HTTPS."""
    stub = opb_grpc.OfferServiceStub(channel)
    request = opb.CreateCredentialOfferRequest(
        credentials=[opb.OfferedCredential(template_id="pid")],
        subject=dict_to_struct(dict(PID_EXAMPLE_SUBJECT)),
    )
    await expect_error(
        stub.CreateCredentialOffer(request, metadata=tenant.metadata),
        grpc.StatusCode.FAILED_PRECONDITION,
        "OFFER_ISSUER_NOT_HTTPS",
    )
