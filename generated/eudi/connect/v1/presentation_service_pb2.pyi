import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from eudi.connect.v1 import credential_service_pb2 as _credential_service_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PresentationState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRESENTATION_STATE_UNSPECIFIED: _ClassVar[PresentationState]
    PRESENTATION_STATE_PENDING: _ClassVar[PresentationState]
    PRESENTATION_STATE_RETRIEVED: _ClassVar[PresentationState]
    PRESENTATION_STATE_RESPONDED: _ClassVar[PresentationState]
    PRESENTATION_STATE_VERIFIED: _ClassVar[PresentationState]
    PRESENTATION_STATE_FAILED: _ClassVar[PresentationState]
    PRESENTATION_STATE_EXPIRED: _ClassVar[PresentationState]
PRESENTATION_STATE_UNSPECIFIED: PresentationState
PRESENTATION_STATE_PENDING: PresentationState
PRESENTATION_STATE_RETRIEVED: PresentationState
PRESENTATION_STATE_RESPONDED: PresentationState
PRESENTATION_STATE_VERIFIED: PresentationState
PRESENTATION_STATE_FAILED: PresentationState
PRESENTATION_STATE_EXPIRED: PresentationState

class CreatePresentationRequestRequest(_message.Message):
    __slots__ = ("dcql_query_json", "client_id_prefix", "response_mode", "transaction_data_json", "lifetime_seconds", "policy", "request_id", "redirect_uri", "request_uri_method", "expected_origins")
    DCQL_QUERY_JSON_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_PREFIX_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_MODE_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_DATA_JSON_FIELD_NUMBER: _ClassVar[int]
    LIFETIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    REDIRECT_URI_FIELD_NUMBER: _ClassVar[int]
    REQUEST_URI_METHOD_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_ORIGINS_FIELD_NUMBER: _ClassVar[int]
    dcql_query_json: str
    client_id_prefix: str
    response_mode: str
    transaction_data_json: _containers.RepeatedScalarFieldContainer[str]
    lifetime_seconds: int
    policy: _credential_service_pb2.VerificationPolicy
    request_id: str
    redirect_uri: str
    request_uri_method: str
    expected_origins: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, dcql_query_json: _Optional[str] = ..., client_id_prefix: _Optional[str] = ..., response_mode: _Optional[str] = ..., transaction_data_json: _Optional[_Iterable[str]] = ..., lifetime_seconds: _Optional[int] = ..., policy: _Optional[_Union[_credential_service_pb2.VerificationPolicy, _Mapping]] = ..., request_id: _Optional[str] = ..., redirect_uri: _Optional[str] = ..., request_uri_method: _Optional[str] = ..., expected_origins: _Optional[_Iterable[str]] = ...) -> None: ...

class PresentedCredential(_message.Message):
    __slots__ = ("credential_query_id", "index", "verification")
    CREDENTIAL_QUERY_ID_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    VERIFICATION_FIELD_NUMBER: _ClassVar[int]
    credential_query_id: str
    index: int
    verification: _credential_service_pb2.VerifyCredentialResponse
    def __init__(self, credential_query_id: _Optional[str] = ..., index: _Optional[int] = ..., verification: _Optional[_Union[_credential_service_pb2.VerifyCredentialResponse, _Mapping]] = ...) -> None: ...

class PresentationTransaction(_message.Message):
    __slots__ = ("transaction_id", "state", "client_id", "response_mode", "authorization_request_uri", "request_uri", "created_at", "expires_at", "updated_at", "dcql_query_json", "credentials", "failure_reason", "failure_detail", "response_code")
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_MODE_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_REQUEST_URI_FIELD_NUMBER: _ClassVar[int]
    REQUEST_URI_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    DCQL_QUERY_JSON_FIELD_NUMBER: _ClassVar[int]
    CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    FAILURE_DETAIL_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_CODE_FIELD_NUMBER: _ClassVar[int]
    transaction_id: str
    state: PresentationState
    client_id: str
    response_mode: str
    authorization_request_uri: str
    request_uri: str
    created_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    dcql_query_json: str
    credentials: _containers.RepeatedCompositeFieldContainer[PresentedCredential]
    failure_reason: str
    failure_detail: str
    response_code: str
    def __init__(self, transaction_id: _Optional[str] = ..., state: _Optional[_Union[PresentationState, str]] = ..., client_id: _Optional[str] = ..., response_mode: _Optional[str] = ..., authorization_request_uri: _Optional[str] = ..., request_uri: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., dcql_query_json: _Optional[str] = ..., credentials: _Optional[_Iterable[_Union[PresentedCredential, _Mapping]]] = ..., failure_reason: _Optional[str] = ..., failure_detail: _Optional[str] = ..., response_code: _Optional[str] = ...) -> None: ...

class CreatePresentationRequestResponse(_message.Message):
    __slots__ = ("transaction", "request_object", "dc_api_request_json")
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_OBJECT_FIELD_NUMBER: _ClassVar[int]
    DC_API_REQUEST_JSON_FIELD_NUMBER: _ClassVar[int]
    transaction: PresentationTransaction
    request_object: str
    dc_api_request_json: str
    def __init__(self, transaction: _Optional[_Union[PresentationTransaction, _Mapping]] = ..., request_object: _Optional[str] = ..., dc_api_request_json: _Optional[str] = ...) -> None: ...

class GetPresentationResultRequest(_message.Message):
    __slots__ = ("transaction_id",)
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    transaction_id: str
    def __init__(self, transaction_id: _Optional[str] = ...) -> None: ...

class GetPresentationResultResponse(_message.Message):
    __slots__ = ("transaction",)
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    transaction: PresentationTransaction
    def __init__(self, transaction: _Optional[_Union[PresentationTransaction, _Mapping]] = ...) -> None: ...

class WatchPresentationRequest(_message.Message):
    __slots__ = ("transaction_id",)
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    transaction_id: str
    def __init__(self, transaction_id: _Optional[str] = ...) -> None: ...

class WatchPresentationResponse(_message.Message):
    __slots__ = ("transaction",)
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    transaction: PresentationTransaction
    def __init__(self, transaction: _Optional[_Union[PresentationTransaction, _Mapping]] = ...) -> None: ...

class SubmitPresentationResponseRequest(_message.Message):
    __slots__ = ("transaction_id", "origin", "response_json")
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_JSON_FIELD_NUMBER: _ClassVar[int]
    transaction_id: str
    origin: str
    response_json: str
    def __init__(self, transaction_id: _Optional[str] = ..., origin: _Optional[str] = ..., response_json: _Optional[str] = ...) -> None: ...

class SubmitPresentationResponseResponse(_message.Message):
    __slots__ = ("transaction",)
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    transaction: PresentationTransaction
    def __init__(self, transaction: _Optional[_Union[PresentationTransaction, _Mapping]] = ...) -> None: ...

class GetVerifierIdentityRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetVerifierIdentityResponse(_message.Message):
    __slots__ = ("dns_name", "client_ids", "certificate_chain_pem")
    DNS_NAME_FIELD_NUMBER: _ClassVar[int]
    CLIENT_IDS_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_CHAIN_PEM_FIELD_NUMBER: _ClassVar[int]
    dns_name: str
    client_ids: _containers.RepeatedScalarFieldContainer[str]
    certificate_chain_pem: str
    def __init__(self, dns_name: _Optional[str] = ..., client_ids: _Optional[_Iterable[str]] = ..., certificate_chain_pem: _Optional[str] = ...) -> None: ...
