import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OfferState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OFFER_STATE_UNSPECIFIED: _ClassVar[OfferState]
    OFFER_STATE_OFFERED: _ClassVar[OfferState]
    OFFER_STATE_TOKEN_ISSUED: _ClassVar[OfferState]
    OFFER_STATE_DEFERRED: _ClassVar[OfferState]
    OFFER_STATE_CREDENTIALS_ISSUED: _ClassVar[OfferState]
    OFFER_STATE_ACCEPTED: _ClassVar[OfferState]
    OFFER_STATE_FAILED: _ClassVar[OfferState]
    OFFER_STATE_DELETED: _ClassVar[OfferState]
    OFFER_STATE_EXPIRED: _ClassVar[OfferState]
OFFER_STATE_UNSPECIFIED: OfferState
OFFER_STATE_OFFERED: OfferState
OFFER_STATE_TOKEN_ISSUED: OfferState
OFFER_STATE_DEFERRED: OfferState
OFFER_STATE_CREDENTIALS_ISSUED: OfferState
OFFER_STATE_ACCEPTED: OfferState
OFFER_STATE_FAILED: OfferState
OFFER_STATE_DELETED: OfferState
OFFER_STATE_EXPIRED: OfferState

class OfferedCredential(_message.Message):
    __slots__ = ("template_id", "format")
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    template_id: str
    format: str
    def __init__(self, template_id: _Optional[str] = ..., format: _Optional[str] = ...) -> None: ...

