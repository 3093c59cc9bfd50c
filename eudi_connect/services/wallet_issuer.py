"""The wallet side of OpenID4VCI 1.0: token, nonce, credential, deferred credential and
notification, for the pre-authorized code flow with DPoP-bound access tokens (HAIP).

Each method takes what arrived over HTTP (form or JSON body, headers, the URL) and returns
what to answer; `ProtocolError` carries the protocol's error code. The HTTP layer only
converts. Every piece of state is in the store: any instance can serve any step.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from eudi_connect.core.jose import jwk_thumbprint
from eudi_connect.core.oid4vci import (
    PRE_AUTHORIZED_GRANT,
    DpopNonces,
    DpopProof,
    ProofPolicy,
    ProtocolError,
    ProvenKeys,
    WalletErrorCode,
    tx_code_matches,
    verify_attestation_proof,
    verify_dpop_proof,
    verify_jwt_proof,
)
from eudi_connect.core.oid4vci.c_nonce import CNonces
from eudi_connect.core.oid4vci.client_attestation import verify_client_attestation
from eudi_connect.core.oid4vci.metadata import (
    CredentialConfiguration,
    IssuerEndpoints,
    authorization_server_metadata,
    credential_issuer_metadata,
)
from eudi_connect.core.sdjwt import path_segments
from eudi_connect.core.templates import CredentialTemplate
from eudi_connect.core.verdicts import StatusReference
from eudi_connect.errors import EudiConnectError
from eudi_connect.services.issuance import IssuanceService, IssueCommand
from eudi_connect.services.offers import code_hash, effective_state, new_secret
from eudi_connect.services.public_urls import TenantUrls
from eudi_connect.services.status_check import StatusChecker
from eudi_connect.services.template_admin import TemplateService
from eudi_connect.services.wallet_policy import WalletPolicy
from eudi_connect.services.wallet_settings import WalletSettings, configuration_id
from eudi_connect.store.base import Store
from eudi_connect.store.wallet_sessions import (
    COPIES_EXHAUSTED,
    FINAL_OFFER_STATES,
    AccessTokenRecord,
    OfferChange,
    OfferedItem,
    OfferRecord,
    OnceValue,
)

log = logging.getLogger(__name__)

E = WalletErrorCode
#: How often expired tokens, nonces and one-time values are deleted.
HOUSEKEEPING_SECONDS = 60.0
NOTIFICATION_EVENTS = {
    "credential_accepted": "ACCEPTED",
    "credential_failure": "FAILED",
    "credential_deleted": "DELETED",
}
#: Credential templates listed in one tenant's metadata; more is a misconfiguration.
MAX_METADATA_TEMPLATES = 1_000
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


def _claim_paths(template: CredentialTemplate, credential_format: str) -> tuple[Any, ...]:
    """Claims path pointers (Appendix C) of the template's disclosable claims."""
    paths: list[tuple[str | int | None, ...]] = []
    for disclosable in template.disclosable:
        path: list[str | int | None] = []
        for name, arrays in path_segments(disclosable):
            path.append(name)
            path.extend([None] * arrays)
        if credential_format == "mso_mdoc":
            namespace = template.mdoc_namespace or template.mdoc_doc_type
            path = [namespace, path[0]]
        if tuple(path) not in paths:
            paths.append(tuple(path))
    return tuple(paths)


def _form_value(form: Mapping[str, str], name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) and value else None


