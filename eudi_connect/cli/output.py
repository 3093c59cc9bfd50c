"""One output convention for every command.

- JSON by default, with values in their JSON types: whole numbers as integers (claims
  arrive as protobuf Struct doubles, int64 fields would be strings in protobuf's own JSON),
  enum values by their short names (`REVOKED`, not `CREDENTIAL_STATUS_REVOKED`), and enum
  fields left out while UNSPECIFIED (a passed check has no failure).
- `--field PATH` prints one value: text as it is (for shell variables), anything else as
  compact JSON; a dotted path goes into objects and, through a list, into each element
  (one line each). `-q` prints the command's main value (the credential, the id, the
  status).
- `-o table` on commands that show lists: aligned columns for people.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
from typing import TYPE_CHECKING, Any

from eudi_connect.cli.failures import CliError, Exit

if TYPE_CHECKING:
    from google.protobuf.message import Message

#: Descriptors: the upb and the pure-Python ones have different stub types, and a field's
#: optional parts (message_type, enum_type) are set exactly where its type says.
FieldDescriptor = Any
EnumDescriptor = Any

#: Doubles at or above this are not all whole numbers exactly; they stay floats.
_MAX_EXACT_INT = 2**53
_CAMEL_BOUNDARY = re.compile(r"(?<!^)(?=[A-Z])")


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


def json_number(value: float) -> int | float:
    """A whole double as an int (1798748026.0 -> 1798748026), any other as it is."""
    return int(value) if value.is_integer() and abs(value) < _MAX_EXACT_INT else value


def plain_json(value: Any) -> Any:
    """Decoded JSON (or Struct data) with whole floats turned back into ints."""
    if isinstance(value, float):
        return json_number(value)
    if isinstance(value, dict):
        return {key: plain_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain_json(item) for item in value]
    return value


def enum_short_name(enum: EnumDescriptor, number: int) -> str | int:
    """`REVOKED` for CredentialStatus 3: the name without its enum's prefix."""
    value = enum.values_by_number.get(number)
    if value is None:
        return number
    prefix = _CAMEL_BOUNDARY.sub("_", enum.name).upper() + "_"
    name: str = value.name
    return name.removeprefix(prefix)


class Fields(dict[str, Any]):
    """A message as a JSON object; `unset` names the fields left out (a message or an
    optional value not set, an enum at UNSPECIFIED), which `--field` prints as nothing."""

    unset: frozenset[str] = frozenset()


def message_json(message: Message) -> Fields:
    """A message as JSON data under the conventions above (every field without presence
    is shown, so a 0 or false is never dropped)."""
    result = Fields()
    unset: set[str] = set()
    field: FieldDescriptor
    for field in message.DESCRIPTOR.fields:
        value = getattr(message, field.name)
        if field.is_repeated:
            if _is_map(field):
                value_field = field.message_type.fields_by_name["value"]
                result[field.name] = {
                    str(key): _field_json(value_field, item) for key, item in value.items()
                }
            else:
                result[field.name] = [_field_json(field, item) for item in value]
            continue
        if (field.has_presence and not message.HasField(field.name)) or (
            field.type == field.TYPE_ENUM and _unspecified(field, value)
        ):
            unset.add(field.name)
            continue
        result[field.name] = _field_json(field, value)
    result.unset = frozenset(unset)
    return result


def _is_map(field: FieldDescriptor) -> bool:
    return bool(field.type == field.TYPE_MESSAGE and field.message_type.GetOptions().map_entry)


def _unspecified(field: FieldDescriptor, number: int) -> bool:
    value = field.enum_type.values_by_number.get(number)
    return number == 0 and value is not None and value.name.endswith("_UNSPECIFIED")


def _field_json(field: FieldDescriptor, value: Any) -> Any:
    if field.type == field.TYPE_MESSAGE:
        return _message_value(value)
    if field.type == field.TYPE_ENUM:
        return enum_short_name(field.enum_type, value)
    if field.type == field.TYPE_BYTES:
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, float):
        return json_number(value)
    return value


