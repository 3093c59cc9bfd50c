"""`application/x-www-form-urlencoded` request bodies, read the same way for every wallet
endpoint: bounded before and while reading, strict UTF-8, a bounded number of fields,
no field twice (RFC 6749 section 3.2). Each protocol words the refusal in its own error."""

from __future__ import annotations

from typing import Literal
from urllib.parse import parse_qsl

from aiohttp import web

from eudi_connect.reasons import Reason

FORM_TYPE = "application/x-www-form-urlencoded"
FormProblem = Literal[Reason.BODY_NOT_FORM, Reason.BODY_TOO_LARGE, Reason.PARAMETER_REPEATED]


class FormError(Exception):
    def __init__(self, problem: FormProblem, message: str) -> None:
        super().__init__(message)
        self.problem = problem
        self.message = message


async def read_form(
    request: web.Request, *, what: str, max_bytes: int, max_fields: int
) -> dict[str, str]:
    """The form; FormError (naming `what`) for any body that is not one we read."""
    if request.content_type != FORM_TYPE:
        raise FormError(Reason.BODY_NOT_FORM, f"the {what} must be {FORM_TYPE}")
    if (request.content_length or 0) > max_bytes:
        raise FormError(Reason.BODY_TOO_LARGE, f"the {what} is too large")  # before reading
    raw = await request.read()  # aiohttp caps it at client_max_size (413 beyond)
    if len(raw) > max_bytes:
        raise FormError(Reason.BODY_TOO_LARGE, f"the {what} is too large")
    try:
        pairs = parse_qsl(
            raw.decode("utf-8"), keep_blank_values=True, errors="strict", max_num_fields=max_fields
        )
    except ValueError as exc:  # UnicodeDecodeError included
        raise FormError(Reason.BODY_NOT_FORM, f"the {what} is not a UTF-8 form") from exc
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise FormError(Reason.PARAMETER_REPEATED, f"{name[:64]} is repeated")
        form[name] = value
    return form