class WalletIssuer:
    def __init__(
        self,
        store: Store,
        *,
        issuance: IssuanceService,
        templates: TemplateService,
        urls: TenantUrls,
        wallet: WalletSettings,
        policy_for: Callable[[str], Awaitable[WalletPolicy]] | None = None,
        status: StatusChecker | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`policy_for(tenant_id)` gives the tenant's wallet policy (none: every
        attestation off); `status` checks the `status` of attestations."""
        self._store = store
        self._issuance = issuance
        self._templates = templates
        self._urls = urls
        self._wallet = wallet
        self._policy_for = policy_for
        self._status = status
        self._clock = clock
        self._nonces: DpopNonces | None = None
        self._c_nonces: CNonces | None = None

    # --- shared pieces -------------------------------------------------------------------

    def _now(self) -> int:
        return int(self._clock())

    async def _load_nonce_secret(self) -> None:
        """DPoP nonces and c_nonces come from one secret in the store, shared by every
        instance, so any of them accepts a nonce another one made."""
        secret = await self._store.get_or_set_meta(
            DPOP_NONCE_META_KEY, new_secret().encode("ascii")
        )
        self._nonces = DpopNonces(secret, window_seconds=self._wallet.dpop_nonce_seconds)
        self._c_nonces = CNonces(secret, lifetime_seconds=self._wallet.c_nonce_seconds)

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
        return (await self.dpop_nonces()).current(now=self._now())

    async def policy(self, tenant_id: str) -> WalletPolicy:
        if self._policy_for is None:
            return WalletPolicy()
        return await self._policy_for(tenant_id)

    async def _check_status(
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
            leeway=self._wallet.clock_skew_seconds,
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

    async def _endpoints(self, tenant_id: str) -> IssuerEndpoints:
        return IssuerEndpoints(
            credential_issuer=await self.issuer(tenant_id),
            display_name=f"EUDI-Connect issuer {tenant_id}",
            batch_size=self._wallet.batch_size,
        )

    async def _checked_dpop(
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
        jti itself (`record_jti=False`, see `credential`), refuses a replayed one."""
        now = self._now()
        checked = verify_dpop_proof(
            proof,
            method=method,
            url=url,
            now=now,
            access_token=access_token,
            bound_jkt=bound_jkt,
            nonces=await self.dpop_nonces(),
            max_age_seconds=self._wallet.proof_max_age_seconds,
            clock_skew_seconds=self._wallet.clock_skew_seconds,
        )
        if record_jti:
            jti = self._dpop_once(checked)
            if not await self._store.remember_once(
                tenant_id, "dpop", jti.value, jti.expires_at, now
            ):
                raise ProtocolError(E.INVALID_DPOP_PROOF, "this DPoP proof was used before")
        return checked

    def _dpop_once(self, proof: DpopProof) -> OnceValue:
        """How long a DPoP proof's jti must be remembered: as long as it could pass."""
        window = self._wallet.proof_max_age_seconds + 2 * self._wallet.clock_skew_seconds
        return OnceValue("dpop", proof.jti, self._now() + window)

    async def housekeeping(self, *, every_seconds: float = HOUSEKEEPING_SECONDS) -> None:
        """Runs until cancelled: deletes what has expired, so the tables stay small."""
        while True:
            await asyncio.sleep(every_seconds)
            try:
                removed = await self._store.purge_wallet_sessions(self._now())
            except EudiConnectError as error:
                log.warning("wallet session purge failed: %s", error.message)
            else:
                if removed:
                    log.info("purged %d expired wallet session records", removed)

    # --- metadata --------------------------------------------------------------------------

    async def configurations(self, tenant_id: str) -> list[CredentialConfiguration]:
        policy = await self.policy(tenant_id)
        configurations = []
        for template in await self._credential_templates(tenant_id):
            formats = ["dc+sd-jwt"] + (["mso_mdoc"] if template.mdoc_doc_type else [])
            for credential_format in formats:
                configurations.append(
                    CredentialConfiguration(
                        configuration_id=configuration_id(template.template_id, credential_format),
                        format=credential_format,  # type: ignore[arg-type]
                        type_name=(
                            template.vct
                            if credential_format == "dc+sd-jwt"
                            else template.mdoc_doc_type
                        ),
                        display_name=template.template_id,
                        claim_paths=_claim_paths(template, credential_format),
                        key_attestation=policy.key_attestation,
                        attestation_proofs=policy.key_attestation is not None,
                    )
                )
        return configurations

    async def _credential_templates(self, tenant_id: str) -> list[CredentialTemplate]:
        """The built-in and the tenant's credential templates, page by page."""
        found: list[CredentialTemplate] = []
        token = ""
        while len(found) < MAX_METADATA_TEMPLATES:
            page = await self._templates.list_templates(
                tenant_id, page_size=100, page_token=token, kind="credential"
            )
            found += [
                t.template for t in page.templates if isinstance(t.template, CredentialTemplate)
            ]
            token = page.next_page_token
            if not token:
                break
        return found

    async def issuer_metadata(self, tenant_id: str) -> dict[str, Any]:
        return credential_issuer_metadata(
            await self._endpoints(tenant_id), await self.configurations(tenant_id)
        )

    async def authorization_server_metadata(self, tenant_id: str) -> dict[str, Any]:
        policy = await self.policy(tenant_id)
        return authorization_server_metadata(
            await self._endpoints(tenant_id),
            client_attestation=policy.wallet_attestation_required,
            anonymous_access=not policy.wallet_attestation_required,
        )

    async def offer_object(self, tenant_id: str, offer_id: str) -> dict[str, Any]:
        """The offer object served at `credential_offer_uri`, while it can be redeemed."""
        record = await self._store.get_offer(tenant_id, offer_id)
        if record is None or effective_state(record, self._now()) != "OFFERED":
            raise ProtocolError(E.INVALID_REQUEST, "this credential offer is not available")
        offer: dict[str, Any] = json.loads(record.offer_json)
        return offer

    # --- token endpoint (section 6) ---------------------------------------------------------

    async def token(
        self,
        tenant_id: str,
        form: Mapping[str, str],
        *,
        dpop: str | None,
        url: str,
        client_attestation: str | None = None,
        client_attestation_pop: str | None = None,
    ) -> Answer:
        grant_type = _form_value(form, "grant_type")
        if grant_type != PRE_AUTHORIZED_GRANT:
            raise ProtocolError(
                E.UNSUPPORTED_GRANT_TYPE, "only the pre-authorized code grant is supported"
            )
        code = _form_value(form, "pre-authorized_code")
        if code is None:
            raise ProtocolError(E.INVALID_REQUEST, "pre-authorized_code is missing")
        jkt = (await self._checked_dpop(tenant_id, dpop, method="POST", url=url)).jkt
        client_id = await self._attested_client(
            tenant_id, client_attestation, client_attestation_pop
        )
        record = await self._store.find_offer_by_code(tenant_id, code_hash(code))
        now = self._now()
        if record is None or effective_state(record, now) != "OFFERED":
            raise ProtocolError(
                E.INVALID_GRANT, "the pre-authorized code is unknown, used or expired"
            )
        record = await self._checked_tx_code(record, _form_value(form, "tx_code"))
        token = new_secret()
        lifetime = max(1, min(self._wallet.access_token_seconds, record.expires_at - now))
        stored = AccessTokenRecord(
            token_hash=code_hash(token),
            tenant_id=tenant_id,
            offer_id=record.offer_id,
            dpop_jkt=jkt,
            client_id=client_id,
            issued_at=now,
            expires_at=now + lifetime,
        )
        if await self._store.redeem_offer(record, stored, now) is None:
            raise ProtocolError(E.INVALID_GRANT, "the pre-authorized code was used already")
        body = {"access_token": token, "token_type": "DPoP", "expires_in": lifetime}
        return Answer("ok", body, await self.current_dpop_nonce())

    async def _attested_client(
        self, tenant_id: str, attestation: str | None, pop: str | None
    ) -> str | None:
        policy = await self.policy(tenant_id)
        if attestation is None and pop is None and not policy.wallet_attestation_required:
            return None
        now = self._now()
        client = verify_client_attestation(
            attestation,
            pop,
            authorization_server=await self.issuer(tenant_id),
            trust=policy.trust,
            now=now,
            max_pop_age_seconds=self._wallet.proof_max_age_seconds,
            clock_skew_seconds=self._wallet.clock_skew_seconds,
        )
        await self._check_status(
            client.status, policy, code=E.INVALID_CLIENT, what="the wallet attestation"
        )
        expires = now + self._wallet.proof_max_age_seconds + self._wallet.clock_skew_seconds
        if not await self._store.remember_once(
            tenant_id, "client_attestation", client.pop_jti, expires, now
        ):
            raise ProtocolError(E.INVALID_CLIENT, "this wallet attestation PoP was used before")
        return client.client_id

    async def _checked_tx_code(self, record: OfferRecord, given: str | None) -> OfferRecord:
        """Section 6.3: a missing or unexpected code is invalid_request, a wrong one
        invalid_grant; the last allowed wrong code ends the offer (section 13.6.2).

        An attempt is taken (compare-and-set on the offer, re-read when another request
        won) before the code is compared, so however many requests arrive at once, no
        more codes than `tx_code_attempts` are ever compared for one offer."""
        if record.tx_code is None:
            if given is not None:
                raise ProtocolError(E.INVALID_REQUEST, "this offer takes no tx_code")
            return record
        if given is None:
            raise ProtocolError(E.INVALID_REQUEST, "this offer needs the tx_code")
        taken = await self._take_attempt(record)
        if tx_code_matches(given, record.tx_code):
            return taken
        if taken.tx_code_attempts_left == 0:
            await self._fail_offer(taken, "tx_code attempts used up")
        raise ProtocolError(E.INVALID_GRANT, "the tx_code is wrong")

    async def _take_attempt(self, record: OfferRecord) -> OfferRecord:
        current: OfferRecord | None = record
        for _ in range(OFFER_UPDATE_TRIES):
            if (
                current is None
                or effective_state(current, self._now()) != "OFFERED"
                or current.tx_code_attempts_left <= 0
            ):
                break
            change = OfferChange(tx_code_attempts_left=current.tx_code_attempts_left - 1)
            updated = await self._store.update_offer(
                current.tenant_id, current.offer_id, current.version, change, self._now()
            )
            if updated is not None:
                return updated
            current = await self._store.get_offer(record.tenant_id, record.offer_id)
        raise ProtocolError(E.INVALID_GRANT, "the pre-authorized code is no longer valid")

    async def _fail_offer(self, record: OfferRecord, reason: str) -> None:
        """FAILED, unless the offer left OFFERED meanwhile (a right code redeemed it)."""
        current: OfferRecord | None = record
        for _ in range(OFFER_UPDATE_TRIES):
            if current is None or current.state != "OFFERED":
                return
            change = OfferChange(state="FAILED", failure_reason=reason)
            if (
                await self._store.update_offer(
                    current.tenant_id, current.offer_id, current.version, change, self._now()
                )
                is not None
            ):
                return
            current = await self._store.get_offer(record.tenant_id, record.offer_id)

    # --- nonce endpoint (section 7) ---------------------------------------------------------

    async def nonce(self, tenant_id: str) -> Answer:
        """A c_nonce that costs no state until a proof uses it (`core.oid4vci.c_nonce`)."""
        c_nonce = (await self.c_nonces()).issue(tenant_id, now=self._now())
        return Answer("ok", {"c_nonce": c_nonce}, await self.current_dpop_nonce())

    # --- protected resources ----------------------------------------------------------------

    async def _authorized(
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
        stored = await self._store.get_access_token(code_hash(token.strip()))
        now = self._now()
        if stored is None or stored.tenant_id != tenant_id or stored.expires_at <= now:
            raise ProtocolError(E.INVALID_TOKEN, "the access token is unknown or expired")
        proof = await self._checked_dpop(
            tenant_id,
            dpop,
            method="POST",
            url=url,
            access_token=token.strip(),
            bound_jkt=stored.dpop_jkt,
            record_jti=record_jti,
        )
        record = await self._store.get_offer(tenant_id, stored.offer_id)
        ended = {"EXPIRED", "DELETED"} if failed_ok else {"EXPIRED", "DELETED", "FAILED"}
        if record is None or effective_state(record, now) in ended:
            raise ProtocolError(E.INVALID_TOKEN, "the offer behind this token has ended")
        return stored, record, proof

    # --- credential endpoint (section 8) -----------------------------------------------------

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
        token, record, proof = await self._authorized(
            tenant_id, authorization, dpop, url, record_jti=False
        )
        try:
            return await self._credential(token, record, proof, body)
        except ProtocolError as error:
            if error.code is not E.INVALID_DPOP_PROOF:
                jti = self._dpop_once(proof)
                await self._store.remember_once(
                    tenant_id, "dpop", jti.value, jti.expires_at, self._now()
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
        item = self._offered_item(record, body.get("credential_configuration_id"))
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
        proven = await self._proven_keys(tenant_id, record, body.get("proofs"), token.client_id)
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
        await self._claim(record, item, [self._dpop_once(proof), *nonces], thumbprints)
        if record.subject is None:
            return await self._defer(record, item, keys)
        return await self._issue(record, item, keys, record.subject)

    async def _nonce_values(self, tenant_id: str, nonces: Sequence[str]) -> list[OnceValue]:
        """Every distinct c_nonce in the request must be one of ours and unexpired; each
        becomes a value to record once."""
        c_nonces = await self.c_nonces()
        now = self._now()
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
        refused = await self._store.claim_once(
            record.tenant_id,
            values,
            self._now(),
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

    def _offered_item(self, record: OfferRecord, configuration: Any) -> OfferedItem:
        if not isinstance(configuration, str) or not configuration:
            raise ProtocolError(
                E.INVALID_CREDENTIAL_REQUEST, "credential_configuration_id is missing"
            )
        for item in record.items:
            if item.configuration_id == configuration:
                return item
        raise ProtocolError(
            E.UNKNOWN_CREDENTIAL_CONFIGURATION,
            "this access token does not cover that credential configuration",
        )

    async def _proven_keys(
        self, tenant_id: str, record: OfferRecord, proofs: Any, client_id: str | None
    ) -> list[ProvenKeys]:
        if not isinstance(proofs, Mapping) or len(proofs) != 1:
            raise ProtocolError(E.INVALID_PROOF, "proofs must hold exactly one proof type")
        proof_type, values = next(iter(proofs.items()))
        if not isinstance(values, list) or not values:
            raise ProtocolError(
                E.INVALID_PROOF, f"proofs.{str(proof_type)[:32]} must be a non-empty array"
            )
        if len(values) > self._wallet.batch_size:
            # Section 12.2.4: batch_size is the largest proofs array; refused before any
            # signature is checked, and never cut to fit.
            raise ProtocolError(
                E.INVALID_CREDENTIAL_REQUEST,
                f"the request carries {len(values)} proofs; the batch_size is "
                f"{self._wallet.batch_size}",
            )
        policy = await self.policy(tenant_id)
        checks = ProofPolicy(
            credential_issuer=await self.issuer(tenant_id),
            now=self._now(),
            client_id=client_id,
            max_age_seconds=self._wallet.proof_max_age_seconds,
            clock_skew_seconds=self._wallet.clock_skew_seconds,
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
            await self._check_status(
                status, policy, code=E.INVALID_PROOF, what="the key attestation"
            )
        return proven

    async def _defer(
        self, record: OfferRecord, item: OfferedItem, keys: Sequence[dict[str, Any]]
    ) -> Answer:
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
                return await self._issue(current, item, keys, current.subject)
            if (
                await self._store.update_offer(
                    current.tenant_id, current.offer_id, current.version, change, self._now()
                )
                is not None
            ):
                body = {
                    "transaction_id": transaction_id,
                    "interval": self._wallet.deferred_interval_seconds,
                }
                return Answer("accepted", body, await self.current_dpop_nonce())
            current = await self._store.get_offer(record.tenant_id, record.offer_id)
        raise ProtocolError(
            E.INVALID_CREDENTIAL_REQUEST, "a deferred request of this offer is pending"
        )

    async def _issue(
        self,
        record: OfferRecord,
        item: OfferedItem,
        keys: Sequence[dict[str, Any]],
        subject: Mapping[str, Any],
    ) -> Answer:
        commands = [
            IssueCommand(
                template_id=item.template_id,
                subject=subject,
                holder_jwk=json.dumps(jwk),
                request_id=f"oid4vci:{record.offer_id}:{jwk_thumbprint(jwk)}",
                validity_seconds=record.validity_seconds,
                coarsen_timestamps=len(keys) > 1,
                format=item.format,
            )
            for jwk in keys
        ]
        results = await self._issuance.issue_many(record.tenant_id, commands)
        failures = [r for r in results if isinstance(r, EudiConnectError)]
        if failures:
            raise ProtocolError(
                E.CREDENTIAL_REQUEST_DENIED,
                f"the credential could not be issued: {failures[0].message}",
            )
        issued = [r for r in results if not isinstance(r, EudiConnectError)]
        notification_id = await self._record_issued(record, item, [c.credential_id for c in issued])
        body = {
            "credentials": [{"credential": c.credential} for c in issued],
            "notification_id": notification_id,
        }
        return Answer("ok", body, await self.current_dpop_nonce())

    async def _record_issued(
        self, record: OfferRecord, item: OfferedItem, credential_ids: Sequence[str]
    ) -> str:
        """Adds the credentials to the offer (re-reading when another request raced) and
        returns the offer's notification_id: the first response's, kept for the later
        ones. A final state (the wallet notified meanwhile) is not undone."""
        current: OfferRecord | None = record
        notification_id = record.notification_id or new_secret()
        for _ in range(OFFER_UPDATE_TRIES):
            if current is None:
                break
            notification_id = current.notification_id or notification_id
            # A deferred credential asked for twice is issued once (its request_id): add
            # only what the offer does not list yet.
            new_ids = [c for c in credential_ids if c not in current.credential_ids]
            copies = dict(current.copies_issued)
            copies[item.configuration_id] = copies.get(item.configuration_id, 0) + len(new_ids)
            change = OfferChange(
                state=None if current.state in FINAL_OFFER_STATES else "CREDENTIALS_ISSUED",
                add_credential_ids=new_ids,
                copies_issued=copies,
                notification_id=notification_id,
                transaction_id="",
                deferred_request={},
            )
            if (
                await self._store.update_offer(
                    current.tenant_id, current.offer_id, current.version, change, self._now()
                )
                is not None
            ):
                return notification_id
            current = await self._store.get_offer(current.tenant_id, current.offer_id)
        log.warning(
            "offer %s: %d issued credentials could not be recorded on it (too many races)",
            record.offer_id,
            len(credential_ids),
        )
        return notification_id

    # --- deferred credential endpoint (section 9) --------------------------------------------

    async def deferred_credential(
        self, tenant_id: str, body: Any, *, authorization: str | None, dpop: str | None, url: str
    ) -> Answer:
        _, record, _ = await self._authorized(tenant_id, authorization, dpop, url, failed_ok=True)
        transaction_id = body.get("transaction_id") if isinstance(body, Mapping) else None
        if (
            not isinstance(transaction_id, str)
            or not transaction_id
            or record.transaction_id != transaction_id
        ):
            raise ProtocolError(E.INVALID_TRANSACTION_ID, "the transaction_id is not pending")
        if record.state == "FAILED":
            raise ProtocolError(E.CREDENTIAL_REQUEST_DENIED, "the issuer will not issue it")
        if record.subject is None:
            body_out = {
                "transaction_id": transaction_id,
                "interval": self._wallet.deferred_interval_seconds,
            }
            return Answer("accepted", body_out, await self.current_dpop_nonce())
        pending = record.deferred_request or {}
        item = self._offered_item(record, pending.get("configuration_id"))
        return await self._issue(record, item, list(pending.get("keys", [])), record.subject)

    # --- notification endpoint (section 11) ----------------------------------------------------

    async def notification(
        self, tenant_id: str, body: Any, *, authorization: str | None, dpop: str | None, url: str
    ) -> Answer:
        _, record, _ = await self._authorized(tenant_id, authorization, dpop, url)
        if not isinstance(body, Mapping):
            raise ProtocolError(E.INVALID_NOTIFICATION_REQUEST, "the request must be JSON")
        notification_id, event = body.get("notification_id"), body.get("event")
        if not isinstance(notification_id, str) or notification_id != record.notification_id:
            raise ProtocolError(E.INVALID_NOTIFICATION_ID, "the notification_id is unknown")
        state = NOTIFICATION_EVENTS.get(event) if isinstance(event, str) else None
        if state is None:
            raise ProtocolError(
                E.INVALID_NOTIFICATION_REQUEST,
                f"event must be one of {', '.join(sorted(NOTIFICATION_EVENTS))}",
            )
        description = body.get("event_description")
        if record.state == state:
            return Answer("no_content", None)  # the same notification again: idempotent
        change = OfferChange(
            state=state,  # type: ignore[arg-type]
            failure_reason=description[:300] if isinstance(description, str) else "",
        )
        await self._store.update_offer(
            tenant_id, record.offer_id, record.version, change, self._now()
        )
        return Answer("no_content", None)