def _message_value(message: Message) -> Any:
    name = message.DESCRIPTOR.full_name
    if name in ("google.protobuf.Timestamp", "google.protobuf.Duration"):
        return message.ToJsonString()  # type: ignore[attr-defined]
    if name == "google.protobuf.Struct":
        return {key: _value(item) for key, item in message.fields.items()}  # type: ignore[attr-defined]
    if name == "google.protobuf.ListValue":
        return [_value(item) for item in message.values]  # type: ignore[attr-defined]
    if name == "google.protobuf.Value":
        return _value(message)
    return message_json(message)


def _value(value: Any) -> Any:
    """A google.protobuf.Value as JSON data."""
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        return json_number(value.number_value)
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return _message_value(value.struct_value)
    if kind == "list_value":
        return _message_value(value.list_value)
    return None


# --- flags and printing --------------------------------------------------------------------


def add_output_flags(
    parser: argparse.ArgumentParser, *, quiet: str | None = None, table: bool = False
) -> None:
    """--field (and -q when the command has a main value `quiet`; -o table for lists)."""
    parser.add_argument(
        "--field",
        metavar="PATH",
        help="print only this field of the output (dotted for nested ones; through a list, "
        "each element's), text as it is, other values as JSON",
    )
    if quiet is not None:
        parser.add_argument(
            "-q", "--quiet", action="store_true", help=f"print only the {quiet} (--field {quiet})"
        )
    if table:
        parser.add_argument(
            "-o",
            "--output",
            choices=("json", "table"),
            default="json",
            help="json, or aligned columns for people",
        )
    parser.set_defaults(quiet_field=quiet)


def emit(args: argparse.Namespace, document: Any) -> None:
    """Prints a command's result as its flags ask."""
    path = getattr(args, "field", None)
    if path is None and getattr(args, "quiet", False):
        path = args.quiet_field
    if path is not None:
        for value in pick(document, path):
            print(value if isinstance(value, str) else _compact(value))
        return
    if getattr(args, "output", "json") == "table":
        print(table(document), end="")
        return
    print_json(document)


def pick(document: Any, path: str) -> list[Any]:
    """The values at a dotted path; a list met on the way is entered element by element.
    CliError (usage) when nothing in the document has that field."""
    values = [document]
    for part in path.split("."):
        found: list[Any] = []
        for value in values:
            found.extend(_step(value, part))
        values = found
    if not values and not _has_path(document, path):
        fields = ", ".join(_fields(document)) or "none"
        raise CliError(f"no field {path!r} in the output; its fields: {fields}", Exit.USAGE)
    return values


def _step(value: Any, part: str) -> list[Any]:
    if isinstance(value, dict):
        return [value[part]] if part in value else []
    if isinstance(value, list):
        if part.isdigit():
            return [value[int(part)]] if int(part) < len(value) else []
        return [item for element in value for item in _step(element, part)]
    return []


def _has_path(document: Any, path: str) -> bool:
    """Whether the path names a field, even one whose lists are empty now."""
    if isinstance(document, list):
        return not document or any(_has_path(element, path) for element in document)
    head, _, rest = path.partition(".")
    if not isinstance(document, dict):
        return False
    if head not in document:
        return head in getattr(document, "unset", ())
    return not rest or _has_path(document[head], rest)


def _fields(document: Any) -> list[str]:
    if isinstance(document, list):
        names: dict[str, None] = {}
        for element in document:
            names.update(dict.fromkeys(_fields(element)))
        return list(names)
    if not isinstance(document, dict):
        return []
    return [*document, *sorted(getattr(document, "unset", ()))]


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def table(document: Any) -> str:
    """A list of objects as aligned columns; an object as `name: value` lines, each of
    its lists of objects as a table under its name."""
    if isinstance(document, list):
        return _rows(document)
    if not isinstance(document, dict):
        return _cell(document) + "\n"
    lines = [f"{key}: {_cell(value)}" for key, value in document.items() if not _is_rows(value)]
    parts = ["\n".join(lines) + "\n"] if lines else []
    for key, value in document.items():
        if _is_rows(value):
            parts.append(f"{key}:\n{_rows(value)}")
    return "\n".join(parts)


def _is_rows(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, dict) for item in value)


def _rows(rows: list[Any]) -> str:
    if not rows:
        return "(none)\n"
    columns = _fields(rows)
    cells = [columns, *([_cell(row.get(column)) for column in columns] for row in rows)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        + "\n"
        for line in cells
    )


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return _compact(value)
