"""Credential templates: a `vct`, a sandboxed Jinja2 mapping from subject data to claims,
the selectively disclosable claim paths and validity bounds."""

from .builtin import BUILTIN_TEMPLATES, PID_EXAMPLE_SUBJECT, builtin_template
from .credential import CredentialTemplate
from .environment import TemplateEnvironment
from .errors import (
    InvalidSubjectFieldError,
    InvalidTemplateError,
    MissingSubjectFieldError,
    TemplateRenderError,
)

__all__ = [
    "BUILTIN_TEMPLATES",
    "PID_EXAMPLE_SUBJECT",
    "CredentialTemplate",
    "InvalidSubjectFieldError",
    "InvalidTemplateError",
    "MissingSubjectFieldError",
    "TemplateEnvironment",
    "TemplateRenderError",
    "builtin_template",
]
