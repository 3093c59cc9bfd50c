import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.rpc import status_pb2 as _status_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CredentialStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CREDENTIAL_STATUS_UNSPECIFIED: _ClassVar[CredentialStatus]
    CREDENTIAL_STATUS_VALID: _ClassVar[CredentialStatus]
    CREDENTIAL_STATUS_REVOKED: _ClassVar[CredentialStatus]
    CREDENTIAL_STATUS_SUSPENDED: _ClassVar[CredentialStatus]

class VerificationFailure(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VERIFICATION_FAILURE_UNSPECIFIED: _ClassVar[VerificationFailure]
    VERIFICATION_FAILURE_MALFORMED: _ClassVar[VerificationFailure]
    VERIFICATION_FAILURE_BAD_SIGNATURE: _ClassVar[VerificationFailure]
    VERIFICATION_FAILURE_UNKNOWN_ISSUER_KEY: _ClassVar[VerificationFailure]
    VERIFICATION_FAILURE_ALGORITHM_NOT_ALLOWED: _ClassVar[VerificationFailure]
    VERIFICATION_FAILURE_EXPIRED: _ClassVar[VerificationFailure]
    VERIFICATION_FAILURE_NOT_YET_VALID: _ClassVar[VerificationFailure]
    VERIFICATION_FAILURE_DIGEST_MISMATCH: _ClassVar[VerificationFailure]
    VERIFICATION_FAILURE_DUPLICATE_DISCLOSURE: _ClassVar[VerificationFailure]
    VERIFICATION_FAILURE_KEY_BINDING_REQUIRED: _ClassVar[VerificationFailure]
    VERIFICATION_FAILURE_KEY_BINDING_INVALID: _ClassVar[VerificationFailure]
    VERIFICATION_FAILURE_NONCE_MISMATCH: _ClassVar[VerificationFailure]
    VERIFICATION_FAILURE_AUDIENCE_MISMATCH: _ClassVar[VerificationFailure]
    VERIFICATION_FAILURE_REVOKED: _ClassVar[VerificationFailure]
    VERIFICATION_FAILURE_SUSPENDED: _ClassVar[VerificationFailure]
    VERIFICATION_FAILURE_WRONG_TYPE: _ClassVar[VerificationFailure]
    VERIFICATION_FAILURE_STATUS_UNAVAILABLE: _ClassVar[VerificationFailure]
    VERIFICATION_FAILURE_UNTRUSTED_ISSUER: _ClassVar[VerificationFailure]
    VERIFICATION_FAILURE_CERTIFICATE_INVALID: _ClassVar[VerificationFailure]
    VERIFICATION_FAILURE_ISSUER_KEYS_UNAVAILABLE: _ClassVar[VerificationFailure]
    VERIFICATION_FAILURE_STATUS_LIST_UNREACHABLE: _ClassVar[VerificationFailure]
    VERIFICATION_FAILURE_STATUS_LIST_TIMEOUT: _ClassVar[VerificationFailure]
    VERIFICATION_FAILURE_STATUS_LIST_TOO_LARGE: _ClassVar[VerificationFailure]
    VERIFICATION_FAILURE_STATUS_LIST_DECOMPRESSION_LIMIT: _ClassVar[VerificationFailure]
    VERIFICATION_FAILURE_STATUS_LIST_UNSIGNED: _ClassVar[VerificationFailure]
    VERIFICATION_FAILURE_STATUS_LIST_ALGORITHM_NOT_ALLOWED: _ClassVar[VerificationFailure]
    VERIFICATION_FAILURE_STATUS_LIST_BAD_SIGNATURE: _ClassVar[VerificationFailure]
    VERIFICATION_FAILURE_STATUS_LIST_WRONG_SUBJECT: _ClassVar[VerificationFailure]
    VERIFICATION_FAILURE_STATUS_LIST_EXPIRED: _ClassVar[VerificationFailure]
    VERIFICATION_FAILURE_STATUS_LIST_INDEX_OUT_OF_RANGE: _ClassVar[VerificationFailure]
    VERIFICATION_FAILURE_STATUS_LIST_INVALID: _ClassVar[VerificationFailure]
    VERIFICATION_FAILURE_ISSUER_CERTIFICATE_MISMATCH: _ClassVar[VerificationFailure]
CREDENTIAL_STATUS_UNSPECIFIED: CredentialStatus
CREDENTIAL_STATUS_VALID: CredentialStatus
CREDENTIAL_STATUS_REVOKED: CredentialStatus
CREDENTIAL_STATUS_SUSPENDED: CredentialStatus
VERIFICATION_FAILURE_UNSPECIFIED: VerificationFailure
VERIFICATION_FAILURE_MALFORMED: VerificationFailure
VERIFICATION_FAILURE_BAD_SIGNATURE: VerificationFailure
VERIFICATION_FAILURE_UNKNOWN_ISSUER_KEY: VerificationFailure
VERIFICATION_FAILURE_ALGORITHM_NOT_ALLOWED: VerificationFailure
VERIFICATION_FAILURE_EXPIRED: VerificationFailure
VERIFICATION_FAILURE_NOT_YET_VALID: VerificationFailure
VERIFICATION_FAILURE_DIGEST_MISMATCH: VerificationFailure
VERIFICATION_FAILURE_DUPLICATE_DISCLOSURE: VerificationFailure
VERIFICATION_FAILURE_KEY_BINDING_REQUIRED: VerificationFailure
VERIFICATION_FAILURE_KEY_BINDING_INVALID: VerificationFailure
VERIFICATION_FAILURE_NONCE_MISMATCH: VerificationFailure
VERIFICATION_FAILURE_AUDIENCE_MISMATCH: VerificationFailure
VERIFICATION_FAILURE_REVOKED: VerificationFailure
VERIFICATION_FAILURE_SUSPENDED: VerificationFailure
VERIFICATION_FAILURE_WRONG_TYPE: VerificationFailure
VERIFICATION_FAILURE_STATUS_UNAVAILABLE: VerificationFailure
VERIFICATION_FAILURE_UNTRUSTED_ISSUER: VerificationFailure
VERIFICATION_FAILURE_CERTIFICATE_INVALID: VerificationFailure
VERIFICATION_FAILURE_ISSUER_KEYS_UNAVAILABLE: VerificationFailure
VERIFICATION_FAILURE_STATUS_LIST_UNREACHABLE: VerificationFailure
VERIFICATION_FAILURE_STATUS_LIST_TIMEOUT: VerificationFailure
VERIFICATION_FAILURE_STATUS_LIST_TOO_LARGE: VerificationFailure
VERIFICATION_FAILURE_STATUS_LIST_DECOMPRESSION_LIMIT: VerificationFailure
VERIFICATION_FAILURE_STATUS_LIST_UNSIGNED: VerificationFailure
VERIFICATION_FAILURE_STATUS_LIST_ALGORITHM_NOT_ALLOWED: VerificationFailure
VERIFICATION_FAILURE_STATUS_LIST_BAD_SIGNATURE: VerificationFailure
VERIFICATION_FAILURE_STATUS_LIST_WRONG_SUBJECT: VerificationFailure
VERIFICATION_FAILURE_STATUS_LIST_EXPIRED: VerificationFailure
VERIFICATION_FAILURE_STATUS_LIST_INDEX_OUT_OF_RANGE: VerificationFailure
VERIFICATION_FAILURE_STATUS_LIST_INVALID: VerificationFailure
VERIFICATION_FAILURE_ISSUER_CERTIFICATE_MISMATCH: VerificationFailure

class IssueCredentialRequest(_message.Message):
    __slots__ = ("template_id", "subject", "holder_jwk", "request_id", "validity_seconds", "format")
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    HOLDER_JWK_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    VALIDITY_SECONDS_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    template_id: str
    subject: _struct_pb2.Struct
    holder_jwk: str
    request_id: str
    validity_seconds: int
    format: str
    def __init__(self, template_id: _Optional[str] = ..., subject: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., holder_jwk: _Optional[str] = ..., request_id: _Optional[str] = ..., validity_seconds: _Optional[int] = ..., format: _Optional[str] = ...) -> None: ...

class IssueCredentialResponse(_message.Message):
    __slots__ = ("credential_id", "credential", "format", "status_list_id", "status_index", "expires_at", "issued_at")
    CREDENTIAL_ID_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    STATUS_LIST_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_INDEX_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    credential_id: str
    credential: str
    format: str
    status_list_id: str
    status_index: int
    expires_at: _timestamp_pb2.Timestamp
    issued_at: _timestamp_pb2.Timestamp
    def __init__(self, credential_id: _Optional[str] = ..., credential: _Optional[str] = ..., format: _Optional[str] = ..., status_list_id: _Optional[str] = ..., status_index: _Optional[int] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., issued_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CredentialCopies(_message.Message):
    __slots__ = ("template_id", "subject", "holder_jwks", "request_id", "validity_seconds", "format")
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    HOLDER_JWKS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    VALIDITY_SECONDS_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    template_id: str
    subject: _struct_pb2.Struct
    holder_jwks: _containers.RepeatedScalarFieldContainer[str]
    request_id: str
    validity_seconds: int
    format: str
    def __init__(self, template_id: _Optional[str] = ..., subject: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., holder_jwks: _Optional[_Iterable[str]] = ..., request_id: _Optional[str] = ..., validity_seconds: _Optional[int] = ..., format: _Optional[str] = ...) -> None: ...

class IssueCredentialBatchRequest(_message.Message):
    __slots__ = ("items", "copies")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    COPIES_FIELD_NUMBER: _ClassVar[int]
    items: IssueCredentialBatchItems
    copies: CredentialCopies
    def __init__(self, items: _Optional[_Union[IssueCredentialBatchItems, _Mapping]] = ..., copies: _Optional[_Union[CredentialCopies, _Mapping]] = ...) -> None: ...

class IssueCredentialBatchItems(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[IssueCredentialRequest]
    def __init__(self, items: _Optional[_Iterable[_Union[IssueCredentialRequest, _Mapping]]] = ...) -> None: ...

class IssueCredentialBatchResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[IssueCredentialBatchResult]
    def __init__(self, results: _Optional[_Iterable[_Union[IssueCredentialBatchResult, _Mapping]]] = ...) -> None: ...

class IssueCredentialBatchResult(_message.Message):
    __slots__ = ("index", "request_id", "credential", "error")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    index: int
    request_id: str
    credential: IssueCredentialResponse
    error: _status_pb2.Status
    def __init__(self, index: _Optional[int] = ..., request_id: _Optional[str] = ..., credential: _Optional[_Union[IssueCredentialResponse, _Mapping]] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ...) -> None: ...

class VerifyCredentialRequest(_message.Message):
    __slots__ = ("credential", "expected_audience", "expected_nonce", "policy", "mdoc_session_transcript", "expected_response_uri", "expected_jwk_thumbprint")
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_NONCE_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    MDOC_SESSION_TRANSCRIPT_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_RESPONSE_URI_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_JWK_THUMBPRINT_FIELD_NUMBER: _ClassVar[int]
    credential: str
    expected_audience: str
    expected_nonce: str
    policy: VerificationPolicy
    mdoc_session_transcript: bytes
    expected_response_uri: str
    expected_jwk_thumbprint: bytes
    def __init__(self, credential: _Optional[str] = ..., expected_audience: _Optional[str] = ..., expected_nonce: _Optional[str] = ..., policy: _Optional[_Union[VerificationPolicy, _Mapping]] = ..., mdoc_session_transcript: _Optional[bytes] = ..., expected_response_uri: _Optional[str] = ..., expected_jwk_thumbprint: _Optional[bytes] = ...) -> None: ...

class VerificationPolicy(_message.Message):
    __slots__ = ("require_key_binding", "max_key_binding_age_seconds", "allowed_vcts", "check_status", "clock_skew_seconds")
    REQUIRE_KEY_BINDING_FIELD_NUMBER: _ClassVar[int]
    MAX_KEY_BINDING_AGE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_VCTS_FIELD_NUMBER: _ClassVar[int]
    CHECK_STATUS_FIELD_NUMBER: _ClassVar[int]
    CLOCK_SKEW_SECONDS_FIELD_NUMBER: _ClassVar[int]
    require_key_binding: bool
    max_key_binding_age_seconds: int
    allowed_vcts: _containers.RepeatedScalarFieldContainer[str]
    check_status: bool
    clock_skew_seconds: int
    def __init__(self, require_key_binding: _Optional[bool] = ..., max_key_binding_age_seconds: _Optional[int] = ..., allowed_vcts: _Optional[_Iterable[str]] = ..., check_status: _Optional[bool] = ..., clock_skew_seconds: _Optional[int] = ...) -> None: ...

class VerificationCheck(_message.Message):
    __slots__ = ("name", "passed", "failure", "detail")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    name: str
    passed: bool
    failure: VerificationFailure
    detail: str
    def __init__(self, name: _Optional[str] = ..., passed: _Optional[bool] = ..., failure: _Optional[_Union[VerificationFailure, str]] = ..., detail: _Optional[str] = ...) -> None: ...

class VerifyCredentialResponse(_message.Message):
    __slots__ = ("valid", "status", "failure", "detail", "claims", "issuer", "vct", "key_binding_verified", "checks", "format")
    VALID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    CLAIMS_FIELD_NUMBER: _ClassVar[int]
    ISSUER_FIELD_NUMBER: _ClassVar[int]
    VCT_FIELD_NUMBER: _ClassVar[int]
    KEY_BINDING_VERIFIED_FIELD_NUMBER: _ClassVar[int]
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    status: CredentialStatus
    failure: VerificationFailure
    detail: str
    claims: _struct_pb2.Struct
    issuer: str
    vct: str
    key_binding_verified: bool
    checks: _containers.RepeatedCompositeFieldContainer[VerificationCheck]
    format: str
    def __init__(self, valid: _Optional[bool] = ..., status: _Optional[_Union[CredentialStatus, str]] = ..., failure: _Optional[_Union[VerificationFailure, str]] = ..., detail: _Optional[str] = ..., claims: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., issuer: _Optional[str] = ..., vct: _Optional[str] = ..., key_binding_verified: _Optional[bool] = ..., checks: _Optional[_Iterable[_Union[VerificationCheck, _Mapping]]] = ..., format: _Optional[str] = ...) -> None: ...

class VerifyCredentialBatchRequest(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[VerifyCredentialRequest]
    def __init__(self, items: _Optional[_Iterable[_Union[VerifyCredentialRequest, _Mapping]]] = ...) -> None: ...

class VerifyCredentialBatchResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[VerifyCredentialBatchResult]
    def __init__(self, results: _Optional[_Iterable[_Union[VerifyCredentialBatchResult, _Mapping]]] = ...) -> None: ...

class VerifyCredentialBatchResult(_message.Message):
    __slots__ = ("index", "result", "error")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    index: int
    result: VerifyCredentialResponse
    error: _status_pb2.Status
    def __init__(self, index: _Optional[int] = ..., result: _Optional[_Union[VerifyCredentialResponse, _Mapping]] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ...) -> None: ...

class RevokeCredentialRequest(_message.Message):
    __slots__ = ("credential_id", "reason")
    CREDENTIAL_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    credential_id: str
    reason: str
    def __init__(self, credential_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RevokeCredentialResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: CredentialStatus
    def __init__(self, status: _Optional[_Union[CredentialStatus, str]] = ...) -> None: ...

class SuspendCredentialRequest(_message.Message):
    __slots__ = ("credential_id", "reason")
    CREDENTIAL_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    credential_id: str
    reason: str
    def __init__(self, credential_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class SuspendCredentialResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: CredentialStatus
    def __init__(self, status: _Optional[_Union[CredentialStatus, str]] = ...) -> None: ...

class ReinstateCredentialRequest(_message.Message):
    __slots__ = ("credential_id", "reason")
    CREDENTIAL_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    credential_id: str
    reason: str
    def __init__(self, credential_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ReinstateCredentialResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: CredentialStatus
    def __init__(self, status: _Optional[_Union[CredentialStatus, str]] = ...) -> None: ...

class GetCredentialStatusRequest(_message.Message):
    __slots__ = ("credential_id",)
    CREDENTIAL_ID_FIELD_NUMBER: _ClassVar[int]
    credential_id: str
    def __init__(self, credential_id: _Optional[str] = ...) -> None: ...

class GetCredentialStatusResponse(_message.Message):
    __slots__ = ("credential_id", "status", "status_list_id", "status_index", "issued_at", "expires_at", "template_id")
    CREDENTIAL_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUS_LIST_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_INDEX_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    credential_id: str
    status: CredentialStatus
    status_list_id: str
    status_index: int
    issued_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    template_id: str
    def __init__(self, credential_id: _Optional[str] = ..., status: _Optional[_Union[CredentialStatus, str]] = ..., status_list_id: _Optional[str] = ..., status_index: _Optional[int] = ..., issued_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., template_id: _Optional[str] = ...) -> None: ...

class GetStatusListRequest(_message.Message):
    __slots__ = ("status_list_id",)
    STATUS_LIST_ID_FIELD_NUMBER: _ClassVar[int]
    status_list_id: str
    def __init__(self, status_list_id: _Optional[str] = ...) -> None: ...

class GetStatusListResponse(_message.Message):
    __slots__ = ("token", "uri")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    token: str
    uri: str
    def __init__(self, token: _Optional[str] = ..., uri: _Optional[str] = ...) -> None: ...

class GetIssuerKeysRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetIssuerKeysResponse(_message.Message):
    __slots__ = ("jwks", "certificates")
    JWKS_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATES_FIELD_NUMBER: _ClassVar[int]
    jwks: str
    certificates: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, jwks: _Optional[str] = ..., certificates: _Optional[_Iterable[bytes]] = ...) -> None: ...
