"""Presentation requests: what a relying party asks for, checked and stored, and the signed
request object (OpenID4VP 1.0 section 5, RFC 9101) built from the stored transaction
whenever a wallet fetches it (or at once, for the Digital Credentials API)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from eudi_connect.core.encoding import json_bytes
from eudi_connect.core.key_encryption import MasterKey
from eudi_connect.core.oid4vci.offer import wallets_accept_issuer
from eudi_connect.core.oid4vp import (
    DEFAULT_ENC_VALUES,
    STATIC_WALLET_AUDIENCE,
    AuthorizationRequest,
    ClientIdPrefix,
    DcqlQuery,
    ResponseEncryptionKey,
    ResponseMode,
    encode_transaction_data,
    parse_dcql,
    random_value,
    sign_request_object,
)
from eudi_connect.core.oid4vp.transaction_data import (
    check_supported as check_transaction_data_supported,
)
from eudi_connect.errors import FailedPreconditionError, InvalidArgumentError
from eudi_connect.reasons import Reason
from eudi_connect.services.verification import VerificationPolicy
from eudi_connect.services.verifier_identity import MAX_REQUEST_LIFETIME_SECONDS, VerifierIdentity
from eudi_connect.store.presentations import PresentationRecord

DEFAULT_LIFETIME_SECONDS = 300
MAX_LIFETIME_SECONDS = MAX_REQUEST_LIFETIME_SECONDS
MAX_REQUEST_ID_LENGTH = 128
MAX_REDIRECT_URI_LENGTH = 2048
#: The Digital Credentials API protocol identifier of signed OpenID4VP requests (A.1).
DC_API_SIGNED_PROTOCOL = "openid4vp-v1-signed"


@dataclass(frozen=True, kw_only=True)
class CreatePresentationCommand:
    dcql_query_json: str
    client_id_prefix: str = ""
    response_mode: str = ""
    transaction_data_json: Sequence[str] = ()
    lifetime_seconds: int = 0
    policy: VerificationPolicy = field(default_factory=VerificationPolicy)
    request_id: str = ""
    redirect_uri: str = ""
    request_uri_method: str = ""
    expected_origins: Sequence[str] = ()


def _invalid(reason: Reason, message: str) -> InvalidArgumentError:
    return InvalidArgumentError(message, reason=reason)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def strict_json(text: str, what: str) -> Any:
    """JSON text as RFC 8259 defines it: NaN and Infinity refused (Python reads them)."""
    try:
        return json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise _invalid(Reason.JSON_INVALID, f"{what} is not JSON: {str(exc)[:120]}") from exc


def checked_prefix(value: str) -> ClientIdPrefix:
    try:
        return ClientIdPrefix(value or ClientIdPrefix.X509_SAN_DNS)
    except ValueError as exc:
        raise _invalid(
            Reason.CLIENT_ID_PREFIX_INVALID, "client_id_prefix must be x509_san_dns or x509_hash"
        ) from exc


def checked_mode(value: str) -> ResponseMode:
    try:
        return ResponseMode(value or ResponseMode.DIRECT_POST_JWT)
    except ValueError as exc:
        raise _invalid(
            Reason.RESPONSE_MODE_INVALID,
            "response_mode must be direct_post.jwt, direct_post, dc_api.jwt or dc_api",
        ) from exc


def _checked_lifetime(seconds: int) -> int:
    lifetime = seconds or DEFAULT_LIFETIME_SECONDS
    if not 1 <= lifetime <= MAX_LIFETIME_SECONDS:
        raise _invalid(
            Reason.PRESENTATION_LIFETIME_INVALID,
            f"lifetime_seconds must be 1 to {MAX_LIFETIME_SECONDS}",
        )
    return lifetime


def _checked_redirect(uri: str, mode: ResponseMode) -> str | None:
    if not uri:
        return None
    if mode.dc_api:
        raise _invalid(
            Reason.REDIRECT_URI_INVALID, "redirect_uri is for the direct_post modes only"
        )
    parts = urlsplit(uri)
    if len(uri) > MAX_REDIRECT_URI_LENGTH or parts.fragment or not wallets_accept_issuer(uri):
        raise _invalid(
            Reason.REDIRECT_URI_INVALID,
            "redirect_uri must be an https URL (http on a loopback host) without a fragment, "
            f"at most {MAX_REDIRECT_URI_LENGTH} characters",
        )
    return uri


def _transaction_data(entries: Sequence[str]) -> tuple[str, ...]:
    encoded = []
    for index, text in enumerate(entries):
        entry = strict_json(text, f"transaction_data_json[{index}]")
        if not isinstance(entry, Mapping):
            raise _invalid(
                Reason.TRANSACTION_DATA_INVALID, f"transaction_data_json[{index}] is not an object"
            )
        encoded.append(encode_transaction_data(entry))
    return tuple(encoded)


def policy_text(policy: VerificationPolicy) -> str:
    values = asdict(policy)
    values["allowed_vcts"] = sorted(policy.allowed_vcts)
    return json.dumps(values, separators=(",", ":"))


def policy_from_text(text: str) -> VerificationPolicy:
    values = json.loads(text)
    values["allowed_vcts"] = frozenset(values.get("allowed_vcts", ()))
    return VerificationPolicy(**values)


def _key_aad(transaction_id: str) -> bytes:
    return f"presentation:{transaction_id}".encode()


def seal_encryption_key(
    master: MasterKey, transaction_id: str, key: ResponseEncryptionKey
) -> bytes:
    return master.encrypt(json_bytes(key.private_jwk()), aad=_key_aad(transaction_id))


def open_encryption_key(
    master: MasterKey, record: PresentationRecord
) -> ResponseEncryptionKey | None:
    if record.encryption_key_encrypted is None:
        return None
    plain = master.decrypt(record.encryption_key_encrypted, aad=_key_aad(record.transaction_id))
    return ResponseEncryptionKey.from_private_jwk(json.loads(plain))


@dataclass(frozen=True)
class Endpoints:
    """Where the wallet fetches the request and posts its response."""

    request_uri: str
    response_uri: str


def endpoints(base_url: str, tenant_id: str, transaction_id: str) -> Endpoints:
    verifier = f"{base_url}/verifiers/{tenant_id}"
    return Endpoints(
        f"{verifier}/requests/{transaction_id}", f"{verifier}/responses/{transaction_id}"
    )


def new_record(
    tenant_id: str,
    command: CreatePresentationCommand,
    *,
    identity: VerifierIdentity,
    base_url: str,
    master: MasterKey,
    now: int,
) -> tuple[PresentationRecord, ResponseEncryptionKey | None]:
    """The transaction to store, checked as the request object will be built from it."""
    if len(command.request_id) > MAX_REQUEST_ID_LENGTH:
        raise _invalid(
            Reason.REQUEST_ID_INVALID,
            f"request_id is longer than {MAX_REQUEST_ID_LENGTH} characters",
        )
    query = parse_dcql(command.dcql_query_json)
    prefix = checked_prefix(command.client_id_prefix)
    mode = checked_mode(command.response_mode)
    lifetime = _checked_lifetime(command.lifetime_seconds)
    redirect_uri = _checked_redirect(command.redirect_uri, mode)
    method = command.request_uri_method or "get"
    if method not in ("get", "post"):
        raise _invalid(Reason.REQUEST_URI_METHOD_INVALID, "request_uri_method must be get or post")
    policy = VerificationPolicy(
        require_key_binding=True,
        max_key_binding_age_seconds=command.policy.max_key_binding_age_seconds,
        allowed_vcts=command.policy.allowed_vcts,
        check_status=command.policy.check_status,
        clock_skew_seconds=command.policy.clock_skew_seconds,
    )
    policy.check()
    transaction_id = secrets.token_hex(16)
    urls = endpoints(base_url, tenant_id, transaction_id)
    if not mode.dc_api and not wallets_accept_issuer(urls.response_uri):
        raise FailedPreconditionError(
            f"wallets post responses only to https URLs, not {base_url[:200]!r}: serve with "
            "an https --public-url (plain http only for a loopback host)",
            reason=Reason.VERIFIER_URL_NOT_HTTPS,
        )
    key = ResponseEncryptionKey.generate() if mode.encrypted else None
    record = PresentationRecord(
        transaction_id=transaction_id,
        tenant_id=tenant_id,
        request_id=command.request_id or None,
        state="PENDING",
        client_id=identity.client_id(prefix),
        response_mode=mode.value,
        dcql_query=json.dumps(query.to_json(), separators=(",", ":"), ensure_ascii=False),
        nonce=random_value(),
        state_value=None if mode.dc_api else random_value(),
        response_uri=None if mode.dc_api else urls.response_uri,
        request_uri=None if mode.dc_api else urls.request_uri,
        request_uri_method=method,
        redirect_uri=redirect_uri,
        expected_origins=tuple(command.expected_origins),
        transaction_data=_transaction_data(command.transaction_data_json),
        policy=policy_text(policy),
        encryption_key_encrypted=None
        if key is None
        else seal_encryption_key(master, transaction_id, key),
        enc_values=DEFAULT_ENC_VALUES if mode.encrypted else (),
        created_at=now,
        expires_at=now + lifetime,
        updated_at=now,
    )
    # Every rule the request object obeys, checked now rather than in front of a wallet.
    try:
        authorization_request(record, query, key, issued_at=now).claims()
    except InvalidArgumentError as error:
        if error.reason != Reason.RESPONSE_URI_INVALID:
            raise
        raise FailedPreconditionError(
            f"{error.message}: the verifier DNS name must be the public URL's host for "
            "x509_san_dns (eudi-connect verifier set-dns-name), or use x509_hash",
            reason=Reason.VERIFIER_DNS_NAME_MISMATCH,
        ) from error
    check_transaction_data_supported(record.transaction_data, query)
    return record, key


def authorization_request(
    record: PresentationRecord,
    query: DcqlQuery,
    key: ResponseEncryptionKey | None,
    *,
    issued_at: int,
    enc_values: Sequence[str] | None = None,
    wallet_nonce: str | None = None,
    audience: str = STATIC_WALLET_AUDIENCE,
) -> AuthorizationRequest:
    return AuthorizationRequest(
        client_id=record.client_id,
        response_mode=ResponseMode(record.response_mode),
        nonce=record.nonce,
        dcql_query=query,
        encryption_jwk=None if key is None else key.public_jwk(),
        response_uri=record.response_uri,
        state=record.state_value,
        enc_values=tuple(enc_values if enc_values is not None else record.enc_values)
        or DEFAULT_ENC_VALUES,
        transaction_data=record.transaction_data,
        expected_origins=record.expected_origins,
        wallet_nonce=wallet_nonce,
        audience=audience,
        issued_at=issued_at,
        expires_at=record.expires_at,
    )


def request_object(
    record: PresentationRecord,
    identity: VerifierIdentity,
    key: ResponseEncryptionKey | None,
    *,
    now: int,
    enc_values: Sequence[str] | None = None,
    wallet_nonce: str | None = None,
    audience: str = STATIC_WALLET_AUDIENCE,
) -> str:
    """The signed request object (a JWT of typ oauth-authz-req+jwt) for this transaction."""
    request = authorization_request(
        record,
        parse_dcql(record.dcql_query),
        key,
        issued_at=now,
        enc_values=enc_values,
        wallet_nonce=wallet_nonce,
        audience=audience,
    )
    return sign_request_object(request, identity.signer, identity.x5c)


def dc_api_request(request_object_jwt: str) -> str:
    """Appendix A.3: what a web page passes to `navigator.credentials.get`."""
    return json.dumps(
        {"protocol": DC_API_SIGNED_PROTOCOL, "data": {"request": request_object_jwt}},
        separators=(",", ":"),
    )
