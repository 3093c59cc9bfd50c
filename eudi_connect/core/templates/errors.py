"""Errors raised while defining and rendering credential templates.

All are `InvalidArgumentError`s: the template or the subject in the request is wrong, and the
same request cannot succeed unchanged. The `reason` says which part is wrong:

=============================  =====================================================
SUBJECT_FIELD_MISSING          the template reads a subject field that is absent
SUBJECT_FIELD_INVALID          a subject field has the wrong type or format
TEMPLATE_INVALID               a CredentialTemplate field is unusable (bad path, validity)
TEMPLATE_SYNTAX_ERROR          the Jinja2 source does not parse or names an unknown filter
TEMPLATE_QUOTED_OUTPUT         a claims template puts a {{ ... }} inside a JSON string
TEMPLATE_SANDBOX_VIOLATION     the template reaches for something the sandbox forbids
TEMPLATE_OUTPUT_TOO_LARGE      the output, or a value built on the way, exceeds the limit
TEMPLATE_LIMIT_EXCEEDED        too many loop iterations, too large a number, too long a run
TEMPLATE_RESERVED_CLAIM        the output sets a claim the issuer owns (iss, exp, cnf, ...)
TEMPLATE_RENDER_FAILED         anything else: output not a JSON object, a runtime error
=============================  =====================================================
"""

from __future__ import annotations

from eudi_connect.errors import InvalidArgumentError
from eudi_connect.reasons import Reason


class InvalidTemplateError(InvalidArgumentError):
    """A credential template definition that can never issue a credential."""

    default_reason = Reason.TEMPLATE_INVALID


class MissingSubjectFieldError(InvalidArgumentError):
    """The subject lacks a field the template reads; `metadata["field"]` names it."""

    default_reason = Reason.SUBJECT_FIELD_MISSING


class InvalidSubjectFieldError(InvalidArgumentError):
    """A subject field has the wrong type or format; `metadata["field"]` names it if known."""

    default_reason = Reason.SUBJECT_FIELD_INVALID


class TemplateRenderError(InvalidArgumentError):
    """The template itself failed: it does not compile, breaks the sandbox or a limit, or
    renders something that is not a JSON object of claims."""

    default_reason = Reason.TEMPLATE_RENDER_FAILED
