"""What a failed render is reported as: sandbox failures mapped to domain errors that name
subject fields and template lines, never subject values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2.exceptions import SecurityError, TemplateError
from jinja2.utils import missing

from eudi_connect.errors import EudiConnectError
from eudi_connect.reasons import Reason

from ._compile import Prepared, template_line
from ._limits import LimitExceeded
from ._values import SubjectValueError, UndefinedValue, find_path
from .errors import InvalidSubjectFieldError, MissingSubjectFieldError, TemplateRenderError


def render_error(
    template_id: str,
    subject: Mapping[str, Any],
    prepared: Prepared,
    exc: Exception,
) -> EudiConnectError:
    """Maps what went wrong inside the sandbox to a domain error. Messages name fields and
    template lines, never subject values."""
    label = f"template {template_id!r}"
    if isinstance(exc, SubjectValueError):
        if exc.field is None:
            return InvalidSubjectFieldError(
                f"a subject value is invalid for {label}: {exc.problem}"
            )
        return InvalidSubjectFieldError(
            f"subject field {exc.field!r} is invalid for {label}: {exc.problem}",
            metadata={"field": exc.field},
        )
    if isinstance(exc, UndefinedValue):
        error = _undefined_error(label, subject, exc)
        if error is not None:
            return error
    line = template_line(exc, prepared.filename)
    where = f" at line {line}" if line else ""
    metadata = {"line": str(line)} if line else {}
    if isinstance(exc, SecurityError):
        return TemplateRenderError(
            f"{label} was stopped by the sandbox{where}: {exc.message}",
            reason=Reason.TEMPLATE_SANDBOX_VIOLATION,
            metadata=metadata,
        )
    if isinstance(exc, LimitExceeded):
        return TemplateRenderError(f"{label}{where}: {exc}", reason=exc.reason, metadata=metadata)
    # Jinja's own messages describe the template; other exceptions' texts may quote subject
    # values (int("Müller")), so only their type is reported.
    detail = exc.message if isinstance(exc, TemplateError) else None
    return TemplateRenderError(
        f"{label} failed to render{where}: {detail or type(exc).__name__}", metadata=metadata
    )


def _undefined_error(
    label: str, subject: Mapping[str, Any], exc: UndefinedValue
) -> EudiConnectError | None:
    """Names the deepest missing subject field, or None if the value was not subject data."""
    name, obj = exc.name, exc.obj
    if obj is missing:
        # A top-level name: the template's only source of free variables is the subject.
        if not isinstance(name, str):
            return None
        field = name
    else:
        base = find_path(subject, obj)
        if base is None:
            return None
        if not isinstance(obj, Mapping | list | tuple):
            return InvalidSubjectFieldError(
                f"subject field {base!r} is invalid for {label}: expected an object or a list",
                metadata={"field": base},
            )
        if isinstance(name, int):
            field = f"{base}[{name}]"
        else:
            field = f"{base}.{name}" if base else str(name)
    return MissingSubjectFieldError(
        f"subject field {field!r} is required by {label}", metadata={"field": field}
    )
