"""The notification template: the subject line and bodies of a message that tells a holder
or an operator about a credential event (issued, suspended, revoked, about to expire)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ._check import check_data_schema
from .credential import MAX_TEMPLATE_SOURCE_CHARS
from .errors import InvalidTemplateError

#: Variables every notification template has besides the data's fields.
NOTIFICATION_IMPLICIT_NAMES = frozenset({"today"})

#: A subject line is one line of text; its source need not be long.
MAX_SUBJECT_SOURCE_CHARS = 1024


class NotificationEvent(enum.Enum):
    """The credential event a notification announces."""

    CREDENTIAL_ISSUED = "credential_issued"
    CREDENTIAL_SUSPENDED = "credential_suspended"
    CREDENTIAL_REVOKED = "credential_revoked"
    CREDENTIAL_EXPIRING = "credential_expiring"
    CREDENTIAL_REINSTATED = "credential_reinstated"


class NotificationFormat(enum.Enum):
    TEXT = "text"
    HTML = "html"


@dataclass(frozen=True, slots=True)
class NotificationTemplate:
    """A subject line and a plain-text and/or HTML body, each a Jinja2 source.

    In these sources `{{ ... }}` writes text, not JSON; the HTML body is autoescaped. The
    data's fields are variables (those in `data_schema`), and `today` is the current UTC
    date. `version` and `tenant_id` are as for `CredentialTemplate`.
    """

    template_id: str
    subject_template: str
    text_template: str = ""
    html_template: str = ""
    event: NotificationEvent | None = None
    data_schema: tuple[str, ...] = ()
    version: int = 1
    tenant_id: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "data_schema",
            check_data_schema(self.data_schema, reserved=NOTIFICATION_IMPLICIT_NAMES),
        )
        for name in ("template_id", "subject_template"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise _invalid(name, f"{name} must be a non-empty string")
        if len(self.subject_template) > MAX_SUBJECT_SOURCE_CHARS:
            raise _invalid(
                "subject_template",
                f"subject_template is longer than {MAX_SUBJECT_SOURCE_CHARS} characters",
            )
        for name in ("text_template", "html_template"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise _invalid(name, f"{name} must be a string")
            if len(value) > MAX_TEMPLATE_SOURCE_CHARS:
                raise _invalid(
                    name, f"{name} is longer than {MAX_TEMPLATE_SOURCE_CHARS} characters"
                )
        if not self.text_template.strip() and not self.html_template.strip():
            raise _invalid("text_template", "a text_template or an html_template is required")
        if self.event is not None and not isinstance(self.event, NotificationEvent):
            raise _invalid("event", "event must be a NotificationEvent")
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 1:
            raise _invalid("version", "version must be an integer starting at 1")

    def body_source(self, format: NotificationFormat) -> str:
        """The body source for `format`; empty when the template has none."""
        return self.html_template if format is NotificationFormat.HTML else self.text_template


def _invalid(field: str, message: str) -> InvalidTemplateError:
    return InvalidTemplateError(message, metadata={"field": field})
