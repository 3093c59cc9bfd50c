"""Templates in a shared Jinja2 sandbox. Credential templates: a `vct`, a mapping from subject
data to claims, the selectively disclosable claim paths and validity bounds. Notification
templates: a subject line and text / HTML bodies about a credential event."""

from ._builtin_claims import direct_claims
from .builtin import BUILTIN_TEMPLATES, MDL_EXAMPLE_SUBJECT, PID_EXAMPLE_SUBJECT, builtin_template
from .credential import (
    CREDENTIAL_IMPLICIT_NAMES,
    MAX_TIMESTAMP_GRANULARITY_SECONDS,
    MAX_VALIDITY_SECONDS,
    CredentialTemplate,
)
from .environment import (
    CacheStats,
    CompiledPart,
    RenderedNotification,
    TemplateEnvironment,
    TemplateLimits,
    TimeLimitReached,
)
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
    "MAX_VALIDITY_SECONDS",
    "MDL_EXAMPLE_SUBJECT",
    "NOTIFICATION_IMPLICIT_NAMES",
    "PID_EXAMPLE_SUBJECT",
    "CacheStats",
    "CompiledPart",
    "CredentialTemplate",
    "InvalidSubjectFieldError",
    "InvalidTemplateError",
    "MissingSubjectFieldError",
    "NotificationEvent",
    "NotificationFormat",
    "NotificationTemplate",
    "RenderedNotification",
    "TemplateEnvironment",
    "TemplateLimits",
    "TemplateRenderError",
    "TimeLimitReached",
    "builtin_template",
    "direct_claims",
]
