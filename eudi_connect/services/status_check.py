"""A credential's status: a tenant's own credentials from the store, others from their list.

Runs only after the credential itself verified (draft-ietf-oauth-status-list section
8.3: the token's own checks come first). A foreign credential's status comes only from the
token at the URI it names, checked under the trust that vouched for the credential: signed
under it, naming the referenced URI as its `sub`, unexpired, inflating within the cap;
every refusal has its own reason. A foreign credential may name one of the lists this
service publishes (another tenant's credential, or one that only claims to be on our list):
then the token is the one that URI serves, taken without the round trip, and held to the
same checks, so a list signed by someone the credential's trust does not cover says nothing
about it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey

from eudi_connect.core.status_list import (
    DEFAULT_MAX_BYTES,
    StatusListError,
    StatusListProblem,
    TokenStatus,
    decode_status_list_token,
)
from eudi_connect.core.trust_material import decode_x5c
from eudi_connect.core.verdicts import StatusReference
from eudi_connect.core.verdicts import VerificationFailureReason as Reason
from eudi_connect.core.x509_chain import ChainError, ChainPolicy, validate_path
from eudi_connect.services.fetch import FetchError, FetchProblem
from eudi_connect.services.foreign_status import ForeignStatusLists
from eudi_connect.services.public_urls import PublicUrls
from eudi_connect.services.settings import ServiceSettings
from eudi_connect.store.base import Store

_FAILURE_OF_STATUS = {
    TokenStatus.INVALID: Reason.REVOKED,
    TokenStatus.SUSPENDED: Reason.SUSPENDED,
}
_FAILURE_OF_FETCH = {
    FetchProblem.TIMEOUT: Reason.STATUS_LIST_TIMEOUT,
    FetchProblem.TOO_LARGE: Reason.STATUS_LIST_TOO_LARGE,
    FetchProblem.UNREACHABLE: Reason.STATUS_LIST_UNREACHABLE,
    FetchProblem.REFUSED_URL: Reason.STATUS_LIST_UNREACHABLE,
    FetchProblem.FORBIDDEN_ADDRESS: Reason.STATUS_LIST_UNREACHABLE,
    FetchProblem.BAD_RESPONSE: Reason.STATUS_LIST_UNREACHABLE,
}
_FAILURE_OF_TOKEN = {
    StatusListProblem.TOO_LARGE: Reason.STATUS_LIST_DECOMPRESSION_LIMIT,  # inflated past the cap
    StatusListProblem.UNSIGNED: Reason.STATUS_LIST_UNSIGNED,
    StatusListProblem.UNSUPPORTED_ALG: Reason.STATUS_LIST_ALGORITHM_NOT_ALLOWED,
    StatusListProblem.BAD_SIGNATURE: Reason.STATUS_LIST_BAD_SIGNATURE,
    StatusListProblem.WRONG_SUBJECT: Reason.STATUS_LIST_WRONG_SUBJECT,
    StatusListProblem.EXPIRED: Reason.STATUS_LIST_EXPIRED,
}


@dataclass(frozen=True)
class StatusTrust:
    """How a foreign credential was trusted, so its status list token is held to the same.

    `keys(kid)` gives the keys that may sign (a trusted issuer's JWKS, or the credential's
    own signer); `anchors` with `policy` accept a token whose `x5c` chains to them.
    """

    keys: Callable[[object], Sequence[EllipticCurvePublicKey]]
    anchors: tuple[x509.Certificate, ...] = ()
    policy: ChainPolicy | None = field(default=None, repr=False)


@dataclass(frozen=True)
class StatusResult:
    status: TokenStatus | None
    failure: Reason | None
    detail: str


class StatusChecker:
    def __init__(
        self,
        store: Store,
        foreign: ForeignStatusLists,
        settings: ServiceSettings,
        *,
        published: Callable[[str], Awaitable[str | None]],
        clock: Callable[[], float] = time.time,
        max_list_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        """`published(status_list_id)` is the token this service serves for one of its
        lists, None when there is no such list."""
        self._store = store
        self._foreign = foreign
        self._settings = settings
        self._published = published
        self._clock = clock
        self._max_list_bytes = max_list_bytes

    async def own(
        self, reference: StatusReference | None, urls: PublicUrls | None = None
    ) -> StatusResult:
        """Status of one of the verifying tenant's own credentials (signed by its own key),
        from the store: a revocation shows at once. Never for anything else. `urls` are the
        tenant's (its fixed base), else `--public-url`'s."""
        urls = urls or self._settings.urls
        status_list_id = urls.status_list_id_from_uri(reference.uri) if reference else None
        if reference is not None and status_list_id is None and urls != self._settings.urls:
            status_list_id = self._settings.status_list_id_from_uri(reference.uri)
        value = None
        if reference is not None and status_list_id is not None:
            value = await self._store.get_status_at(status_list_id, reference.idx)
        if value is None:
            return StatusResult(
                None, Reason.STATUS_UNAVAILABLE, "credential has no status entry at this issuer"
            )
        return _judge(value, "status list of this issuer")

    async def foreign(
        self, reference: StatusReference, trust: StatusTrust, *, leeway: int
    ) -> StatusResult:
        """Status from the list the credential names, fetched or cached (ours: as served)."""
        uri = reference.uri
        ours = self._settings.status_list_id_from_uri(uri)
        if ours is not None:
            published = await self._published(ours)
            if published is None:
                return StatusResult(
                    None, Reason.STATUS_LIST_UNREACHABLE, "no status list is published at uri"
                )
            token = published
        else:
            try:
                token = await self._foreign.token(uri)
            except FetchError as error:
                return StatusResult(None, _FAILURE_OF_FETCH[error.problem], error.detail)
        now = int(self._clock())
        try:
            decoded = decode_status_list_token(
                token,
                public_key=lambda header: _status_keys(header, trust, now),
                now=now,
                expected_uri=uri,
                max_bytes=self._max_list_bytes,
                leeway=leeway,
            )
        except StatusListError as error:
            reason = _FAILURE_OF_TOKEN.get(error.reason, Reason.STATUS_LIST_INVALID)
            return StatusResult(None, reason, error.message)
        try:
            value = decoded.status_list.get(reference.idx)
        except IndexError:
            return StatusResult(
                None,
                Reason.STATUS_LIST_INDEX_OUT_OF_RANGE,
                f"index {reference.idx} is outside the list of {decoded.status_list.size}",
            )
        return _judge(value, f"status list {uri[:128]}")


def _judge(value: int, where: str) -> StatusResult:
    try:
        status = TokenStatus(value)
    except ValueError:
        return StatusResult(
            None, Reason.STATUS_UNAVAILABLE, f"status 0x{value:02x} is application-specific"
        )
    failure = _FAILURE_OF_STATUS.get(status)
    if failure is not None:
        return StatusResult(status, failure, f"credential is {failure.value.lower()} ({where})")
    return StatusResult(status, None, f"valid in the {where}")


def _status_keys(
    header: Mapping[str, Any], trust: StatusTrust, now: int
) -> Sequence[EllipticCurvePublicKey]:
    """The keys a status list token may be signed with under `trust`."""
    if "x5c" in header and trust.anchors and trust.policy is not None:
        try:
            signer = validate_path(
                decode_x5c(header["x5c"]),
                trust.anchors,
                at=datetime.fromtimestamp(now, UTC),
                policy=trust.policy,
            )
        except ChainError as error:
            raise StatusListError(
                f"status list token x5c: {error.detail}", reason=StatusListProblem.BAD_SIGNATURE
            ) from error
        key = signer.public_key()
        return [key] if isinstance(key, EllipticCurvePublicKey) else []
    return trust.keys(header.get("kid"))
