"""The Authorization Response at the response URI (OpenID4VP 1.0 sections 8.1 to 8.3)
or from the Digital Credentials API (Appendix A.4).

`direct_post` posts `vp_token` and `state` as form fields; `direct_post.jwt` posts one
`response` field, a JWE whose payload holds them (a wallet that cannot encrypt may still
post an error in the clear, section 8.3.1, never a vp_token). Over the DC API the same
parameters arrive as the JSON object the browser returned, without `state`. A wallet's
error response (section 8.5) is an answer, not a refusal, and comes back as one.

Everything else is a ProtocolError with the code the wallet is told (`invalid_request`)
and a reason: the wrong `state`, a plaintext vp_token where encryption was asked for, a
vp_token of the wrong shape, or credential ids the query did not ask for.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from eudi_connect.reasons import Reason

from ._errors import ProtocolError, description_text
from .dcql import MAX_CREDENTIAL_QUERIES, DcqlQuery
from .jwe import DEFAULT_ENC_VALUES, MAX_JWE_BYTES, ResponseEncryptionKey, decrypt_response
from .request_object import ResponseMode

#: Presentations one credential query may receive with `multiple` (section 6.1).
MAX_PRESENTATIONS = 16
MAX_ERROR_CHARS = 256
MAX_ERROR_DESCRIPTION_CHARS = 1024


@dataclass(frozen=True)
class WalletError:
    """Section 8.5: the wallet could not or would not answer (`access_denied`, ...)."""

    error: str
    description: str | None = None


@dataclass(frozen=True)
class AuthorizationResponse:
    """Either `vp_token` (credential query id -> presentations) or `error` is set."""

    vp_token: dict[str, tuple[str, ...]] | None
    error: WalletError | None
    state: str | None
    encrypted: bool


def _refused(reason: Reason, description: str) -> ProtocolError:
    return ProtocolError(description, reason=reason)


def parse_response(
    params: Mapping[str, Any],
    *,
    response_mode: ResponseMode,
    expected_state: str | None,
    encryption_key: ResponseEncryptionKey | None = None,
    enc_values: Collection[str] = DEFAULT_ENC_VALUES,
    query: DcqlQuery | None = None,
) -> AuthorizationResponse:
    """The response to the request made with these parameters.

    `params` is the form (direct_post modes) or the DC API's `data` object.
    `expected_state` is the request's `state` (None over the DC API, which has none).
    With `query`, credential ids it does not name and more presentations than
    `multiple` allows are refused before anything is verified.
    """
    encrypted = "response" in params
    if encrypted:
        if not response_mode.encrypted or encryption_key is None:
            raise _refused(
                Reason.RESPONSE_MODE_MISMATCH, "this request asked for no encrypted response"
            )
        token = params["response"]
        if not isinstance(token, str):
            raise _refused(Reason.JWE_MALFORMED, "response must be a compact JWE string")
        inner = decrypt_response(token, encryption_key, allowed_enc=enc_values)
        outer_state = params.get("state")
        if outer_state is not None and inner.get("state", outer_state) != outer_state:
            raise _refused(Reason.STATE_MISMATCH, "the state outside the JWE differs from inside")
        params = {**({"state": outer_state} if outer_state is not None else {}), **inner}
    state = params.get("state")
    if expected_state is not None:
        if not isinstance(state, str) or not hmac.compare_digest(
            state.encode("utf-8"), expected_state.encode("utf-8")
        ):
            raise _refused(Reason.STATE_MISMATCH, "state is not this request's")
    elif state is not None and not isinstance(state, str):
        raise _refused(Reason.RESPONSE_INVALID, "state must be a string")
    if "error" in params:
        return AuthorizationResponse(None, _wallet_error(params), state, encrypted)
    if response_mode.encrypted and not encrypted:
        raise _refused(Reason.ENCRYPTION_REQUIRED, "this request asked for an encrypted response")
    if "vp_token" not in params:
        raise _refused(Reason.VP_TOKEN_MISSING, "the response holds neither vp_token nor error")
    vp_token = parse_vp_token(params["vp_token"])
    if query is not None:
        check_vp_token_ids(vp_token, query)
    return AuthorizationResponse(vp_token, None, state, encrypted)


def _wallet_error(params: Mapping[str, Any]) -> WalletError:
    code = params.get("error")
    if not isinstance(code, str) or not 0 < len(code) <= MAX_ERROR_CHARS:
        raise _refused(Reason.RESPONSE_INVALID, f"error must be a code of 1 to {MAX_ERROR_CHARS}")
    description = params.get("error_description")
    if description is not None and not isinstance(description, str):
        raise _refused(Reason.RESPONSE_INVALID, "error_description must be a string")
    return WalletError(
        description_text(code),
        None
        if description is None
        else description_text(description)[:MAX_ERROR_DESCRIPTION_CHARS],
    )


def parse_vp_token(value: Any) -> dict[str, tuple[str, ...]]:
    """Section 8.1: a JSON object (or its JSON text, in a form) from credential query id to
    a non-empty array of presentations; ours (dc+sd-jwt, mso_mdoc) are strings."""
    if isinstance(value, str):
        if len(value) > MAX_JWE_BYTES:
            raise _refused(
                Reason.VP_TOKEN_INVALID, f"vp_token is larger than {MAX_JWE_BYTES} bytes"
            )
        try:
            value = json.loads(value)
        except (ValueError, RecursionError) as exc:
            raise _refused(Reason.VP_TOKEN_INVALID, "vp_token is not JSON") from exc
    if not isinstance(value, dict) or not value:
        raise _refused(Reason.VP_TOKEN_INVALID, "vp_token must be a non-empty JSON object")
    if len(value) > MAX_CREDENTIAL_QUERIES:
        raise _refused(
            Reason.VP_TOKEN_INVALID, f"vp_token holds more than {MAX_CREDENTIAL_QUERIES} ids"
        )
    token: dict[str, tuple[str, ...]] = {}
    for credential_id, presentations in value.items():
        shown = repr(credential_id[:64])
        if not isinstance(presentations, list) or not presentations:
            raise _refused(Reason.VP_TOKEN_INVALID, f"vp_token {shown} is not a non-empty array")
        if len(presentations) > MAX_PRESENTATIONS:
            raise _refused(
                Reason.VP_TOKEN_INVALID, f"vp_token {shown} holds too many presentations"
            )
        if not all(isinstance(p, str) and p for p in presentations):
            raise _refused(
                Reason.VP_TOKEN_INVALID, f"vp_token {shown} holds a non-string presentation"
            )
        token[credential_id] = tuple(presentations)
    return token


def check_vp_token_ids(vp_token: Mapping[str, tuple[str, ...]], query: DcqlQuery) -> None:
    """Nothing the query did not ask for; one presentation unless `multiple`."""
    for credential_id, presentations in vp_token.items():
        credential = query.credential(credential_id)
        if credential is None:
            raise _refused(
                Reason.CREDENTIAL_NOT_REQUESTED,
                f"vp_token holds {credential_id[:64]!r}, which the query does not name",
            )
        if len(presentations) > 1 and not credential.multiple:
            raise _refused(
                Reason.TOO_MANY_PRESENTATIONS,
                f"vp_token holds {len(presentations)} presentations for {credential_id!r}, "
                "where the query allows one",
            )
