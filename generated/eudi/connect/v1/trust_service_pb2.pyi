import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TrustedIssuer(_message.Message):
    __slots__ = ("issuer", "jwks", "jwks_uri", "created_at")
    ISSUER_FIELD_NUMBER: _ClassVar[int]
    JWKS_FIELD_NUMBER: _ClassVar[int]
    JWKS_URI_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    issuer: str
    jwks: str
    jwks_uri: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, issuer: _Optional[str] = ..., jwks: _Optional[str] = ..., jwks_uri: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TrustAnchor(_message.Message):
    __slots__ = ("anchor_id", "certificate", "subject", "not_after", "created_at")
    ANCHOR_ID_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    NOT_AFTER_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    anchor_id: str
    certificate: bytes
    subject: str
    not_after: _timestamp_pb2.Timestamp
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, anchor_id: _Optional[str] = ..., certificate: _Optional[bytes] = ..., subject: _Optional[str] = ..., not_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AddTrustedIssuerRequest(_message.Message):
    __slots__ = ("trusted_issuer",)
    TRUSTED_ISSUER_FIELD_NUMBER: _ClassVar[int]
    trusted_issuer: TrustedIssuer
    def __init__(self, trusted_issuer: _Optional[_Union[TrustedIssuer, _Mapping]] = ...) -> None: ...

class AddTrustedIssuerResponse(_message.Message):
    __slots__ = ("trusted_issuer",)
    TRUSTED_ISSUER_FIELD_NUMBER: _ClassVar[int]
    trusted_issuer: TrustedIssuer
    def __init__(self, trusted_issuer: _Optional[_Union[TrustedIssuer, _Mapping]] = ...) -> None: ...

class ListTrustedIssuersRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListTrustedIssuersResponse(_message.Message):
    __slots__ = ("trusted_issuers", "next_page_token")
    TRUSTED_ISSUERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    trusted_issuers: _containers.RepeatedCompositeFieldContainer[TrustedIssuer]
    next_page_token: str
    def __init__(self, trusted_issuers: _Optional[_Iterable[_Union[TrustedIssuer, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RemoveTrustedIssuerRequest(_message.Message):
    __slots__ = ("issuer",)
    ISSUER_FIELD_NUMBER: _ClassVar[int]
    issuer: str
    def __init__(self, issuer: _Optional[str] = ...) -> None: ...

class RemoveTrustedIssuerResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AddTrustAnchorRequest(_message.Message):
    __slots__ = ("certificate",)
    CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    certificate: bytes
    def __init__(self, certificate: _Optional[bytes] = ...) -> None: ...

class AddTrustAnchorResponse(_message.Message):
    __slots__ = ("trust_anchor",)
    TRUST_ANCHOR_FIELD_NUMBER: _ClassVar[int]
    trust_anchor: TrustAnchor
    def __init__(self, trust_anchor: _Optional[_Union[TrustAnchor, _Mapping]] = ...) -> None: ...

class ListTrustAnchorsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListTrustAnchorsResponse(_message.Message):
    __slots__ = ("trust_anchors", "next_page_token")
    TRUST_ANCHORS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    trust_anchors: _containers.RepeatedCompositeFieldContainer[TrustAnchor]
    next_page_token: str
    def __init__(self, trust_anchors: _Optional[_Iterable[_Union[TrustAnchor, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RemoveTrustAnchorRequest(_message.Message):
    __slots__ = ("anchor_id",)
    ANCHOR_ID_FIELD_NUMBER: _ClassVar[int]
    anchor_id: str
    def __init__(self, anchor_id: _Optional[str] = ...) -> None: ...

class RemoveTrustAnchorResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
