"""OpenID for Verifiable Presentations 1.0, the verifier's side: pure functions only.

DCQL queries and the check that presentations answer them, the signed request object
(JAR) and its `openid4vp://` URI, client identifiers bound to the verifier's certificate,
encrypted responses (ECDH-ES, AES-GCM), the response at the response URI, and the mdoc
session transcript of a request. No I/O, no clock, no store: the services feed them.
"""

from ._errors import ErrorCode, ProtocolError
from .claims_path import ClaimPath, ConcretePath
from .client_id import (
    ClientIdPrefix,
    VerifierIdentityError,
    check_client_id,
    client_id_for,
    split_client_id,
    x509_hash,
)
from .dcql import (
    ClaimQuery,
    CredentialQuery,
    CredentialSetQuery,
    DcqlError,
    DcqlQuery,
    TrustedAuthority,
    parse_dcql,
)
from .dcql_match import (
    CredentialMatch,
    MatchFailure,
    Presented,
    QueryMatch,
    disclosed_paths,
    match_query,
)
from .jwe import (
    DEFAULT_ENC_VALUES,
    JweError,
    ResponseEncryptionKey,
    decrypt_jwe,
    decrypt_response,
    encrypt_jwe,
)
from .request_object import (
    REQUEST_OBJECT_TYP,
    STATIC_WALLET_AUDIENCE,
    VP_FORMATS_SUPPORTED,
    AuthorizationRequest,
    ResponseMode,
    authorization_request_uri,
    encode_transaction_data,
    random_value,
    sign_request_object,
)
from .request_uri import RequestUriPost, negotiate_enc_values, parse_request_uri_post
from .response import (
    AuthorizationResponse,
    WalletError,
    check_vp_token_ids,
    parse_response,
    parse_vp_token,
)
from .transcript import (
    dc_api_audience,
    dc_api_session_transcript,
    redirect_session_transcript,
    thumbprint_bytes,
)

__all__ = [
    "DEFAULT_ENC_VALUES",
    "REQUEST_OBJECT_TYP",
    "STATIC_WALLET_AUDIENCE",
    "VP_FORMATS_SUPPORTED",
    "AuthorizationRequest",
    "AuthorizationResponse",
    "ClaimPath",
    "ClaimQuery",
    "ClientIdPrefix",
    "ConcretePath",
    "CredentialMatch",
    "CredentialQuery",
    "CredentialSetQuery",
    "DcqlError",
    "DcqlQuery",
    "ErrorCode",
    "JweError",
    "MatchFailure",
    "Presented",
    "ProtocolError",
    "QueryMatch",
    "RequestUriPost",
    "ResponseEncryptionKey",
    "ResponseMode",
    "TrustedAuthority",
    "VerifierIdentityError",
    "WalletError",
    "authorization_request_uri",
    "check_client_id",
    "check_vp_token_ids",
    "client_id_for",
    "dc_api_audience",
    "dc_api_session_transcript",
    "decrypt_jwe",
    "decrypt_response",
    "disclosed_paths",
    "encode_transaction_data",
    "encrypt_jwe",
    "match_query",
    "negotiate_enc_values",
    "parse_dcql",
    "parse_request_uri_post",
    "parse_response",
    "parse_vp_token",
    "random_value",
    "redirect_session_transcript",
    "sign_request_object",
    "split_client_id",
    "thumbprint_bytes",
    "x509_hash",
]
