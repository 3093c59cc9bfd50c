"""The verification policy a relying party gives CreatePresentationRequest, applied to
what the wallet presents, and the checks it reports per credential, through a real server."""

from __future__ import annotations

from eudi.connect.v1 import credential_service_pb2 as pb

from .verifier_client import state_name
from .verifier_helpers import (
    Holder,
    Presentations,
    dcql,
    failure_name,
    final_state,
    mdoc_query,
    sd_jwt_query,
    status_name,
)


async def test_every_check_is_reported_per_credential(
    presentations: Presentations, holder: Holder
) -> None:
    """A verified exchange reports, per presentation, the checks VerifyCredential makes:
    signature, key binding and status among them, all passed."""
    created = await presentations.create(dcql(sd_jwt_query(), mdoc_query()))
    presented = await holder.wallet.present(created.transaction.authorization_request_uri)
    assert presented.reply.status == 200, presented.reply.describe()
    result = await final_state(presentations, created.transaction.transaction_id)
    for shown in result.credentials:
        names = {check.name for check in shown.verification.checks}
        assert {"signature", "key_binding", "status"} <= names, (shown.credential_query_id, names)
        assert all(check.passed for check in shown.verification.checks)
        assert shown.verification.issuer


async def test_allowed_types_refuse_another_type(
    presentations: Presentations, holder: Holder
) -> None:
    """policy.allowed_vcts without the PID's type: the presentation fails WRONG_TYPE."""
    policy = pb.VerificationPolicy(allowed_vcts=["urn:example:other:1"])
    created = await presentations.create(dcql(sd_jwt_query()), policy=policy)
    presented = await holder.wallet.present(created.transaction.authorization_request_uri)
    assert presented.reply.status == 400
    result = await final_state(presentations, created.transaction.transaction_id)
    assert state_name(result) == "FAILED"
    assert [failure_name(c.verification) for c in result.credentials] == ["WRONG_TYPE"]


async def test_a_status_check_can_be_left_out(presentations: Presentations, holder: Holder) -> None:
    """policy.check_status false: a revoked PID verifies, its status not consulted."""
    await presentations.revoke(holder.sd_jwt_id)
    policy = pb.VerificationPolicy(check_status=False)
    created = await presentations.create(dcql(sd_jwt_query()), policy=policy)
    presented = await holder.wallet.present(created.transaction.authorization_request_uri)
    assert presented.reply.status == 200, presented.reply.describe()
    result = await final_state(presentations, created.transaction.transaction_id)
    assert state_name(result) == "VERIFIED", result.failure_detail
    assert status_name(result.credentials[0].verification) != "REVOKED"


async def test_the_request_object_expires_with_the_transaction(
    presentations: Presentations, holder: Holder
) -> None:
    """The request object's exp is no later than the transaction's expiry."""
    created = await presentations.create(dcql(sd_jwt_query()), lifetime=120)
    request = await holder.wallet.fetch_request(created.transaction.authorization_request_uri)
    assert request.claims["exp"] <= created.transaction.expires_at.seconds
    assert request.claims["exp"] >= created.transaction.created_at.seconds + 60
