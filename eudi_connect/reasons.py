"""Every reason the service reports in `google.rpc.ErrorInfo.reason`, each with its meaning.

A domain error (`eudi_connect.errors`) takes a `Reason` member, never a string, so a
reason cannot be misspelt and every one is listed here once; the wire value is the
member's value (a StrEnum, equal to its name). The README's table of reasons is generated
from this module (`python -m eudi_connect.devtools.reasons`) and a test keeps the two equal.

Other vocabularies stay where their specification puts them and are not reasons:
`VerificationFailureReason` (core.verdicts) is the answer of a verification that ran, not
an error; `MatchFailure` (core.oid4vp.dcql_match) is how a presentation missed a DCQL
query; `StatusListProblem` (core.status_list) is why a status list token was refused,
which becomes a VerificationFailure. The wallet protocols' own error codes
(`WalletErrorCode` of OpenID4VCI, `ErrorCode` of OpenID4VP) go to the wallet in the
JSON body; a ProtocolError reports the code's name here unless it has a finer reason, so
every code has its member below.

Only the standard library is imported: every layer, the core included, uses this module.

One module on purpose although it is over 400 lines: it is one registry, each reason
with its meaning beside it, and splitting it would let two parts name the same reason.
"""

from __future__ import annotations

import enum


class Reason(enum.StrEnum):
    """A stable UPPER_SNAKE reason; `meaning` says in one line when it is given."""

    meaning: str

    def __new__(cls, value: str, meaning: str) -> Reason:
        member = str.__new__(cls, value)
        member._value_ = value
        member.meaning = meaning
        return member

    # The defaults of the error classes, for an error with no finer reason
    INTERNAL = "INTERNAL", "the server failed; its log has the details"
    INVALID_ARGUMENT = "INVALID_ARGUMENT", "the request is wrong and cannot succeed unchanged"
    NOT_FOUND = "NOT_FOUND", "the named thing does not exist for this tenant"
    ALREADY_EXISTS = "ALREADY_EXISTS", "a record with this identity exists already"
    FAILED_PRECONDITION = "FAILED_PRECONDITION", "the thing's state forbids the operation"
    ABORTED = "ABORTED", "a concurrent change won; read again and retry"
    UNAUTHENTICATED = "UNAUTHENTICATED", "the caller could not be authenticated"
    PERMISSION_DENIED = "PERMISSION_DENIED", "the caller may not do this"
    RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED", "a size, count or rate limit was reached"
    UNAVAILABLE = "UNAVAILABLE", "a dependency cannot serve now; the request may succeed later"
    CONFIGURATION = "CONFIGURATION", "the service cannot run as configured"

    # Requests in general
    MALFORMED_REQUEST = (
        "MALFORMED_REQUEST",
        "the request bytes are no valid message (corrupt, bad UTF-8, nested too deep)",
    )
    ENUM_VALUE_INVALID = "ENUM_VALUE_INVALID", "an enum field holds a number it does not define"
    REQUEST_ID_INVALID = "REQUEST_ID_INVALID", "request_id is longer than allowed"
    BATCH_TOO_LARGE = "BATCH_TOO_LARGE", "a batch holds more items than one call may"
    PAGE_SIZE_INVALID = "PAGE_SIZE_INVALID", "page_size is negative or above the maximum"
    PAGE_TOKEN_INVALID = (
        "PAGE_TOKEN_INVALID",
        "page_token was not issued by this service or for these list parameters",
    )

    # Tenants and API keys
    TENANT_EXISTS = "TENANT_EXISTS", "a tenant with this id exists already"
    TENANT_NOT_FOUND = "TENANT_NOT_FOUND", "no tenant has this id"
    TENANT_NAME_INVALID = "TENANT_NAME_INVALID", "the tenant name is empty or too long"
    TENANT_MISMATCH = "TENANT_MISMATCH", "the API key belongs to another tenant"
    API_KEY_MISSING = "API_KEY_MISSING", "no API key was sent in the x-api-key metadata"
    API_KEY_INVALID = "API_KEY_INVALID", "the API key is malformed or not one of a tenant's"
    API_KEY_EXPIRED = "API_KEY_EXPIRED", "the API key is past its expiry"
    API_KEY_REVOKED = "API_KEY_REVOKED", "the API key was revoked"
    API_KEY_EXISTS = "API_KEY_EXISTS", "an API key with this id exists already"
    API_KEY_NOT_FOUND = "API_KEY_NOT_FOUND", "the tenant has no API key with this id"
    API_KEY_ID_INVALID = "API_KEY_ID_INVALID", "an API key id is not 16 lowercase hex digits"
    API_KEY_LABEL_INVALID = "API_KEY_LABEL_INVALID", "an API key label is too long or unprintable"
    API_KEY_EXPIRY_INVALID = (
        "API_KEY_EXPIRY_INVALID",
        "an API key expiry is no duration, in the past or too far ahead",
    )
    API_KEY_LIMIT = "API_KEY_LIMIT", "the tenant has as many live API keys as allowed"
    AUTH_RATE_LIMITED = "AUTH_RATE_LIMITED", "too many failed authentications from this peer"

    # Issuer keys, the master key and the issuer CA
    HSM_UNAVAILABLE = (
        "HSM_UNAVAILABLE",
        "the key's token failed (session lost, device error, token removed)",
    )
    HSM_PIN_INCORRECT = "HSM_PIN_INCORRECT", "the token refused the PIN, or it is locked"
    HSM_PIN_MISSING = "HSM_PIN_MISSING", "the PIN file or variable is unset, empty or unreadable"
    HSM_TOKEN_NOT_FOUND = "HSM_TOKEN_NOT_FOUND", "no token with the configured label or slot"
    HSM_KEY_NOT_FOUND = "HSM_KEY_NOT_FOUND", "the token has no key with the stored id"
    HSM_MODULE = "HSM_MODULE", "the PKCS#11 module cannot be loaded"
    HSM_NOT_INSTALLED = "HSM_NOT_INSTALLED", "python-pkcs11 is not installed (the hsm extra)"
    HSM_CONFIG = (
        "HSM_CONFIG",
        "token settings lack a module, a token or slot, or exactly one PIN source",
    )
    KEY_PURPOSE_INVALID = "KEY_PURPOSE_INVALID", "a key purpose is neither credential nor status"
    KEY_BACKEND_INVALID = "KEY_BACKEND_INVALID", "a key backend is neither software nor pkcs11"
    KEY_MAX_AGE_INVALID = "KEY_MAX_AGE_INVALID", "a maximum key age is not positive"
    ISSUER_KEY_EXISTS = "ISSUER_KEY_EXISTS", "an issuer key with this id exists already"
    ISSUER_KEY_NOT_FOUND = "ISSUER_KEY_NOT_FOUND", "the issuer key does not exist"
    ISSUER_KEY_RACE = "ISSUER_KEY_RACE", "the tenant's active issuer key changed concurrently"
    KEY_RETIRED = "KEY_RETIRED", "a new issuer key cannot be stored as retired"
    INVALID_ISSUER_KEY = "INVALID_ISSUER_KEY", "a stored issuer key is not a P-256 key"
    INVALID_MASTER_KEY = (
        "INVALID_MASTER_KEY",
        "the master key or its file is not 32 bytes in base64url",
    )
    MASTER_KEY_MISMATCH = (
        "MASTER_KEY_MISMATCH",
        "stored keys do not decrypt with this master key (not the one they were written with)",
    )
    MASTER_KEY_REQUIRED = "MASTER_KEY_REQUIRED", "a PostgreSQL store needs a master key"
    ISSUER_CA_INVALID = (
        "ISSUER_CA_INVALID",
        "the issuer CA certificate or key is unreadable, not P-256 or not a pair",
    )
    ISSUER_COUNTRY_INVALID = (
        "ISSUER_COUNTRY_INVALID",
        "the issuer country is not an ISO 3166-1 alpha-2 code",
    )
    CERTIFICATE_KEY_MISMATCH = (
        "CERTIFICATE_KEY_MISMATCH",
        "the issuer certificate is not for the signing key",
    )
    INVALID_JWK = "INVALID_JWK", "a JWK is not a usable P-256 public key"

    # Issuance: subjects, formats and claims
    SUBJECT_FIELD_MISSING = "SUBJECT_FIELD_MISSING", "the subject lacks a field the template needs"
    SUBJECT_FIELD_INVALID = "SUBJECT_FIELD_INVALID", "a subject field has the wrong type or format"
    SUBJECT_INVALID = "SUBJECT_INVALID", "the subject holds a value JSON cannot carry"
    SUBJECT_TOO_DEEP = "SUBJECT_TOO_DEEP", "the subject is nested deeper than allowed"
    SUBJECT_TOO_LARGE = "SUBJECT_TOO_LARGE", "the subject holds more values than allowed"
    FORMAT_UNSUPPORTED = (
        "FORMAT_UNSUPPORTED",
        "the credential format is not one this service issues",
    )
    FORMAT_NOT_OFFERED = "FORMAT_NOT_OFFERED", "the template cannot be issued in this format"
    HOLDER_KEY_REQUIRED = (
        "HOLDER_KEY_REQUIRED",
        "the credential needs a holder key and none was given",
    )
    CLAIMS_INVALID = "CLAIMS_INVALID", "the template rendered claims that cannot be issued"
    VALIDITY_OUT_OF_RANGE = (
        "VALIDITY_OUT_OF_RANGE",
        "the credential's validity is negative, too long or past what the format can carry",
    )
    INVALID_MDOC_INPUT = "INVALID_MDOC_INPUT", "claims, key or validity cannot become an mdoc"

    # Templates
    TEMPLATE_NOT_FOUND = "TEMPLATE_NOT_FOUND", "the tenant has no template with this id"
    TEMPLATE_EXISTS = "TEMPLATE_EXISTS", "the tenant has a template with this id already"
    TEMPLATE_ID_MISSING = "TEMPLATE_ID_MISSING", "template_id is empty"
    TEMPLATE_ID_INVALID = "TEMPLATE_ID_INVALID", "template_id is too long or has other characters"
    TEMPLATE_ID_RESERVED = "TEMPLATE_ID_RESERVED", "the id is a built-in template's"
    TEMPLATE_READ_ONLY = "TEMPLATE_READ_ONLY", "a built-in template cannot be changed or deleted"
    TEMPLATE_INVALID = "TEMPLATE_INVALID", "the template definition can never issue a credential"
    TEMPLATE_SPEC_MISSING = (
        "TEMPLATE_SPEC_MISSING",
        "a template needs a credential or notification spec",
    )
    TEMPLATE_KIND_MISMATCH = (
        "TEMPLATE_KIND_MISMATCH",
        "a notification template was named where a credential template is needed",
    )
    TEMPLATE_KIND_IMMUTABLE = "TEMPLATE_KIND_IMMUTABLE", "an update cannot change a template's kind"
    TEMPLATE_FORMAT_UNSUPPORTED = (
        "TEMPLATE_FORMAT_UNSUPPORTED",
        "the template's kind does not render this output format",
    )
    TEMPLATE_FORMAT_UNAVAILABLE = (
        "TEMPLATE_FORMAT_UNAVAILABLE",
        "the template has no body for the requested format",
    )
    TEMPLATE_SYNTAX_ERROR = "TEMPLATE_SYNTAX_ERROR", "a template body does not parse"
    TEMPLATE_UNDEFINED_VARIABLE = (
        "TEMPLATE_UNDEFINED_VARIABLE",
        "a template body uses a variable its data_schema does not declare",
    )
    TEMPLATE_SANDBOX_VIOLATION = (
        "TEMPLATE_SANDBOX_VIOLATION",
        "a template body reaches for something the sandbox forbids",
    )
    TEMPLATE_QUOTED_OUTPUT = (
        "TEMPLATE_QUOTED_OUTPUT",
        "a {{ ... }} output is wrapped in quotes of its own",
    )
    TEMPLATE_LIMIT_EXCEEDED = (
        "TEMPLATE_LIMIT_EXCEEDED",
        "a render went past a sandbox bound (loop count, items, integer size, time)",
    )
    TEMPLATE_OUTPUT_TOO_LARGE = "TEMPLATE_OUTPUT_TOO_LARGE", "a render wrote more text than allowed"
    TEMPLATE_RENDER_FAILED = (
        "TEMPLATE_RENDER_FAILED",
        "rendering the template for this subject failed",
    )
    TEMPLATE_RESERVED_CLAIM = (
        "TEMPLATE_RESERVED_CLAIM",
        "the template rendered a reserved claim name",
    )
    TEMPLATE_ETAG_MISMATCH = (
        "TEMPLATE_ETAG_MISMATCH",
        "the template changed since its etag was read",
    )
    ETAG_MISSING = "ETAG_MISSING", "the change needs the etag of the version it replaces"
    ETAG_INVALID = "ETAG_INVALID", "the etag was not issued by this service"
    RENDER_BUDGET_EXHAUSTED = (
        "RENDER_BUDGET_EXHAUSTED",
        "the renders of one call used up its CPU time budget",
    )
    TEMPLATE_WORKER_STOPPED = (
        "TEMPLATE_WORKER_STOPPED",
        "a template worker process stopped mid-call",
    )

    # Credentials and their status
    CREDENTIAL_ID_MISSING = "CREDENTIAL_ID_MISSING", "credential_id is empty"
    CREDENTIAL_ID_INVALID = "CREDENTIAL_ID_INVALID", "credential_id is not a credential id"
    CREDENTIAL_NOT_FOUND = "CREDENTIAL_NOT_FOUND", "the tenant has no credential with this id"
    CREDENTIAL_EXISTS = "CREDENTIAL_EXISTS", "a credential with this id exists already"
    CREDENTIAL_REVOKED = "CREDENTIAL_REVOKED", "the credential is revoked, which is final"
    STATUS_TRANSITION_NOT_ALLOWED = (
        "STATUS_TRANSITION_NOT_ALLOWED",
        "the credential's status cannot change that way",
    )
    REASON_TOO_LONG = "REASON_TOO_LONG", "the reason given for a status change is too long"
    STATUS_RACE = "STATUS_RACE", "the credential's status changed concurrently"
    STATUS_INDEX_TAKEN = "STATUS_INDEX_TAKEN", "a status list index was handed out twice (a bug)"
    STATUS_LIST_EXISTS = "STATUS_LIST_EXISTS", "a status list with this id exists already"
    STATUS_LIST_NOT_FOUND = "STATUS_LIST_NOT_FOUND", "no status list has this id for this tenant"
    INVALID_LEASE = "INVALID_LEASE", "a lease of status list positions has wrong arguments"

    # Verification requests
    POLICY_INVALID = "POLICY_INVALID", "the verification policy is out of its bounds"
    KEY_BINDING_CHECK_INCOMPLETE = (
        "KEY_BINDING_CHECK_INCOMPLETE",
        "key binding needs both expected_audience and expected_nonce",
    )
    SESSION_TRANSCRIPT_MISSING = (
        "SESSION_TRANSCRIPT_MISSING",
        "an mdoc presentation needs a session transcript or what builds one",
    )
    SESSION_TRANSCRIPT_INVALID = (
        "SESSION_TRANSCRIPT_INVALID",
        "the mdoc session transcript or its inputs are malformed",
    )

    # Trust configuration
    ISSUER_INVALID = "ISSUER_INVALID", "the trusted issuer identifier is empty or too long"
    TRUSTED_ISSUER_KEYS_REQUIRED = (
        "TRUSTED_ISSUER_KEYS_REQUIRED",
        "a trusted issuer needs exactly one of jwks and jwks_uri",
    )
    JWKS_INVALID = "JWKS_INVALID", "jwks is not a JSON Web Key Set of usable keys"
    JWKS_URI_INVALID = "JWKS_URI_INVALID", "jwks_uri is not a URL the service may fetch"
    TRUST_ANCHOR_INVALID = "TRUST_ANCHOR_INVALID", "the trust anchor is not a usable CA certificate"
    TRUSTED_ISSUER_EXISTS = "TRUSTED_ISSUER_EXISTS", "the issuer is trusted already"
    TRUST_ANCHOR_EXISTS = "TRUST_ANCHOR_EXISTS", "the trust anchor is configured already"
    TRUSTED_ISSUER_NOT_FOUND = "TRUSTED_ISSUER_NOT_FOUND", "no such trusted issuer is configured"
    TRUST_ANCHOR_NOT_FOUND = "TRUST_ANCHOR_NOT_FOUND", "no such trust anchor is configured"
    TRUST_ENTRY_EXISTS = "TRUST_ENTRY_EXISTS", "the store has this trust entry already"
    TRUST_ENTRIES_LIMIT = "TRUST_ENTRIES_LIMIT", "the tenant has as many trust entries as allowed"

    # OpenID4VCI credential offers and the wallet policy
    OFFER_NOT_FOUND = "OFFER_NOT_FOUND", "the tenant has no offer with this id"
    OFFER_ISSUER_NOT_HTTPS = (
        "OFFER_ISSUER_NOT_HTTPS",
        "offers need an https Credential Issuer URL (http only on loopback)",
    )
    OFFER_CREDENTIALS_MISSING = "OFFER_CREDENTIALS_MISSING", "an offer names no credential"
    OFFER_CREDENTIALS_REPEATED = (
        "OFFER_CREDENTIALS_REPEATED",
        "an offer names the same credential and format twice",
    )
    OFFER_TOO_LARGE = "OFFER_TOO_LARGE", "an offer names more credentials than allowed"
    OFFER_COPIES_INVALID = "OFFER_COPIES_INVALID", "max_copies is outside the allowed range"
    OFFER_LIFETIME_INVALID = (
        "OFFER_LIFETIME_INVALID",
        "lifetime_seconds is outside the allowed range",
    )
    OFFER_SUBJECT_INVALID = (
        "OFFER_SUBJECT_INVALID",
        "an offer needs its subject unless it is deferred",
    )
    OFFER_OUTCOME_MISSING = (
        "OFFER_OUTCOME_MISSING",
        "completing an offer needs the subject or a failure reason, one of them",
    )
    OFFER_NOT_DEFERRED = "OFFER_NOT_DEFERRED", "the offer is not deferred"
    OFFER_NOT_PENDING = "OFFER_NOT_PENDING", "the deferred offer is not waiting for its subject"
    OFFER_FINAL = "OFFER_FINAL", "the offer is in a final state"
    OFFER_BUSY = "OFFER_BUSY", "the offer changed too often to update; retry"
    INVALID_CREDENTIAL_OFFER = (
        "INVALID_CREDENTIAL_OFFER",
        "a credential offer names no or repeated credential configurations",
    )
    INVALID_TX_CODE_POLICY = (
        "INVALID_TX_CODE_POLICY",
        "the transaction code's length or input mode is not allowed",
    )
    WALLET_POLICY_CERTIFICATE_INVALID = (
        "WALLET_POLICY_CERTIFICATE_INVALID",
        "a wallet provider certificate is too large or no usable CA certificate",
    )
    WALLET_POLICY_JWKS_INVALID = (
        "WALLET_POLICY_JWKS_INVALID",
        "wallet_provider_jwks is too long or no usable JWK Set",
    )
    WALLET_POLICY_LEVEL_INVALID = (
        "WALLET_POLICY_LEVEL_INVALID",
        "a key storage or user authentication level is unknown or too many are given",
    )
    WALLET_POLICY_LEVELS_WITHOUT_ATTESTATION = (
        "WALLET_POLICY_LEVELS_WITHOUT_ATTESTATION",
        "levels are given without requiring key attestations",
    )
    WALLET_POLICY_TRUST_MISSING = (
        "WALLET_POLICY_TRUST_MISSING",
        "a policy requiring attestations names no trusted wallet provider",
    )

    # OpenID4VCI / OAuth error codes (WalletErrorCode names), told to the wallet too
    INVALID_REQUEST = "INVALID_REQUEST", "the wallet's request is malformed (OAuth invalid_request)"
    INVALID_CLIENT = "INVALID_CLIENT", "the wallet's client authentication failed (invalid_client)"
    INVALID_GRANT = (
        "INVALID_GRANT",
        "the pre-authorized code or tx_code is wrong, used or expired (invalid_grant)",
    )
    UNSUPPORTED_GRANT_TYPE = (
        "UNSUPPORTED_GRANT_TYPE",
        "the grant type is not the pre-authorized code (unsupported_grant_type)",
    )
    INVALID_TOKEN = (
        "INVALID_TOKEN",
        "the access token is missing, unknown or expired (invalid_token)",
    )
    INVALID_DPOP_PROOF = (
        "INVALID_DPOP_PROOF",
        "the DPoP proof is missing or wrong (invalid_dpop_proof)",
    )
    USE_DPOP_NONCE = "USE_DPOP_NONCE", "the DPoP proof must carry the nonce the server gives"
    INVALID_CREDENTIAL_REQUEST = (
        "INVALID_CREDENTIAL_REQUEST",
        "the credential request is malformed (invalid_credential_request)",
    )
    UNKNOWN_CREDENTIAL_CONFIGURATION = (
        "UNKNOWN_CREDENTIAL_CONFIGURATION",
        "the credential configuration is not in this offer (unknown_credential_configuration)",
    )
    UNKNOWN_CREDENTIAL_IDENTIFIER = (
        "UNKNOWN_CREDENTIAL_IDENTIFIER",
        "the credential identifier is not in this token (unknown_credential_identifier)",
    )
    INVALID_PROOF = "INVALID_PROOF", "the key proof is missing or wrong (invalid_proof)"
    INVALID_NONCE = "INVALID_NONCE", "the key proof's c_nonce is unknown or expired (invalid_nonce)"
    INVALID_ENCRYPTION_PARAMETERS = (
        "INVALID_ENCRYPTION_PARAMETERS",
        "response encryption was asked for and is not offered (invalid_encryption_parameters)",
    )
    CREDENTIAL_REQUEST_DENIED = (
        "CREDENTIAL_REQUEST_DENIED",
        "the issuer will not issue this credential (credential_request_denied)",
    )
    INVALID_TRANSACTION_ID = (
        "INVALID_TRANSACTION_ID",
        "the deferred transaction_id is unknown or not pending (invalid_transaction_id)",
    )
    INVALID_NOTIFICATION_ID = (
        "INVALID_NOTIFICATION_ID",
        "the notification_id is unknown (invalid_notification_id)",
    )
    INVALID_NOTIFICATION_REQUEST = (
        "INVALID_NOTIFICATION_REQUEST",
        "the notification request is malformed (invalid_notification_request)",
    )

    # OpenID4VP / OAuth authorization error codes (ErrorCode names)
    UNAUTHORIZED_CLIENT = (
        "UNAUTHORIZED_CLIENT",
        "the client may not make this request (unauthorized_client)",
    )
    ACCESS_DENIED = "ACCESS_DENIED", "the request was denied (access_denied)"
    UNSUPPORTED_RESPONSE_TYPE = (
        "UNSUPPORTED_RESPONSE_TYPE",
        "the response type is not supported (unsupported_response_type)",
    )
    INVALID_SCOPE = "INVALID_SCOPE", "the scope is unknown or malformed (invalid_scope)"
    SERVER_ERROR = "SERVER_ERROR", "the authorization server failed (server_error)"
    TEMPORARILY_UNAVAILABLE = (
        "TEMPORARILY_UNAVAILABLE",
        "the authorization server cannot serve now (temporarily_unavailable)",
    )
    INVALID_REQUEST_URI = (
        "INVALID_REQUEST_URI",
        "the request_uri is not usable (invalid_request_uri)",
    )
    INVALID_REQUEST_OBJECT = (
        "INVALID_REQUEST_OBJECT",
        "the request object is malformed or its signature fails (invalid_request_object)",
    )
    REQUEST_NOT_SUPPORTED = (
        "REQUEST_NOT_SUPPORTED",
        "request objects by value are not supported (request_not_supported)",
    )
    REQUEST_URI_NOT_SUPPORTED = (
        "REQUEST_URI_NOT_SUPPORTED",
        "request objects by reference are not supported (request_uri_not_supported)",
    )
    VP_FORMATS_NOT_SUPPORTED = (
        "VP_FORMATS_NOT_SUPPORTED",
        "none of the requested credential formats is supported (vp_formats_not_supported)",
    )
    INVALID_REQUEST_URI_METHOD = (
        "INVALID_REQUEST_URI_METHOD",
        "the request_uri_method is neither get nor post (invalid_request_uri_method)",
    )
    INVALID_TRANSACTION_DATA = (
        "INVALID_TRANSACTION_DATA",
        "the transaction data cannot be processed (invalid_transaction_data)",
    )
    WALLET_UNAVAILABLE = "WALLET_UNAVAILABLE", "the wallet cannot answer now (wallet_unavailable)"

    # OpenID4VP: the verifier's requests and the wallets' responses
    DCQL_INVALID = "DCQL_INVALID", "the DCQL query breaks OpenID4VP section 6"
    CLIENT_ID_INVALID = (
        "CLIENT_ID_INVALID",
        "client_id is not x509_san_dns:<name> or x509_hash:<hash>",
    )
    VERIFIER_IDENTITY_INVALID = (
        "VERIFIER_IDENTITY_INVALID",
        "the verifier's certificate does not name the client identifier",
    )
    RESPONSE_URI_INVALID = (
        "RESPONSE_URI_INVALID",
        "response_uri is not https on the client's DNS name",
    )
    REQUEST_INVALID = "REQUEST_INVALID", "the authorization request's parameters are wrong"
    TRANSACTION_DATA_INVALID = (
        "TRANSACTION_DATA_INVALID",
        "a transaction data entry is malformed, too large or unbound",
    )
    ORIGIN_INVALID = "ORIGIN_INVALID", "the Digital Credentials API origin is not a bare web origin"
    WALLET_METADATA_INVALID = (
        "WALLET_METADATA_INVALID",
        "wallet_metadata is too large or not a JSON object",
    )
    WALLET_NONCE_INVALID = "WALLET_NONCE_INVALID", "wallet_nonce is empty, too long or unprintable"
    CLIENT_ID_PREFIX_UNSUPPORTED = (
        "CLIENT_ID_PREFIX_UNSUPPORTED",
        "the wallet does not support the client identifier prefix",
    )
    REQUEST_SIGNING_UNSUPPORTED = (
        "REQUEST_SIGNING_UNSUPPORTED",
        "the wallet does not support ES256 request object signatures",
    )
    RESPONSE_MODE_UNSUPPORTED = (
        "RESPONSE_MODE_UNSUPPORTED",
        "the wallet does not support the response mode",
    )
    ENCRYPTION_UNSUPPORTED = (
        "ENCRYPTION_UNSUPPORTED",
        "the wallet supports none of the response encryptions asked for",
    )
    RESPONSE_MODE_MISMATCH = (
        "RESPONSE_MODE_MISMATCH",
        "an encrypted response came for a request that asked for none",
    )
    ENCRYPTION_REQUIRED = "ENCRYPTION_REQUIRED", "the request asked for an encrypted response"
    STATE_MISMATCH = "STATE_MISMATCH", "the response's state is not the request's"
    RESPONSE_INVALID = "RESPONSE_INVALID", "the authorization response's fields are malformed"
    VP_TOKEN_MISSING = "VP_TOKEN_MISSING", "the response holds neither vp_token nor error"
    VP_TOKEN_INVALID = "VP_TOKEN_INVALID", "vp_token is not an object of presentation arrays"
    CREDENTIAL_NOT_REQUESTED = (
        "CREDENTIAL_NOT_REQUESTED",
        "vp_token holds a credential id the query does not name",
    )
    TOO_MANY_PRESENTATIONS = (
        "TOO_MANY_PRESENTATIONS",
        "vp_token holds several presentations where the query allows one",
    )
    JWE_MALFORMED = "JWE_MALFORMED", "the encrypted response is no well-formed compact JWE"
    JWE_TOO_LARGE = "JWE_TOO_LARGE", "the encrypted response is larger than allowed"
    JWE_ALGORITHM_NOT_ALLOWED = (
        "JWE_ALGORITHM_NOT_ALLOWED",
        "the JWE's alg or enc is not one the request allows",
    )
    JWE_KEY_MISMATCH = "JWE_KEY_MISMATCH", "the JWE names another key than the request's"
    JWE_DECRYPTION_FAILED = (
        "JWE_DECRYPTION_FAILED",
        "the JWE does not decrypt with the request's key",
    )
    CLIENT_ID_PREFIX_INVALID = (
        "CLIENT_ID_PREFIX_INVALID",
        "client_id_prefix is neither x509_san_dns nor x509_hash",
    )
    RESPONSE_MODE_INVALID = (
        "RESPONSE_MODE_INVALID",
        "response_mode is none of direct_post.jwt, direct_post, dc_api.jwt, dc_api",
    )
    PRESENTATION_LIFETIME_INVALID = (
        "PRESENTATION_LIFETIME_INVALID",
        "the presentation request's lifetime is outside 1 to 3600 seconds",
    )
    REDIRECT_URI_INVALID = (
        "REDIRECT_URI_INVALID",
        "redirect_uri is not https (http only on loopback) or has a fragment",
    )
    REQUEST_URI_METHOD_INVALID = (
        "REQUEST_URI_METHOD_INVALID",
        "request_uri_method is neither get nor post",
    )
    TRANSACTION_DATA_UNSUPPORTED = (
        "TRANSACTION_DATA_UNSUPPORTED",
        "transaction data for an mdoc, or a hash algorithm other than sha-256",
    )
    JSON_INVALID = "JSON_INVALID", "JSON text does not parse, or holds NaN or Infinity"
    VERIFIER_DNS_NAME_INVALID = (
        "VERIFIER_DNS_NAME_INVALID",
        "the verifier DNS name is not a host name",
    )
    VERIFIER_DNS_NAME_MISMATCH = (
        "VERIFIER_DNS_NAME_MISMATCH",
        "with x509_san_dns, the verifier DNS name is not the response URI's host",
    )
    VERIFIER_URL_NOT_HTTPS = (
        "VERIFIER_URL_NOT_HTTPS",
        "the tenant's response URI would not be https",
    )
    VERIFICATION_ABANDONED = (
        "VERIFICATION_ABANDONED",
        "the instance verifying a presentation response stopped before it finished",
    )
    VERIFICATION_TIMEOUT = (
        "VERIFICATION_TIMEOUT",
        "a presentation response was not verified within the verification time limit",
    )
    VERIFIER_IDENTITY_RETIRED = (
        "VERIFIER_IDENTITY_RETIRED",
        "the verifier identity a request was made with is no longer kept",
    )
    PRESENTATION_NOT_FOUND = (
        "PRESENTATION_NOT_FOUND",
        "no presentation transaction with this id for this tenant",
    )
    ORIGIN_NOT_EXPECTED = (
        "ORIGIN_NOT_EXPECTED",
        "the Digital Credentials API origin is not one the request allows",
    )
    REQUEST_EXPIRED = "REQUEST_EXPIRED", "the presentation request's lifetime is over"
    RESPONSE_ALREADY_RECEIVED = (
        "RESPONSE_ALREADY_RECEIVED",
        "a response to this request was accepted already (a replay, or a race lost)",
    )
    REQUEST_CLOSED = "REQUEST_CLOSED", "the presentation request has ended and is no longer served"
    REQUEST_URI_NOT_SERVED = (
        "REQUEST_URI_NOT_SERVED",
        "a Digital Credentials API request has no request URI",
    )
    REQUEST_URI_METHOD_NOT_ALLOWED = (
        "REQUEST_URI_METHOD_NOT_ALLOWED",
        "a POST to a request URI of a request made for GET",
    )
    PRESENTATION_INVALID = (
        "PRESENTATION_INVALID",
        "a presentation in the response failed verification",
    )
    DCQL_QUERY_NOT_SATISFIED = (
        "DCQL_QUERY_NOT_SATISFIED",
        "the presentations lack a credential or claim the DCQL query requires",
    )
    VERIFICATION_ERROR = (
        "VERIFICATION_ERROR",
        "the presentations could not be verified at all (an error, not a verdict)",
    )
    PRESENTATION_FAILED = "PRESENTATION_FAILED", "the response was not accepted"
    BODY_NOT_FORM = (
        "BODY_NOT_FORM",
        "the HTTP body is not a UTF-8 application/x-www-form-urlencoded form",
    )
    BODY_TOO_LARGE = "BODY_TOO_LARGE", "the HTTP body is larger than the endpoint accepts"
    PARAMETER_REPEATED = "PARAMETER_REPEATED", "a form parameter appears more than once"

    # The store and the server's start
    STORE_UNAVAILABLE = "STORE_UNAVAILABLE", "the database cannot serve now or is closed"
    STORE_CONFLICT = "STORE_CONFLICT", "the database aborted a concurrent change; retry"
    STORE_RACE = "STORE_RACE", "a setting was written concurrently; retry"
    INVALID_RECORD = "INVALID_RECORD", "a value is one the database schema cannot hold"
    DATABASE_URL = "DATABASE_URL", "the database URL is empty, unknown or malformed"
    DATABASE_PATH = "DATABASE_PATH", "the SQLite file or its folder cannot be created"
    DATABASE_UNUSABLE = "DATABASE_UNUSABLE", "the database refused the connection or cannot be used"
    SQLITE_TOO_OLD = "SQLITE_TOO_OLD", "the SQLite library is older than the store needs"
    SQLITE_NO_WAL = "SQLITE_NO_WAL", "the SQLite database cannot use WAL journaling"
    MIGRATION_INVALID = (
        "MIGRATION_INVALID",
        "migration files are misnamed, have gaps or are missing",
    )
    MIGRATION_CHANGED = "MIGRATION_CHANGED", "an applied migration was edited afterwards"
    MIGRATION_FAILED = "MIGRATION_FAILED", "a migration failed to apply"
    SCHEMA_TOO_NEW = "SCHEMA_TOO_NEW", "the database schema is newer than this build"
    TLS = "TLS", "the TLS options are incomplete or their files unreadable"
    LISTEN_ADDRESS = "LISTEN_ADDRESS", "the listen host cannot be resolved"
    WORKERS_HTTP = "WORKERS_HTTP", "the worker processes' HTTP and metrics ports collide"
