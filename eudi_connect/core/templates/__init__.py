"""Templates in a shared Jinja2 sandbox. Credential templates: a `vct`, a mapping from subject
data to claims, the selectively disclosable claim paths and validity bounds. Notification
templates: a subject line and text / HTML bodies about a credential event."""

from .builtin import BUILTIN_TEMPLATES, MDL_EXAMPLE_SUBJECT, PID_EXAMPLE_SUBJECT, builtin_template
from .credential import (
    CREDENTIAL_IMPLICIT_NAMES,
    MAX_TIMESTAMP_GRANULARITY_SECONDS,
    CredentialTemplate,
)
from .environment import CacheStats, RenderedNotification, TemplateEnvironment
from .errors import (
    InvalidSubjectFieldError,
    InvalidTemplateError,
    MissingSubjectFieldError,
    TemplateRenderError,
)
from .notification import (
    NOTIFICATION_IMPLICIT_NAMES,
    NotificationEvent,
    NotificationFormat,
    NotificationTemplate,
)

__all__ = [
    "BUILTIN_TEMPLATES",
    "CREDENTIAL_IMPLICIT_NAMES",
    "MAX_TIMESTAMP_GRANULARITY_SECONDS",
    "MDL_EXAMPLE_SUBJECT",
    "NOTIFICATION_IMPLICIT_NAMES",
    "PID_EXAMPLE_SUBJECT",
    "CacheStats",
    "CredentialTemplate",
    "InvalidSubjectFieldError",
    "InvalidTemplateError",
    "MissingSubjectFieldError",
    "NotificationEvent",
    "NotificationFormat",
    "NotificationTemplate",
    "RenderedNotification",
    "TemplateEnvironment",
    "TemplateRenderError",
    "builtin_template",
]
