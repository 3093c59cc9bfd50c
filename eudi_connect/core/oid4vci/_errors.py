"""The error codes a wallet receives, and the one exception that carries them.

The codes are the protocols' own (RFC 6749 section 5.2, RFC 6750 section 3.1, RFC 9449
sections 7.1 and 8, OpenID4VCI 1.0 sections 6.3, 8.3.1.2, 9.3 and 11.3). The HTTP layer
turns a ProtocolError into its status and JSON body in one place; the `reason` (the
registry member named like the code) is what logs and metrics see, as for every other
domain error.
"""

from __future__ import annotations

import enum

from eudi_connect.errors import InvalidArgumentError
from eudi_connect.reasons import Reason


class WalletErrorCode(enum.StrEnum):
    # Token endpoint (RFC 6749 section 5.2)
    INVALID_REQUEST = "invalid_request"
    INVALID_CLIENT = "invalid_client"
    INVALID_GRANT = "invalid_grant"
    UNSUPPORTED_GRANT_TYPE = "unsupported_grant_type"
    # Protected resources (RFC 6750 section 3.1, RFC 9449 section 7.1)
    INVALID_TOKEN = "invalid_token"  # noqa: S105 an error code, not a secret
    INVALID_DPOP_PROOF = "invalid_dpop_proof"
    USE_DPOP_NONCE = "use_dpop_nonce"
    # Credential endpoint (OpenID4VCI 1.0 section 8.3.1.2)
    INVALID_CREDENTIAL_REQUEST = "invalid_credential_request"
    UNKNOWN_CREDENTIAL_CONFIGURATION = "unknown_credential_configuration"
    UNKNOWN_CREDENTIAL_IDENTIFIER = "unknown_credential_identifier"
    INVALID_PROOF = "invalid_proof"
    INVALID_NONCE = "invalid_nonce"
    INVALID_ENCRYPTION_PARAMETERS = "invalid_encryption_parameters"
    CREDENTIAL_REQUEST_DENIED = "credential_request_denied"
    # Deferred credential endpoint (section 9.3)
    INVALID_TRANSACTION_ID = "invalid_transaction_id"
    # Notification endpoint (section 11.3)
    INVALID_NOTIFICATION_ID = "invalid_notification_id"
    INVALID_NOTIFICATION_REQUEST = "invalid_notification_request"


def _description_text(text: str) -> str:
    """`error_description` may only hold %x20-21 / %x23-5B / %x5D-7E (RFC 6749 section
    5.2): no quote, no backslash, nothing outside printable ASCII."""
    return "".join(c if 0x20 <= ord(c) <= 0x7E and c not in '"\\' else "?" for c in text)


class ProtocolError(InvalidArgumentError):
    """A wallet request that the protocol refuses, with the code the wallet is told."""

    def __init__(self, code: WalletErrorCode, description: str) -> None:
        super().__init__(_description_text(description), reason=Reason[code.name])
        self.code = code
