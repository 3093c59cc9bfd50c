"""Files in and out: literal text, `-` for standard input, `@file`, JSON files, and
files only their owner may read.

A missing file or bad JSON is a `CliError` naming the file and, for a file name close to
one in the same folder, the likely one.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from eudi_connect.cli.failures import CliError, did_you_mean


def read_file(path: str | Path, what: str) -> str:
    """The text of a file, or CliError saying which `what` could not be read and why."""
    file = Path(path)
    try:
        return file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CliError(f"cannot read the {what} {str(path)!r}: no such file{_near(file)}") from None
    except IsADirectoryError:
        raise CliError(f"cannot read the {what} {str(path)!r}: it is a folder") from None
    except UnicodeDecodeError:
        raise CliError(f"cannot read the {what} {str(path)!r}: it is not UTF-8 text") from None
    except OSError as exc:
        raise CliError(f"cannot read the {what} {str(path)!r}: {exc.strerror}") from None


def read_bytes(path: str | Path, what: str) -> bytes:
    file = Path(path)
    try:
        return file.read_bytes()
    except FileNotFoundError:
        raise CliError(f"cannot read the {what} {str(path)!r}: no such file{_near(file)}") from None
    except OSError as exc:
        raise CliError(f"cannot read the {what} {str(path)!r}: {exc.strerror}") from None


def write_private(path: Path, text: str) -> None:
    """Writes (or replaces) a file only its owner may read."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
    except OSError as exc:
        raise CliError(f"cannot write {str(path)!r}: {exc.strerror}") from None


def _near(file: Path) -> str:
    """A did-you-mean for a file name close to one in the same folder."""
    try:
        names = [entry.name for entry in file.parent.iterdir()]
    except OSError:
        return ""
    return did_you_mean(file.name, names)


def read_text(value: str, what: str) -> str:
    """A literal, `-` for standard input, or `@path` for a file's text (stripped)."""
    if value == "-":
        return sys.stdin.read().strip()
    if value.startswith("@"):
        return read_file(value[1:], what).strip()
    return value


def parse_json(text: str, where: str) -> Any:
    """JSON, or CliError naming `where` it came from and the line and column of the fault."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(
            f"{where} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None


def read_json_object(value: str, what: str) -> dict[str, Any]:
    """A JSON object from a file path, `@path` or `-` (standard input)."""
    if value == "-":
        where, text = f"the {what} on standard input", sys.stdin.read()
    else:
        path = value.removeprefix("@")
        where, text = f"the {what} {path!r}", read_file(path, what)
    document = parse_json(text, where)
    if not isinstance(document, dict):
        raise CliError(f"{where} must hold a JSON object ({{...}}), not {_kind(document)}")
    return document


def read_json_value(value: str, what: str) -> Any:
    """JSON given inline, as `@path` or as `-`."""
    text = read_text(value, what)
    where = f"the {what}" + (f" {value[1:]!r}" if value.startswith("@") else "")
    return parse_json(text, where)


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return "a number"


#: Members of a JWK that belong to its private half (RFC 7518 section 6).
_PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


def read_public_jwk(value: str) -> str:
    """A holder's public JWK as JSON text, from JSON given inline, `@file` or `-`; a private
    key file (as `holder-key` writes) gives its public part."""
    jwk = read_json_value(value, "holder JWK")
    if not isinstance(jwk, dict):
        raise CliError(f"the holder JWK must be a JSON object, not {_kind(jwk)}")
    return json.dumps({k: v for k, v in jwk.items() if k not in _PRIVATE_JWK_MEMBERS})
