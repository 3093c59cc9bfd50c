"""CredentialService: converts messages, calls the services, converts back. Nothing else.

A streaming method closes the service stream it iterates when it is closed itself, so the
pipeline's clean-up runs in the call's task (see `eudi_connect.api.streams`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from typing import Any

import grpc
from eudi.connect.v1 import credential_service_pb2 as pb
from eudi.connect.v1 import credential_service_pb2_grpc as pb_grpc

from eudi_connect.api.context import current_tenant
from eudi_connect.api.convert import (
    credential_status,
    struct_to_dict,
    timestamp,
)
from eudi_connect.api.errors import rich_status
from eudi_connect.api.verification_convert import verify_command, verify_response
from eudi_connect.core.status_list import TokenStatus
from eudi_connect.errors import EudiConnectError
from eudi_connect.services.app import Services
from eudi_connect.services.batch import BatchIssuer, BatchItem, BatchResult, too_many_items
from eudi_connect.services.issuance import IssueCommand, IssuedCredential

#: Items one VerifyCredentialBatch call may carry.
MAX_VERIFY_BATCH_ITEMS = 1000

Context = grpc.aio.ServicerContext[Any, Any]


def issue_command(request: pb.IssueCredentialRequest) -> IssueCommand:
    return IssueCommand(
        template_id=request.template_id,
        subject=struct_to_dict(request.subject),
        holder_jwk=request.holder_jwk,
        request_id=request.request_id,
        validity_seconds=(
            request.validity_seconds if request.HasField("validity_seconds") else None
        ),
        format=request.format,
    )


def issue_response(issued: IssuedCredential) -> pb.IssueCredentialResponse:
    return pb.IssueCredentialResponse(
        credential_id=issued.credential_id,
        credential=issued.credential,
        format=issued.format,
        status_list_id=issued.status_list_id,
        status_index=issued.status_index,
        expires_at=timestamp(issued.expires_at),
        issued_at=timestamp(issued.issued_at),
    )


def batch_item(index: int, request: pb.IssueCredentialRequest) -> BatchItem:
    try:
        return BatchItem(index, request.request_id, command=issue_command(request))
    except EudiConnectError as error:
        return BatchItem(index, request.request_id, error=error)


def copies_items(copies: pb.CredentialCopies) -> list[BatchItem]:
    """One item per holder key; copy i answers to request id "<request_id>#<i>"."""
    try:
        subject = struct_to_dict(copies.subject)
    except EudiConnectError as error:
        return [BatchItem(0, copies.request_id, error=error)]
    validity = copies.validity_seconds if copies.HasField("validity_seconds") else None
    items = []
    for i, holder_jwk in enumerate(copies.holder_jwks):
        request_id = f"{copies.request_id}#{i}" if copies.request_id else ""
        command = IssueCommand(
            template_id=copies.template_id,
            subject=subject,
            holder_jwk=holder_jwk,
            request_id=request_id,
            validity_seconds=validity,
            coarsen_timestamps=True,
            format=copies.format,
        )
        items.append(BatchItem(i, request_id, command=command))
    return items


def batch_response(results: list[BatchResult]) -> pb.IssueCredentialBatchResponse:
    """One streamed message: a committed group's results, in order, each a credential
    (as `issue_response` has it) or its error.

    Written into the message in place: building each result on its own, with its
    timestamps, and copying it in costs two to four times as much, and this runs on the
    event loop for every credential of a batch.
    """
    response = pb.IssueCredentialBatchResponse()
    add = response.results.add
    for result in results:
        item = add(index=result.index, request_id=result.request_id)
        outcome = result.outcome
        if isinstance(outcome, EudiConnectError):
            item.error.CopyFrom(rich_status(outcome))
            continue
        credential = item.credential
        credential.credential_id = outcome.credential_id
        credential.credential = outcome.credential
        credential.format = outcome.format
        credential.status_list_id = outcome.status_list_id
        credential.status_index = outcome.status_index
        credential.expires_at.seconds = outcome.expires_at
        credential.issued_at.seconds = outcome.issued_at
    return response


def verify_batch_result(index: int, outcome: Any) -> pb.VerifyCredentialBatchResult:
    if isinstance(outcome, EudiConnectError):
        return pb.VerifyCredentialBatchResult(index=index, error=rich_status(outcome))
    return pb.VerifyCredentialBatchResult(index=index, result=verify_response(outcome))


class CredentialServicer(pb_grpc.CredentialServiceServicer):
    def __init__(self, services: Services, batch: BatchIssuer) -> None:
        self._services = services
        self._batch = batch

    async def IssueCredentialBatch(
        self, request: pb.IssueCredentialBatchRequest, context: Context
    ) -> AsyncIterator[pb.IssueCredentialBatchResponse]:
        kind = request.WhichOneof("batch")
        count = len(request.items.items) if kind == "items" else len(request.copies.holder_jwks)
        if count > self._batch.max_items:
            raise too_many_items(self._batch.max_items)
        items: Iterable[BatchItem]
        if kind == "copies":
            items = copies_items(request.copies)
        else:
            # Converted group by group as the pipeline asks for them, so the first group is
            # signing while the rest of a large request is still being read.
            items = (batch_item(i, r) for i, r in enumerate(request.items.items))
        issued = self._batch.issue(current_tenant(), self._batch.groups_of(items))
        async with contextlib.aclosing(issued) as groups:
            async for results in groups:
                yield batch_response(results)

    async def IssueCredentialStream(
        self, request_iterator: AsyncIterator[pb.IssueCredentialRequest], context: Context
    ) -> AsyncIterator[pb.IssueCredentialBatchResponse]:
        async def items() -> AsyncGenerator[BatchItem, None]:
            index = 0
            async for request in request_iterator:
                yield batch_item(index, request)
                index += 1

        issued = self._batch.issue(current_tenant(), self._batch.groups_from_stream(items()))
        async with contextlib.aclosing(issued) as groups:
            async for results in groups:
                yield batch_response(results)

    async def IssueCredential(
        self, request: pb.IssueCredentialRequest, context: Context
    ) -> pb.IssueCredentialResponse:
        issued = await self._services.issuance.issue(current_tenant(), issue_command(request))
        return issue_response(issued)

    async def VerifyCredential(
        self, request: pb.VerifyCredentialRequest, context: Context
    ) -> pb.VerifyCredentialResponse:
        outcome = await self._services.verification.verify(
            current_tenant(), verify_command(request)
        )
        return verify_response(outcome)

    async def VerifyCredentialBatch(
        self, request: pb.VerifyCredentialBatchRequest, context: Context
    ) -> AsyncIterator[pb.VerifyCredentialBatchResponse]:
        if len(request.items) > MAX_VERIFY_BATCH_ITEMS:
            raise too_many_items(MAX_VERIFY_BATCH_ITEMS)
        commands = [verify_command(item) for item in request.items]
        verified = self._services.verification.verify_many(current_tenant(), commands)
        async with contextlib.aclosing(verified) as chunks:
            async for finished in chunks:
                yield pb.VerifyCredentialBatchResponse(
                    results=[verify_batch_result(index, outcome) for index, outcome in finished]
                )

    async def RevokeCredential(
        self, request: pb.RevokeCredentialRequest, context: Context
    ) -> pb.RevokeCredentialResponse:
        status = await self._services.revocation.revoke(
            current_tenant(), request.credential_id, request.reason
        )
        return pb.RevokeCredentialResponse(status=credential_status(status))

    async def SuspendCredential(
        self, request: pb.SuspendCredentialRequest, context: Context
    ) -> pb.SuspendCredentialResponse:
        status = await self._services.revocation.suspend(
            current_tenant(), request.credential_id, request.reason
        )
        return pb.SuspendCredentialResponse(status=credential_status(status))

    async def ReinstateCredential(
        self, request: pb.ReinstateCredentialRequest, context: Context
    ) -> pb.ReinstateCredentialResponse:
        status = await self._services.revocation.reinstate(
            current_tenant(), request.credential_id, request.reason
        )
        return pb.ReinstateCredentialResponse(status=credential_status(status))

    async def GetCredentialStatus(
        self, request: pb.GetCredentialStatusRequest, context: Context
    ) -> pb.GetCredentialStatusResponse:
        record = await self._services.revocation.get(current_tenant(), request.credential_id)
        return pb.GetCredentialStatusResponse(
            credential_id=record.credential_id,
            status=credential_status(TokenStatus(record.status)),
            status_list_id=record.status_list_id,
            status_index=record.status_index,
            issued_at=timestamp(record.issued_at),
            expires_at=timestamp(record.expires_at),
            template_id=record.template_id,
        )

    async def GetStatusList(
        self, request: pb.GetStatusListRequest, context: Context
    ) -> pb.GetStatusListResponse:
        tenant_id = current_tenant()
        token = await self._services.status_lists.token(request.status_list_id, tenant_id=tenant_id)
        urls = await self._services.urls.current(tenant_id)
        return pb.GetStatusListResponse(
            token=token, uri=urls.status_list_uri(request.status_list_id)
        )

    async def GetIssuerKeys(
        self, request: pb.GetIssuerKeysRequest, context: Context
    ) -> pb.GetIssuerKeysResponse:
        tenant_id = current_tenant()
        return pb.GetIssuerKeysResponse(
            jwks=await self._services.keys.jwks_json(tenant_id),
            certificates=await self._services.keys.issuer_certificates(tenant_id),
        )