class TransactionCodePolicy(_message.Message):
    __slots__ = ("length", "input_mode", "description")
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    INPUT_MODE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    length: int
    input_mode: str
    description: str
    def __init__(self, length: _Optional[int] = ..., input_mode: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class CreateCredentialOfferRequest(_message.Message):
    __slots__ = ("credentials", "subject", "deferred", "max_copies", "lifetime_seconds", "tx_code", "request_id", "validity_seconds")
    CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    DEFERRED_FIELD_NUMBER: _ClassVar[int]
    MAX_COPIES_FIELD_NUMBER: _ClassVar[int]
    LIFETIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    TX_CODE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    VALIDITY_SECONDS_FIELD_NUMBER: _ClassVar[int]
    credentials: _containers.RepeatedCompositeFieldContainer[OfferedCredential]
    subject: _struct_pb2.Struct
    deferred: bool
    max_copies: int
    lifetime_seconds: int
    tx_code: TransactionCodePolicy
    request_id: str
    validity_seconds: int
    def __init__(self, credentials: _Optional[_Iterable[_Union[OfferedCredential, _Mapping]]] = ..., subject: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., deferred: _Optional[bool] = ..., max_copies: _Optional[int] = ..., lifetime_seconds: _Optional[int] = ..., tx_code: _Optional[_Union[TransactionCodePolicy, _Mapping]] = ..., request_id: _Optional[str] = ..., validity_seconds: _Optional[int] = ...) -> None: ...

class CredentialOffer(_message.Message):
    __slots__ = ("offer_id", "state", "credential_offer_json", "credential_offer_uri", "credential_offer_by_value_uri", "offer_url", "credential_configuration_ids", "created_at", "expires_at", "updated_at", "credential_ids", "failure_reason", "copies_remaining")
    OFFER_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_OFFER_JSON_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_OFFER_URI_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_OFFER_BY_VALUE_URI_FIELD_NUMBER: _ClassVar[int]
    OFFER_URL_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_CONFIGURATION_IDS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_IDS_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    COPIES_REMAINING_FIELD_NUMBER: _ClassVar[int]
    offer_id: str
    state: OfferState
    credential_offer_json: str
    credential_offer_uri: str
    credential_offer_by_value_uri: str
    offer_url: str
    credential_configuration_ids: _containers.RepeatedScalarFieldContainer[str]
    created_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    credential_ids: _containers.RepeatedScalarFieldContainer[str]
    failure_reason: str
    copies_remaining: int
    def __init__(self, offer_id: _Optional[str] = ..., state: _Optional[_Union[OfferState, str]] = ..., credential_offer_json: _Optional[str] = ..., credential_offer_uri: _Optional[str] = ..., credential_offer_by_value_uri: _Optional[str] = ..., offer_url: _Optional[str] = ..., credential_configuration_ids: _Optional[_Iterable[str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., credential_ids: _Optional[_Iterable[str]] = ..., failure_reason: _Optional[str] = ..., copies_remaining: _Optional[int] = ...) -> None: ...

class CreateCredentialOfferResponse(_message.Message):
    __slots__ = ("offer", "tx_code")
    OFFER_FIELD_NUMBER: _ClassVar[int]
    TX_CODE_FIELD_NUMBER: _ClassVar[int]
    offer: CredentialOffer
    tx_code: str
    def __init__(self, offer: _Optional[_Union[CredentialOffer, _Mapping]] = ..., tx_code: _Optional[str] = ...) -> None: ...

class GetCredentialOfferRequest(_message.Message):
    __slots__ = ("offer_id",)
    OFFER_ID_FIELD_NUMBER: _ClassVar[int]
    offer_id: str
    def __init__(self, offer_id: _Optional[str] = ...) -> None: ...

class GetCredentialOfferResponse(_message.Message):
    __slots__ = ("offer",)
    OFFER_FIELD_NUMBER: _ClassVar[int]
    offer: CredentialOffer
    def __init__(self, offer: _Optional[_Union[CredentialOffer, _Mapping]] = ...) -> None: ...

class WatchCredentialOfferRequest(_message.Message):
    __slots__ = ("offer_id",)
    OFFER_ID_FIELD_NUMBER: _ClassVar[int]
    offer_id: str
    def __init__(self, offer_id: _Optional[str] = ...) -> None: ...

class WatchCredentialOfferResponse(_message.Message):
    __slots__ = ("offer",)
    OFFER_FIELD_NUMBER: _ClassVar[int]
    offer: CredentialOffer
    def __init__(self, offer: _Optional[_Union[CredentialOffer, _Mapping]] = ...) -> None: ...

class CompleteDeferredOfferRequest(_message.Message):
    __slots__ = ("offer_id", "subject", "failure_reason")
    OFFER_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    offer_id: str
    subject: _struct_pb2.Struct
    failure_reason: str
    def __init__(self, offer_id: _Optional[str] = ..., subject: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., failure_reason: _Optional[str] = ...) -> None: ...

class CompleteDeferredOfferResponse(_message.Message):
    __slots__ = ("offer",)
    OFFER_FIELD_NUMBER: _ClassVar[int]
    offer: CredentialOffer
    def __init__(self, offer: _Optional[_Union[CredentialOffer, _Mapping]] = ...) -> None: ...

class DeleteCredentialOfferRequest(_message.Message):
    __slots__ = ("offer_id",)
    OFFER_ID_FIELD_NUMBER: _ClassVar[int]
    offer_id: str
    def __init__(self, offer_id: _Optional[str] = ...) -> None: ...

class DeleteCredentialOfferResponse(_message.Message):
    __slots__ = ("offer",)
    OFFER_FIELD_NUMBER: _ClassVar[int]
    offer: CredentialOffer
    def __init__(self, offer: _Optional[_Union[CredentialOffer, _Mapping]] = ...) -> None: ...

class WalletPolicy(_message.Message):
    __slots__ = ("wallet_attestation_required", "key_attestation_required", "key_storage", "user_authentication", "wallet_provider_certificates", "wallet_provider_jwks")
    WALLET_ATTESTATION_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    KEY_ATTESTATION_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    KEY_STORAGE_FIELD_NUMBER: _ClassVar[int]
    USER_AUTHENTICATION_FIELD_NUMBER: _ClassVar[int]
    WALLET_PROVIDER_CERTIFICATES_FIELD_NUMBER: _ClassVar[int]
    WALLET_PROVIDER_JWKS_FIELD_NUMBER: _ClassVar[int]
    wallet_attestation_required: bool
    key_attestation_required: bool
    key_storage: _containers.RepeatedScalarFieldContainer[str]
    user_authentication: _containers.RepeatedScalarFieldContainer[str]
    wallet_provider_certificates: _containers.RepeatedScalarFieldContainer[bytes]
    wallet_provider_jwks: str
    def __init__(self, wallet_attestation_required: _Optional[bool] = ..., key_attestation_required: _Optional[bool] = ..., key_storage: _Optional[_Iterable[str]] = ..., user_authentication: _Optional[_Iterable[str]] = ..., wallet_provider_certificates: _Optional[_Iterable[bytes]] = ..., wallet_provider_jwks: _Optional[str] = ...) -> None: ...

class GetWalletPolicyRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetWalletPolicyResponse(_message.Message):
    __slots__ = ("policy",)
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy: WalletPolicy
    def __init__(self, policy: _Optional[_Union[WalletPolicy, _Mapping]] = ...) -> None: ...

class UpdateWalletPolicyRequest(_message.Message):
    __slots__ = ("policy",)
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy: WalletPolicy
    def __init__(self, policy: _Optional[_Union[WalletPolicy, _Mapping]] = ...) -> None: ...

class UpdateWalletPolicyResponse(_message.Message):
    __slots__ = ("policy",)
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy: WalletPolicy
    def __init__(self, policy: _Optional[_Union[WalletPolicy, _Mapping]] = ...) -> None: ...
