"""The nonce and credential endpoints (OpenID4VCI 1.0 sections 7 and 8): c_nonces, then a
credential request whose proofs name the keys to issue to, checked and claimed once."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from eudi_connect.core.jose import jwk_thumbprint
from eudi_connect.core.oid4vci import (
    DpopProof,
    ProofPolicy,
    ProtocolError,
    ProvenKeys,
    verify_attestation_proof,
    verify_jwt_proof,
)
from eudi_connect.services.offers import new_secret
from eudi_connect.services.wallet_issuer.context import (
    OFFER_UPDATE_TRIES,
    Answer,
    E,
    WalletContext,
)
from eudi_connect.services.wallet_issuer.delivery import OfferDelivery, offered_item
from eudi_connect.store.wallet_sessions import (
    COPIES_EXHAUSTED,
    AccessTokenRecord,
    OfferChange,
    OfferedItem,
    OfferRecord,
    OnceValue,
)


class CredentialEndpoint:
    def __init__(self, context: WalletContext, delivery: OfferDelivery) -> None:
        self._context = context
        self._delivery = delivery

    async def nonce(self, tenant_id: str) -> Answer:
        """A c_nonce that costs no state until a proof uses it (`core.oid4vci.c_nonce`)."""
        context = self._context
        c_nonce = (await context.c_nonces()).issue(tenant_id, now=context.now())
        return Answer("ok", {"c_nonce": c_nonce}, await context.current_dpop_nonce())

    async def credential(
        self,
        tenant_id: str,
        body: Any,
        *,
        authorization: str | None,
        dpop: str | None,
        url: str,
    ) -> Answer:
        # The DPoP jti is recorded with the c_nonces and keys in one write (`_claim`); a
        # request refused before that records it on its own, so a proof seen once is
        # never accepted again, whatever became of its request.
        context = self._context
        token, record, proof = await context.authorized(
            tenant_id, authorization, dpop, url, record_jti=False
        )
        try:
            return await self._credential(token, record, proof, body)
        except ProtocolError as error:
            if error.code is not E.INVALID_DPOP_PROOF:
                jti = context.dpop_once(proof)
                await context.store.remember_once(
                    tenant_id, "dpop", jti.value, jti.expires_at, context.now()
                )
            raise

    async def _credential(
        self, token: AccessTokenRecord, record: OfferRecord, proof: DpopProof, body: Any
    ) -> Answer:
        tenant_id = record.tenant_id
        if not isinstance(body, Mapping):
            raise ProtocolError(E.INVALID_CREDENTIAL_REQUEST, "the request must be a JSON object")
        if "credential_identifier" in body:
            raise ProtocolError(
                E.UNKNOWN_CREDENTIAL_IDENTIFIER,
                "no credential identifiers were issued; use credential_configuration_id",
            )
        item = offered_item(record, body.get("credential_configuration_id"))
        if record.transaction_id is not None:
            # One deferred transaction per offer: its keys and its transaction_id stay.
            raise ProtocolError(
                E.INVALID_CREDENTIAL_REQUEST,
                "a deferred request of this offer is pending: use the deferred credential "
                "endpoint with its transaction_id",
            )
        if "credential_response_encryption" in body:
            raise ProtocolError(
                E.INVALID_ENCRYPTION_PARAMETERS, "this issuer does not encrypt responses"
            )
        proven = await self._proven_keys(tenant_id, body.get("proofs"), token.client_id)
        keys = [jwk for proven_keys in proven for jwk in proven_keys.keys]
        remaining = record.max_copies - record.copies_issued.get(item.configuration_id, 0)
        if len(keys) > remaining:
            raise ProtocolError(
                E.INVALID_CREDENTIAL_REQUEST,
                f"the request proves {len(keys)} keys; this offer allows {max(remaining, 0)} more",
            )
        thumbprints = [jwk_thumbprint(jwk) for jwk in keys]
        if len(set(thumbprints)) != len(thumbprints):
            raise ProtocolError(E.INVALID_PROOF, "two proofs in this request use the same key")
        nonces = await self._nonce_values(tenant_id, [n for p in proven for n in p.nonces])
        await self._claim(record, item, [self._context.dpop_once(proof), *nonces], thumbprints)
        if record.subject is None:
            return await self._defer(record, item, keys)
        return await self._delivery.issue(record, item, keys, record.subject)

    async def _nonce_values(self, tenant_id: str, nonces: Sequence[str]) -> list[OnceValue]:
        """Every distinct c_nonce in the request must be one of ours and unexpired; each
        becomes a value to record once."""
        c_nonces = await self._context.c_nonces()
        now = self._context.now()
        values = []
        for nonce in dict.fromkeys(nonces):
            expires_at = c_nonces.expires_at(nonce, tenant_id, now=now)
            if expires_at is None:
                raise ProtocolError(
                    E.INVALID_NONCE, "the c_nonce is unknown or expired: get a new one"
                )
            values.append(OnceValue("c_nonce", nonce, expires_at))
        return values

    async def _claim(
        self,
        record: OfferRecord,
        item: OfferedItem,
        values: Sequence[OnceValue],
        thumbprints: Sequence[str],
    ) -> None:
        """One write: the DPoP jti, the c_nonces and the offer's new keys, or none. The
        store counts the keys already claimed for the configuration, so requests that
        race (on any instance) never get more copies than the offer grants."""
        refused = await self._context.store.claim_once(
            record.tenant_id,
            values,
            self._context.now(),
            offer_id=record.offer_id,
            configuration_id=item.configuration_id,
            key_thumbprints=thumbprints,
            max_keys=record.max_copies,
        )
        if refused == "dpop":
            raise ProtocolError(E.INVALID_DPOP_PROOF, "this DPoP proof was used before")
        if refused == "c_nonce":
            raise ProtocolError(E.INVALID_NONCE, "the c_nonce was used before: get a new one")
        if refused == COPIES_EXHAUSTED:
            raise ProtocolError(
                E.INVALID_CREDENTIAL_REQUEST,
                f"the request proves {len(thumbprints)} keys; this offer has fewer copies left",
            )
        if refused is not None:
            raise ProtocolError(E.INVALID_PROOF, "a key in this request was used before")

    async def _proven_keys(
        self, tenant_id: str, proofs: Any, client_id: str | None
    ) -> list[ProvenKeys]:
        context = self._context
        wallet = context.wallet
        if not isinstance(proofs, Mapping) or len(proofs) != 1:
            raise ProtocolError(E.INVALID_PROOF, "proofs must hold exactly one proof type")
        proof_type, values = next(iter(proofs.items()))
        if not isinstance(values, list) or not values:
            raise ProtocolError(
                E.INVALID_PROOF, f"proofs.{str(proof_type)[:32]} must be a non-empty array"
            )
        if len(values) > wallet.batch_size:
            # Section 12.2.4: batch_size is the largest proofs array; refused before any
            # signature is checked, and never cut to fit.
            raise ProtocolError(
                E.INVALID_CREDENTIAL_REQUEST,
                f"the request carries {len(values)} proofs; the batch_size is {wallet.batch_size}",
            )
        policy = await context.policy(tenant_id)
        checks = ProofPolicy(
            credential_issuer=await context.issuer(tenant_id),
            now=context.now(),
            client_id=client_id,
            max_age_seconds=wallet.proof_max_age_seconds,
            clock_skew_seconds=wallet.clock_skew_seconds,
            key_attestation_required=policy.key_attestation is not None,
            evaluate_key_attestations=policy.trusts_providers,
            accepted_key_storage=(
                policy.key_attestation.key_storage if policy.key_attestation else ()
            ),
            accepted_user_authentication=(
                policy.key_attestation.user_authentication if policy.key_attestation else ()
            ),
            attestation_trust=policy.trust,
        )
        if proof_type == "jwt":
            proven = [verify_jwt_proof(value, checks) for value in values]
        elif proof_type == "attestation" and policy.key_attestation is not None:
            if len(values) != 1:
                raise ProtocolError(E.INVALID_PROOF, "proofs.attestation holds exactly one JWT")
            proven = [verify_attestation_proof(values[0], checks)]
        else:
            raise ProtocolError(
                E.INVALID_PROOF, f"proof type {str(proof_type)[:32]!r} is not supported"
            )
        statuses = {
            json.dumps(p.attestation.status, sort_keys=True): p.attestation.status
            for p in proven
            if p.attestation is not None and p.attestation.status is not None
        }
        for status in statuses.values():
            await context.check_status(
                status, policy, code=E.INVALID_PROOF, what="the key attestation"
            )
        return proven

    async def _defer(
        self, record: OfferRecord, item: OfferedItem, keys: Sequence[dict[str, Any]]
    ) -> Answer:
        """No subject data yet: the keys wait on the offer under a new transaction_id."""
        context = self._context
        transaction_id = new_secret()
        change = OfferChange(
            state="DEFERRED",
            transaction_id=transaction_id,
            deferred_request={"configuration_id": item.configuration_id, "keys": list(keys)},
        )
        current: OfferRecord | None = record
        for _ in range(OFFER_UPDATE_TRIES):
            if current is None or current.transaction_id is not None:
                break  # another request of this offer was deferred first
            if current.subject is not None:
                return await self._delivery.issue(current, item, keys, current.subject)
            if await context.update_offer(current, change) is not None:
                body = {
                    "transaction_id": transaction_id,
                    "interval": context.wallet.deferred_interval_seconds,
                }
                return Answer("accepted", body, await context.current_dpop_nonce())
            current = await context.reread_offer(record)
        raise ProtocolError(
            E.INVALID_CREDENTIAL_REQUEST, "a deferred request of this offer is pending"
        )
