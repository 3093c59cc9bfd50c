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

class TemplateKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TEMPLATE_KIND_UNSPECIFIED: _ClassVar[TemplateKind]
    TEMPLATE_KIND_CREDENTIAL: _ClassVar[TemplateKind]
    TEMPLATE_KIND_NOTIFICATION: _ClassVar[TemplateKind]

class RenderFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RENDER_FORMAT_UNSPECIFIED: _ClassVar[RenderFormat]
    RENDER_FORMAT_JSON: _ClassVar[RenderFormat]
    RENDER_FORMAT_TEXT: _ClassVar[RenderFormat]
    RENDER_FORMAT_HTML: _ClassVar[RenderFormat]

class NotificationEvent(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NOTIFICATION_EVENT_UNSPECIFIED: _ClassVar[NotificationEvent]
    NOTIFICATION_EVENT_CREDENTIAL_ISSUED: _ClassVar[NotificationEvent]
    NOTIFICATION_EVENT_CREDENTIAL_SUSPENDED: _ClassVar[NotificationEvent]
    NOTIFICATION_EVENT_CREDENTIAL_REVOKED: _ClassVar[NotificationEvent]
    NOTIFICATION_EVENT_CREDENTIAL_EXPIRING: _ClassVar[NotificationEvent]
    NOTIFICATION_EVENT_CREDENTIAL_REINSTATED: _ClassVar[NotificationEvent]
TEMPLATE_KIND_UNSPECIFIED: TemplateKind
TEMPLATE_KIND_CREDENTIAL: TemplateKind
TEMPLATE_KIND_NOTIFICATION: TemplateKind
RENDER_FORMAT_UNSPECIFIED: RenderFormat
RENDER_FORMAT_JSON: RenderFormat
RENDER_FORMAT_TEXT: RenderFormat
RENDER_FORMAT_HTML: RenderFormat
NOTIFICATION_EVENT_UNSPECIFIED: NotificationEvent
NOTIFICATION_EVENT_CREDENTIAL_ISSUED: NotificationEvent
NOTIFICATION_EVENT_CREDENTIAL_SUSPENDED: NotificationEvent
NOTIFICATION_EVENT_CREDENTIAL_REVOKED: NotificationEvent
NOTIFICATION_EVENT_CREDENTIAL_EXPIRING: NotificationEvent
NOTIFICATION_EVENT_CREDENTIAL_REINSTATED: NotificationEvent

class CredentialTemplateSpec(_message.Message):
    __slots__ = ("vct", "claims_template", "disclosable", "default_validity_seconds", "max_validity_seconds", "mdoc_doc_type", "mdoc_namespace")
    VCT_FIELD_NUMBER: _ClassVar[int]
    CLAIMS_TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    DISCLOSABLE_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_VALIDITY_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MAX_VALIDITY_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MDOC_DOC_TYPE_FIELD_NUMBER: _ClassVar[int]
    MDOC_NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    vct: str
    claims_template: str
    disclosable: _containers.RepeatedScalarFieldContainer[str]
    default_validity_seconds: int
    max_validity_seconds: int
    mdoc_doc_type: str
    mdoc_namespace: str
    def __init__(self, vct: _Optional[str] = ..., claims_template: _Optional[str] = ..., disclosable: _Optional[_Iterable[str]] = ..., default_validity_seconds: _Optional[int] = ..., max_validity_seconds: _Optional[int] = ..., mdoc_doc_type: _Optional[str] = ..., mdoc_namespace: _Optional[str] = ...) -> None: ...

class NotificationTemplateSpec(_message.Message):
    __slots__ = ("event", "subject_template", "text_template", "html_template")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    TEXT_TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    HTML_TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    event: NotificationEvent
    subject_template: str
    text_template: str
    html_template: str
    def __init__(self, event: _Optional[_Union[NotificationEvent, str]] = ..., subject_template: _Optional[str] = ..., text_template: _Optional[str] = ..., html_template: _Optional[str] = ...) -> None: ...

class Template(_message.Message):
    __slots__ = ("template_id", "kind", "description", "data_schema", "credential", "notification", "version", "etag", "builtin", "create_time", "update_time")
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DATA_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    NOTIFICATION_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    BUILTIN_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    template_id: str
    kind: TemplateKind
    description: str
    data_schema: _containers.RepeatedScalarFieldContainer[str]
    credential: CredentialTemplateSpec
    notification: NotificationTemplateSpec
    version: int
    etag: str
    builtin: bool
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, template_id: _Optional[str] = ..., kind: _Optional[_Union[TemplateKind, str]] = ..., description: _Optional[str] = ..., data_schema: _Optional[_Iterable[str]] = ..., credential: _Optional[_Union[CredentialTemplateSpec, _Mapping]] = ..., notification: _Optional[_Union[NotificationTemplateSpec, _Mapping]] = ..., version: _Optional[int] = ..., etag: _Optional[str] = ..., builtin: _Optional[bool] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateTemplateRequest(_message.Message):
    __slots__ = ("template",)
    TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    template: Template
    def __init__(self, template: _Optional[_Union[Template, _Mapping]] = ...) -> None: ...

class CreateTemplateResponse(_message.Message):
    __slots__ = ("template",)
    TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    template: Template
    def __init__(self, template: _Optional[_Union[Template, _Mapping]] = ...) -> None: ...

class GetTemplateRequest(_message.Message):
    __slots__ = ("template_id",)
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    template_id: str
    def __init__(self, template_id: _Optional[str] = ...) -> None: ...

class GetTemplateResponse(_message.Message):
    __slots__ = ("template",)
    TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    template: Template
    def __init__(self, template: _Optional[_Union[Template, _Mapping]] = ...) -> None: ...

class ListTemplatesRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "kind")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    kind: TemplateKind
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., kind: _Optional[_Union[TemplateKind, str]] = ...) -> None: ...

