"""What goes wrong with the data a template reads: undefined values (reported as data, so
that errors can name the missing subject field) and subject values a filter refused."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

from jinja2 import StrictUndefined, Undefined
from jinja2.exceptions import UndefinedError


class SubjectValueError(ValueError):
    """A subject filter refused its input; `field` is the subject path when it is known."""

    def __init__(self, problem: str, field: str | None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.field = field


class UndefinedValue(UndefinedError):
    """An undefined value was used; keeps what was looked up (`name`) and on what (`obj`)."""

    def __init__(self, message: str, *, name: str | int | None, obj: object) -> None:
        super().__init__(message)
        self.name = name
        self.obj = obj


class ClaimsUndefined(StrictUndefined):
    """StrictUndefined that reports what was missing as data, not only as message text."""

    __slots__ = ()

    def _fail_with_undefined_error(self, *args: Any, **kwargs: Any) -> NoReturn:
        if self._undefined_exception is UndefinedError:
            raise UndefinedValue(
                self._undefined_message, name=self._undefined_name, obj=self._undefined_obj
            )
        raise self._undefined_exception(self._undefined_message)


# Undefined and StrictUndefined alias their dunders (__str__, __iter__, __eq__ ...) to the base
# class's function object, so the override above would only be reached through __getattr__.
for _name, _member in {**vars(Undefined), **vars(StrictUndefined)}.items():
    if _member is Undefined._fail_with_undefined_error:
        setattr(ClaimsUndefined, _name, ClaimsUndefined._fail_with_undefined_error)
del _name, _member


def fail_if_undefined(value: object) -> None:
    """Filters receive undefined values unevaluated; using one must raise, as in templates."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()


def find_path(root: Mapping[str, Any], target: object) -> str | None:
    """Where `target` sits inside the subject, by identity ("" for the subject itself)."""
    if target is root:
        return ""
    stack: list[tuple[object, str]] = [(root, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, Mapping):
            children: Iterable[tuple[str, object]] = (
                (f"{path}.{key}" if path else str(key), item) for key, item in value.items()
            )
        elif isinstance(value, list | tuple):
            children = ((f"{path}[{index}]", item) for index, item in enumerate(value))
        else:
            continue
        for child_path, item in children:
            if item is target:
                return child_path
            stack.append((item, child_path))
    return None
