"""The ghz configs in ``loadtest/ghz/``: loading them, their ``${NAME}`` placeholders, and
what ghz makes of their ``{{.UUID}}``-style call templates.

Each config is plain ghz JSON (https://ghz.sh/docs/options): ``call``, ``data``,
``metadata``, ``concurrency``, ``total``, ``host``, ``insecure``, and no ``proto`` field, so
ghz resolves the method through the server's reflection service. Values that only exist
at run time are written as ``${NAME}`` placeholders (``envsubst`` syntax, which never clashes
with ghz's own call templates).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "GHZ_DIR",
    "PLACEHOLDERS",
    "load_configs",
    "placeholders_in",
    "render_call_templates",
    "substitute",
]

GHZ_DIR = Path(__file__).resolve().parents[1] / "ghz"
PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")
# The ghz call-template actions the configs use, and how `render_call_templates` fills them.
CALL_TEMPLATE = re.compile(r"\{\{\s*(\.UUID|\.RequestNumber|\.WorkerID|newUUID)\s*\}\}")
PLACEHOLDERS = (
    "EUDI_CONNECT_API_KEY",
    "EUDI_CONNECT_CREDENTIAL",
    "EUDI_CONNECT_CREDENTIAL_ID",
    "EUDI_CONNECT_STATUS_LIST_ID",
    "EUDI_CONNECT_REVOKE_CREDENTIAL_ID",
    "EUDI_CONNECT_SUSPEND_CREDENTIAL_ID",
)
# Suspension before reinstatement, so that the reinstate config finds a suspended credential.
RUN_ORDER = (
    "get_issuer_keys",
    "issue_credential",
    "issue_credential_batch",
    "issue_credential_stream",
    "verify_credential",
    "get_credential_status",
    "get_status_list",
    "suspend_credential",
    "reinstate_credential",
    "revoke_credential",
)


def load_configs(folder: Path = GHZ_DIR) -> dict[str, dict[str, Any]]:
    """Every ``*.json`` config in ``folder``, by file stem, in run order."""
    configs = {path.stem: json.loads(path.read_text("utf-8")) for path in folder.glob("*.json")}
    rank = {name: i for i, name in enumerate(RUN_ORDER)}
    return dict(sorted(configs.items(), key=lambda item: (rank.get(item[0], 99), item[0])))


def _walk_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _walk_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk_strings(item)


def placeholders_in(config: Mapping[str, Any]) -> set[str]:
    """The ``${NAME}`` placeholders a config uses."""
    return {match for text in _walk_strings(config) for match in PLACEHOLDER.findall(text)}


def _map_strings(value: Any, convert: Any) -> Any:
    if isinstance(value, str):
        return convert(value)
    if isinstance(value, Mapping):
        return {key: _map_strings(item, convert) for key, item in value.items()}
    if isinstance(value, list):
        return [_map_strings(item, convert) for item in value]
    return value


def substitute(config: Mapping[str, Any], values: Mapping[str, str]) -> dict[str, Any]:
    """The config with every ``${NAME}`` replaced; raises KeyError for a missing value."""

    def fill(text: str) -> str:
        return PLACEHOLDER.sub(lambda match: values[match.group(1)], text)

    result: dict[str, Any] = _map_strings(config, fill)
    return result


def render_call_templates(data: Any, request_number: int = 0) -> Any:
    """What ghz makes of ``{{.UUID}}``-style actions for one call (for sending by hand).

    Only the actions these configs use are known; anything else raises ValueError, so a
    new action in a config is noticed by the tests rather than sent as literal text.
    """
    call_uuid = str(uuid.uuid4())

    def fill(text: str) -> str:
        def action(match: re.Match[str]) -> str:
            name = match.group(1)
            if name == ".RequestNumber":
                return str(request_number)
            if name == ".WorkerID":
                return "g0c0"
            return call_uuid if name == ".UUID" else str(uuid.uuid4())

        filled = CALL_TEMPLATE.sub(action, text)
        if "{{" in filled:
            raise ValueError(f"unknown ghz call template action in {text!r}")
        return filled

    return _map_strings(data, fill)