class ListTemplatesResponse(_message.Message):
    __slots__ = ("templates", "next_page_token")
    TEMPLATES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    templates: _containers.RepeatedCompositeFieldContainer[Template]
    next_page_token: str
    def __init__(self, templates: _Optional[_Iterable[_Union[Template, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateTemplateRequest(_message.Message):
    __slots__ = ("template", "etag")
    TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    template: Template
    etag: str
    def __init__(self, template: _Optional[_Union[Template, _Mapping]] = ..., etag: _Optional[str] = ...) -> None: ...

class UpdateTemplateResponse(_message.Message):
    __slots__ = ("template",)
    TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    template: Template
    def __init__(self, template: _Optional[_Union[Template, _Mapping]] = ...) -> None: ...

class DeleteTemplateRequest(_message.Message):
    __slots__ = ("template_id", "etag")
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    template_id: str
    etag: str
    def __init__(self, template_id: _Optional[str] = ..., etag: _Optional[str] = ...) -> None: ...

class DeleteTemplateResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RenderTemplateRequest(_message.Message):
    __slots__ = ("template_id", "format", "data")
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    template_id: str
    format: RenderFormat
    data: _struct_pb2.Struct
    def __init__(self, template_id: _Optional[str] = ..., format: _Optional[_Union[RenderFormat, str]] = ..., data: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class Rendering(_message.Message):
    __slots__ = ("format", "template_version", "subject", "content")
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_VERSION_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    format: RenderFormat
    template_version: int
    subject: str
    content: str
    def __init__(self, format: _Optional[_Union[RenderFormat, str]] = ..., template_version: _Optional[int] = ..., subject: _Optional[str] = ..., content: _Optional[str] = ...) -> None: ...

class RenderTemplateResponse(_message.Message):
    __slots__ = ("rendering",)
    RENDERING_FIELD_NUMBER: _ClassVar[int]
    rendering: Rendering
    def __init__(self, rendering: _Optional[_Union[Rendering, _Mapping]] = ...) -> None: ...

class RenderTemplateBatchRequest(_message.Message):
    __slots__ = ("template_id", "format", "items")
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    template_id: str
    format: RenderFormat
    items: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Struct]
    def __init__(self, template_id: _Optional[str] = ..., format: _Optional[_Union[RenderFormat, str]] = ..., items: _Optional[_Iterable[_Union[_struct_pb2.Struct, _Mapping]]] = ...) -> None: ...

class RenderTemplateBatchResult(_message.Message):
    __slots__ = ("index", "rendering", "error")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    RENDERING_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    index: int
    rendering: Rendering
    error: _status_pb2.Status
    def __init__(self, index: _Optional[int] = ..., rendering: _Optional[_Union[Rendering, _Mapping]] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ...) -> None: ...

class RenderTemplateBatchResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[RenderTemplateBatchResult]
    def __init__(self, results: _Optional[_Iterable[_Union[RenderTemplateBatchResult, _Mapping]]] = ...) -> None: ...
