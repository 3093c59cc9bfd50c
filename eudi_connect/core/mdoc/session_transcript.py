"""SessionTranscript and DeviceAuthentication (ISO/IEC 18013-5 sections 9.1.3 and 9.1.5.1).

The device signs the session it presents in, not a timestamp: whoever knows the session
transcript can check the signature, and a presentation replayed into another session (other
verifier, other nonce) fails. The transcript is protocol specific, so it comes in as CBOR
bytes; `openid4vp_session_transcript` builds the one OpenID4VP uses with redirects, and
`openid4vp_dc_api_session_transcript` the one for the Digital Credentials API.
"""

from __future__ import annotations

import hashlib

from eudi_connect.errors import InvalidArgumentError
from eudi_connect.reasons import Reason

from . import _cbor

#: OpenID4VP 1.0 Appendix B.2.6.1: the handover identifier for invocation via redirects.
OPENID4VP_HANDOVER = "OpenID4VPHandover"
#: OpenID4VP 1.0 Appendix B.2.6.2: the handover identifier for the Digital Credentials API.
OPENID4VP_DC_API_HANDOVER = "OpenID4VPDCAPIHandover"
DEVICE_AUTHENTICATION = "DeviceAuthentication"
#: A proximity transcript holds the device engagement and the reader's key; far below this.
MAX_SESSION_TRANSCRIPT_BYTES = 64 * 1024
_SESSION_TRANSCRIPT_MAX_DEPTH = 8
_SHA256_THUMBPRINT_BYTES = 32
_ARRAY_OF_FOUR = b"\x84"


class SessionTranscriptError(InvalidArgumentError):
    """The caller's session transcript (or what it is built from) is unusable.

    An invalid argument, not a refused credential: no presentation could verify against it.
    """

    default_reason = Reason.SESSION_TRANSCRIPT_INVALID


def openid4vp_session_transcript(
    *, client_id: str, nonce: str, response_uri: str, jwk_thumbprint: bytes | None = None
) -> bytes:
    """`[null, null, ["OpenID4VPHandover", sha256(cbor([clientId, nonce, thumbprint, uri]))]]`.

    `jwk_thumbprint` is the RFC 7638 SHA-256 thumbprint of the verifier's response
    encryption key when the response was encrypted, else None (CBOR null).
    """
    _check_inputs((("client_id", client_id), ("nonce", nonce), ("response_uri", response_uri)))
    _check_thumbprint(jwk_thumbprint)
    return _transcript(OPENID4VP_HANDOVER, [client_id, nonce, jwk_thumbprint, response_uri])


def openid4vp_dc_api_session_transcript(
    *, origin: str, nonce: str, jwk_thumbprint: bytes | None = None
) -> bytes:
    """`[null, null, ["OpenID4VPDCAPIHandover", sha256(cbor([origin, nonce, thumbprint]))]]`.

    `origin` is the web origin the browser reported, without the `origin:` prefix;
    `jwk_thumbprint` as above, for `dc_api.jwt` (None, CBOR null, for `dc_api`).
    """
    _check_inputs((("origin", origin), ("nonce", nonce)))
    if origin.startswith("origin:"):
        raise SessionTranscriptError("the DC API transcript takes the origin without 'origin:'")
    _check_thumbprint(jwk_thumbprint)
    return _transcript(OPENID4VP_DC_API_HANDOVER, [origin, nonce, jwk_thumbprint])


def _check_inputs(named: tuple[tuple[str, str], ...]) -> None:
    for name, value in named:
        if not isinstance(value, str) or not value:
            raise SessionTranscriptError(f"the OpenID4VP session transcript needs a {name}")


def _check_thumbprint(jwk_thumbprint: bytes | None) -> None:
    if jwk_thumbprint is not None and (
        not isinstance(jwk_thumbprint, bytes) or len(jwk_thumbprint) != _SHA256_THUMBPRINT_BYTES
    ):
        raise SessionTranscriptError("jwk_thumbprint must be a 32-byte SHA-256 thumbprint")


def _transcript(handover_type: str, info: list[str | bytes | None]) -> bytes:
    """DeviceEngagementBytes and EReaderKeyBytes null; the handover hashes its info array."""
    handover = [handover_type, hashlib.sha256(_cbor.encode(info)).digest()]
    return _cbor.encode([None, None, handover])


def check_session_transcript(session_transcript: bytes) -> None:
    """One well-formed CBOR array of three (DeviceEngagementBytes, EReaderKeyBytes,
    Handover); the bytes are used exactly as given, never re-encoded.
    """
    if not isinstance(session_transcript, bytes) or not session_transcript:
        raise SessionTranscriptError("session transcript must be non-empty CBOR bytes")
    if len(session_transcript) > MAX_SESSION_TRANSCRIPT_BYTES:
        raise SessionTranscriptError(
            f"session transcript is larger than {MAX_SESSION_TRANSCRIPT_BYTES} bytes"
        )
    try:
        value = _cbor.decode(session_transcript, max_depth=_SESSION_TRANSCRIPT_MAX_DEPTH)
    except _cbor.MalformedCborError as exc:
        raise SessionTranscriptError(f"session transcript: {exc}") from exc
    if not isinstance(value, list) or len(value) != 3:
        raise SessionTranscriptError("session transcript must be a CBOR array of three items")


def device_authentication_bytes(
    session_transcript: bytes, doc_type: str, device_namespaces: bytes
) -> bytes:
    """Encoded `#6.24(bstr .cbor DeviceAuthentication)`: the detached payload the device signs.

    DeviceAuthentication = ["DeviceAuthentication", SessionTranscript, DocType,
    DeviceNameSpacesBytes]. The transcript and `device_namespaces` (the DeviceNameSpaces
    CBOR inside its tag 24) are spliced in as given, so holder and verifier sign and check
    the very same bytes whatever encoder made them.
    """
    device_authentication = b"".join(
        (
            _ARRAY_OF_FOUR,
            _cbor.encode(DEVICE_AUTHENTICATION),
            session_transcript,
            _cbor.encode(doc_type),
            _cbor.encode(_cbor.embedded(device_namespaces)),
        )
    )
    return _cbor.encode(_cbor.embedded(device_authentication))
