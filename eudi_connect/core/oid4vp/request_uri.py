"""The wallet's POST to the request URI (OpenID4VP 1.0 section 5.10): its metadata and
`wallet_nonce`, and what the request object may use given them.

`wallet_metadata` (section 10) says what the wallet supports; the verifier keeps to it
where it can (the `enc` values it advertises) and refuses where it cannot (a wallet that
supports neither our client identifier prefix, our signature, nor our encryption would
fail on the request anyway). Unknown or ill-typed metadata members are ignored, as the
verifier must ignore what it does not recognise.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eudi_connect.core.jose import ES256
from eudi_connect.reasons import Reason

from ._errors import ErrorCode, ProtocolError
from .client_id import ClientIdPrefix
from .jwe import DEFAULT_ENC_VALUES, ECDH_ES
from .request_object import STATIC_WALLET_AUDIENCE, ResponseMode

MAX_WALLET_METADATA_BYTES = 16 * 1024
MAX_WALLET_NONCE_CHARS = 256
MAX_WALLET_ISSUER_CHARS = 2048


@dataclass(frozen=True)
class RequestUriPost:
    wallet_metadata: dict[str, Any] | None
    wallet_nonce: str | None

    @property
    def audience(self) -> str:
        """Section 5.8: the request object's `aud` is the wallet metadata's `issuer` when
        the wallet named one (dynamic discovery), else the static-discovery value."""
        issuer = (self.wallet_metadata or {}).get("issuer")
        return issuer if isinstance(issuer, str) else STATIC_WALLET_AUDIENCE


def parse_request_uri_post(form: Mapping[str, str]) -> RequestUriPost:
    """The form body (`application/x-www-form-urlencoded`); ProtocolError for one that is
    not what section 5.10 describes. Other parameters are ignored."""
    metadata = None
    text = form.get("wallet_metadata")
    if text is not None:
        if not isinstance(text, str) or len(text) > MAX_WALLET_METADATA_BYTES:
            raise ProtocolError(
                f"wallet_metadata is larger than {MAX_WALLET_METADATA_BYTES} bytes",
                reason=Reason.WALLET_METADATA_INVALID,
            )
        try:
            metadata = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise ProtocolError(
                "wallet_metadata is not JSON", reason=Reason.WALLET_METADATA_INVALID
            ) from exc
        if not isinstance(metadata, dict):
            raise ProtocolError(
                "wallet_metadata is not a JSON object", reason=Reason.WALLET_METADATA_INVALID
            )
        issuer = metadata.get("issuer")
        if issuer is not None and (
            not isinstance(issuer, str)
            or not 0 < len(issuer) <= MAX_WALLET_ISSUER_CHARS
            or not issuer.isprintable()
        ):
            raise ProtocolError(
                f"wallet_metadata issuer must be a string of 1 to {MAX_WALLET_ISSUER_CHARS} "
                "printable characters",
                reason=Reason.WALLET_METADATA_INVALID,
            )
    nonce = form.get("wallet_nonce")
    if nonce is not None and (
        not isinstance(nonce, str)
        or not 0 < len(nonce) <= MAX_WALLET_NONCE_CHARS
        or not all(0x21 <= ord(c) <= 0x7E and c not in '"\\' for c in nonce)
    ):
        raise ProtocolError(
            f"wallet_nonce must be 1 to {MAX_WALLET_NONCE_CHARS} printable ASCII characters",
            reason=Reason.WALLET_NONCE_INVALID,
        )
    return RequestUriPost(metadata, nonce)


def _strings(metadata: Mapping[str, Any], name: str) -> list[Any] | None:
    """A metadata member that is an array (of anything; non-strings never match)."""
    value = metadata.get(name)
    return value if isinstance(value, list) else None


def _refuse_unless(supported: list[Any] | None, wanted: str, what: str, reason: Reason) -> None:
    if supported is not None and wanted not in supported:
        raise ProtocolError(f"the wallet does not support {what} {wanted}", reason=reason)


def negotiate_enc_values(
    wallet_metadata: Mapping[str, Any] | None,
    *,
    client_id_prefix: ClientIdPrefix,
    response_mode: ResponseMode,
    offered: Sequence[str] = DEFAULT_ENC_VALUES,
) -> tuple[str, ...]:
    """The `encrypted_response_enc_values_supported` to advertise to this wallet: ours, in
    our order, that it lists (all of ours when it lists none). ProtocolError when the
    wallet's metadata rules the request out."""
    if not wallet_metadata:
        return tuple(offered)
    _refuse_unless(
        _strings(wallet_metadata, "client_id_prefixes_supported"),
        client_id_prefix.value,
        "the client identifier prefix",
        Reason.CLIENT_ID_PREFIX_UNSUPPORTED,
    )
    _refuse_unless(
        _strings(wallet_metadata, "request_object_signing_alg_values_supported"),
        ES256,
        "request object signatures with",
        Reason.REQUEST_SIGNING_UNSUPPORTED,
    )
    _refuse_unless(
        _strings(wallet_metadata, "response_modes_supported"),
        response_mode.value,
        "the response mode",
        Reason.RESPONSE_MODE_UNSUPPORTED,
    )
    if not response_mode.encrypted:
        return tuple(offered)
    _refuse_unless(
        _strings(wallet_metadata, "authorization_encryption_alg_values_supported"),
        ECDH_ES,
        "response encryption with",
        Reason.ENCRYPTION_UNSUPPORTED,
    )
    listed = _strings(wallet_metadata, "authorization_encryption_enc_values_supported")
    if listed is None:
        return tuple(offered)
    common = tuple(enc for enc in offered if enc in listed)
    if not common:
        raise ProtocolError(
            f"the wallet supports none of the content encryptions {', '.join(offered)}",
            code=ErrorCode.INVALID_REQUEST,
            reason=Reason.ENCRYPTION_UNSUPPORTED,
        )
    return common
