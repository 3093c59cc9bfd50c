"""What a caller asks of a verification: the credential, the expected audience and nonce,
the session an mdoc DeviceResponse was made for, and the policy with its bounds."""

from __future__ import annotations

from dataclasses import dataclass, field

from eudi_connect.core.mdoc import check_session_transcript, openid4vp_session_transcript
from eudi_connect.errors import InvalidArgumentError
from eudi_connect.reasons import Reason

MAX_CLOCK_SKEW_SECONDS = 3600
MAX_KEY_BINDING_AGE_SECONDS = 86_400
MAX_ALLOWED_VCTS = 100


@dataclass(frozen=True, kw_only=True)
class VerificationPolicy:
    """A caller's policy; None means the server's default."""

    require_key_binding: bool = False
    max_key_binding_age_seconds: int | None = None
    allowed_vcts: frozenset[str] = frozenset()
    check_status: bool = True
    clock_skew_seconds: int | None = None

    def check(self) -> None:
        """InvalidArgumentError(POLICY_INVALID) for values outside their bounds."""
        age, skew = self.max_key_binding_age_seconds, self.clock_skew_seconds
        problem = ""
        if age is not None and not 1 <= age <= MAX_KEY_BINDING_AGE_SECONDS:
            problem = f"max_key_binding_age_seconds must be 1 to {MAX_KEY_BINDING_AGE_SECONDS}"
        elif skew is not None and not 0 <= skew <= MAX_CLOCK_SKEW_SECONDS:
            problem = f"clock_skew_seconds must be 0 to {MAX_CLOCK_SKEW_SECONDS}"
        elif len(self.allowed_vcts) > MAX_ALLOWED_VCTS or "" in self.allowed_vcts:
            problem = f"allowed_vcts holds 1 to {MAX_ALLOWED_VCTS} non-empty types"
        if problem:
            raise InvalidArgumentError(problem, reason=Reason.POLICY_INVALID)

    def clock_skew(self, default: int) -> int:
        """The caller's clock skew, or the server's `default` when the caller set none."""
        return default if self.clock_skew_seconds is None else self.clock_skew_seconds

    def key_binding_age(self, default: int) -> int:
        """The caller's KB-JWT age limit, or the server's `default`."""
        age = self.max_key_binding_age_seconds
        return default if age is None else age


@dataclass(frozen=True, kw_only=True)
class VerifyCommand:
    credential: str
    expected_audience: str = ""
    expected_nonce: str = ""
    policy: VerificationPolicy = field(default_factory=VerificationPolicy)
    # mdoc DeviceResponse: the transcript as given, else built from the OpenID4VP fields
    # (expected_audience as client_id, expected_nonce, the response uri and thumbprint).
    mdoc_session_transcript: bytes = b""
    expected_response_uri: str = ""
    expected_jwk_thumbprint: bytes = b""

    def is_mdoc(self) -> bool:
        """An SD-JWT VC always holds a `~`; base64url CBOR never does."""
        return isinstance(self.credential, str) and "~" not in self.credential

    def session_transcript(self) -> bytes:
        """The SessionTranscript a DeviceResponse's device signature must cover.

        InvalidArgumentError (SESSION_TRANSCRIPT_MISSING or _INVALID) when there is none:
        without it no device signature can be checked, and an unchecked one proves nothing.
        """
        if self.mdoc_session_transcript:
            check_session_transcript(self.mdoc_session_transcript)
            return self.mdoc_session_transcript
        if not (self.expected_audience and self.expected_nonce and self.expected_response_uri):
            raise InvalidArgumentError(
                "a DeviceResponse is verified against its session transcript: set "
                "mdoc_session_transcript, or expected_audience (client_id), expected_nonce "
                "and expected_response_uri",
                reason=Reason.SESSION_TRANSCRIPT_MISSING,
            )
        return openid4vp_session_transcript(
            client_id=self.expected_audience,
            nonce=self.expected_nonce,
            response_uri=self.expected_response_uri,
            jwk_thumbprint=self.expected_jwk_thumbprint or None,
        )

    def check_key_binding_request(self) -> None:
        """SD-JWT: InvalidArgumentError (KEY_BINDING_CHECK_INCOMPLETE) when key binding is
        asked for (required, or an audience or a nonce expected) without both an audience
        and a nonce. A KB-JWT held to less proves nothing about this verifier or session:
        one made for any other verifier would pass and could be replayed here.
        """
        asked = self.policy.require_key_binding or self.expected_audience or self.expected_nonce
        if asked and not (self.expected_audience and self.expected_nonce):
            raise InvalidArgumentError(
                "key binding is checked against the verifier and the session: set both "
                "expected_audience and expected_nonce (the KB-JWT's aud and nonce)",
                reason=Reason.KEY_BINDING_CHECK_INCOMPLETE,
            )

    def asks_for_device_authentication(self) -> bool:
        return bool(
            self.policy.require_key_binding
            or self.expected_audience
            or self.expected_nonce
            or self.mdoc_session_transcript
            or self.expected_response_uri
        )
