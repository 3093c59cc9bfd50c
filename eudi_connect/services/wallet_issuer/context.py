"""What every wallet endpoint shares: the store, the settings, the clock, the nonces made
from one stored secret, the tenant's policy and issuer id, DPoP proofs and the access
tokens of protected resources (RFC 9449 section 7)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from eudi_connect.core.oid4vci import (
    DpopNonces,
    DpopProof,
    ProtocolError,
    WalletErrorCode,
    verify_dpop_proof,
)
from eudi_connect.core.oid4vci.c_nonce import CNonces
from eudi_connect.core.oid4vci.metadata import IssuerEndpoints
from eudi_connect.core.verdicts import StatusReference
from eudi_connect.services.offers import code_hash, effective_state, new_secret
from eudi_connect.services.public_urls import TenantUrls
from eudi_connect.services.status_check import StatusChecker
from eudi_connect.services.wallet_policy import WalletPolicy
from eudi_connect.services.wallet_settings import WalletSettings
from eudi_connect.store.base import Store
from eudi_connect.store.wallet_sessions import (
    AccessTokenRecord,
    OfferChange,
    OfferRecord,
    OnceValue,
)

E = WalletErrorCode
DPOP_NONCE_META_KEY = "oid4vci.dpop_nonce_secret"
#: Compare-and-set updates of one offer re-read this many times when other requests race.
OFFER_UPDATE_TRIES = 16


@dataclass(frozen=True)
class Answer:
    """What the HTTP layer sends back: `ok` (200), `accepted` (202) or `no_content`
    (204), a JSON body, and the DPoP nonce to announce."""

    kind: Literal["ok", "accepted", "no_content"]
    body: dict[str, Any] | None
    dpop_nonce: str | None = None


def form_value(form: Mapping[str, str], name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) and value else None


class WalletContext:
    def __init__(
        self,
        store: Store,
        *,
        urls: TenantUrls,
        wallet: WalletSettings,
        policy_for: Callable[[str], Awaitable[WalletPolicy]] | None,
        status: StatusChecker | None,
        clock: Callable[[], float],
    ) -> None:
        self.store = store
        self.wallet = wallet
        self._urls = urls
        self._policy_for = policy_for
        self._status = status
        self._clock = clock
        self._nonces: DpopNonces | None = None
        self._c_nonces: CNonces | None = None

    def now(self) -> int:
        return int(self._clock())

    async def _load_nonce_secret(self) -> None:
        """DPoP nonces and c_nonces come from one secret in the store, shared by every
        instance, so any of them accepts a nonce another one made."""
        secret = await self.store.get_or_set_meta(DPOP_NONCE_META_KEY, new_secret().encode("ascii"))
        self._nonces = DpopNonces(secret, window_seconds=self.wallet.dpop_nonce_seconds)
        self._c_nonces = CNonces(secret, lifetime_seconds=self.wallet.c_nonce_seconds)

    async def dpop_nonces(self) -> DpopNonces:
        if self._nonces is None:
            await self._load_nonce_secret()
        assert self._nonces is not None
        return self._nonces

    async def c_nonces(self) -> CNonces:
        if self._c_nonces is None:
            await self._load_nonce_secret()
        assert self._c_nonces is not None
        return self._c_nonces

    async def current_dpop_nonce(self) -> str:
        return (await self.dpop_nonces()).current(now=self.now())

    async def policy(self, tenant_id: str) -> WalletPolicy:
        if self._policy_for is None:
            return WalletPolicy()
        return await self._policy_for(tenant_id)

    async def check_status(
        self,
        status: Mapping[str, Any] | None,
        policy: WalletPolicy,
        *,
        code: WalletErrorCode,
        what: str,
    ) -> None:
        """An attestation's `status` (draft-ietf-oauth-status-list section 6.2), checked
        against the wallet provider's list, signed under the tenant's provider trust. A
        status that cannot be followed or read refuses the attestation: accepting it
        would accept one that may be revoked."""
        if status is None:
            return
        reference = status.get("status_list")
        idx = reference.get("idx") if isinstance(reference, Mapping) else None
        uri = reference.get("uri") if isinstance(reference, Mapping) else None
        if type(idx) is not int or idx < 0 or not isinstance(uri, str) or not uri:
            raise ProtocolError(code, f"{what} status is not a status_list {{idx, uri}} reference")
        if self._status is None:
            raise ProtocolError(code, f"{what} status cannot be checked by this issuer")
        result = await self._status.foreign(
            StatusReference(uri=uri, idx=idx),
            policy.status_trust(),
            leeway=self.wallet.clock_skew_seconds,
        )
        if result.failure is not None:
            if result.status is not None:
                raise ProtocolError(code, f"{what} is {result.failure.value.lower()}")
            raise ProtocolError(
                code, f"{what} status could not be checked ({result.failure.value.lower()})"
            )

    async def issuer(self, tenant_id: str) -> str:
        """The tenant's Credential Issuer identifier: the `iss` of its credentials."""
        return (await self._urls.current(tenant_id)).issuer_id(tenant_id)

    async def endpoints(self, tenant_id: str) -> IssuerEndpoints:
        return IssuerEndpoints(
            credential_issuer=await self.issuer(tenant_id),
            display_name=f"EUDI-Connect issuer {tenant_id}",
            batch_size=self.wallet.batch_size,
        )

    async def checked_dpop(
        self,
        tenant_id: str,
        proof: str | None,
        *,
        method: str,
        url: str,
        access_token: str | None = None,
        bound_jkt: str | None = None,
        record_jti: bool = True,
    ) -> DpopProof:
        """Verifies a DPoP proof (server nonce included) and, unless the caller records the
        jti itself (`record_jti=False`, see the credential endpoint), refuses a replayed
        one."""
        now = self.now()
        checked = verify_dpop_proof(
            proof,
            method=method,
            url=url,
            now=now,
            access_token=access_token,
            bound_jkt=bound_jkt,
            nonces=await self.dpop_nonces(),
            max_age_seconds=self.wallet.proof_max_age_seconds,
            clock_skew_seconds=self.wallet.clock_skew_seconds,
        )
        if record_jti:
            jti = self.dpop_once(checked)
            if not await self.store.remember_once(
                tenant_id, "dpop", jti.value, jti.expires_at, now
            ):
                raise ProtocolError(E.INVALID_DPOP_PROOF, "this DPoP proof was used before")
        return checked

    def dpop_once(self, proof: DpopProof) -> OnceValue:
        """How long a DPoP proof's jti must be remembered: as long as it could pass."""
        window = self.wallet.proof_max_age_seconds + 2 * self.wallet.clock_skew_seconds
        return OnceValue("dpop", proof.jti, self.now() + window)

    async def authorized(
        self,
        tenant_id: str,
        authorization: str | None,
        dpop: str | None,
        url: str,
        *,
        record_jti: bool = True,
        failed_ok: bool = False,
    ) -> tuple[AccessTokenRecord, OfferRecord, DpopProof]:
        """RFC 9449 section 7: `Authorization: DPoP <token>` with a proof bound to it. The
        token ends with its offer; `failed_ok` lets a FAILED one through, for the deferred
        endpoint to say why."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "dpop" or not token:
            raise ProtocolError(E.INVALID_TOKEN, "send the access token as 'Authorization: DPoP'")
        stored = await self.store.get_access_token(code_hash(token.strip()))
        now = self.now()
        if stored is None or stored.tenant_id != tenant_id or stored.expires_at <= now:
            raise ProtocolError(E.INVALID_TOKEN, "the access token is unknown or expired")
        proof = await self.checked_dpop(
            tenant_id,
            dpop,
            method="POST",
            url=url,
            access_token=token.strip(),
            bound_jkt=stored.dpop_jkt,
            record_jti=record_jti,
        )
        record = await self.store.get_offer(tenant_id, stored.offer_id)
        ended = {"EXPIRED", "DELETED"} if failed_ok else {"EXPIRED", "DELETED", "FAILED"}
        if record is None or effective_state(record, now) in ended:
            raise ProtocolError(E.INVALID_TOKEN, "the offer behind this token has ended")
        return stored, record, proof

    async def update_offer(self, record: OfferRecord, change: OfferChange) -> OfferRecord | None:
        """One compare-and-set of the offer at the version `record` was read at; None when
        another request changed it first (re-read it and decide again)."""
        return await self.store.update_offer(
            record.tenant_id, record.offer_id, record.version, change, self.now()
        )

    async def reread_offer(self, record: OfferRecord) -> OfferRecord | None:
        return await self.store.get_offer(record.tenant_id, record.offer_id)
