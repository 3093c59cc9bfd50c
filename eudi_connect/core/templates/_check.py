"""Checks a template source when it is saved: syntax, sandbox policy, unknown filters and
variables that the declared data schema does not name, each with a line and a column.

Jinja reports only line numbers, and its syntax tree keeps no columns. So the source is
lexed here with each token's offset recorded (the lexer yields the raw text of every token
in order, so each one is found by searching forward from the previous), the parser is run
on those tokens, and a failure is placed at the token the parser stood on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass

from jinja2 import meta, nodes
from jinja2.exceptions import TemplateSyntaxError
from jinja2.lexer import (
    TOKEN_DATA,
    TOKEN_DOT,
    TOKEN_NAME,
    TOKEN_VARIABLE_BEGIN,
    Token,
    TokenStream,
)
from jinja2.parser import Parser

from eudi_connect.reasons import Reason

from ._compile import OutputMode, PolicyViolation, Prepared, check_policy, prepare_tree
from ._sandbox import ClaimsSandbox, LiteralTooLarge
from .errors import InvalidTemplateError

_NEWLINES = re.compile(r"\r\n|\r|\n")
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}", re.ASCII)


#: At most this many names in a data schema.
MAX_SCHEMA_NAMES = 256


@dataclass(frozen=True, slots=True)
class Position:
    line: int
    column: int  # 1-based, in characters


class _PositionedTokens:
    """Lexes a source while recording where each token starts."""

    def __init__(self, environment: ClaimsSandbox, source: str) -> None:
        self._environment = environment
        # The lexer joins lines with "\n" and drops one trailing newline; offsets refer to
        # the text it actually saw.
        self.source = _NEWLINES.sub("\n", source)
        self.starts: dict[int, int] = {}  # id(token) -> offset
        self.tokens: list[Token] = []  # keeps the tokens alive, so ids stay unique
        self.lexed_to = 0  # offset just past the last raw token lexed
        self.failed_at: int | None = None  # where lexing failed, if it did
        self._last_start = 0
        self._lexer_failed = False

    def _raw(self) -> Iterator[tuple[int, str, str]]:
        raw = self._environment.lexer.tokeniter(self.source, None)
        while True:
            try:
                lineno, kind, value = next(raw)
            except StopIteration:
                return
            except TemplateSyntaxError:
                self._lexer_failed = True
                raise
            if value:
                start = self.source.find(value, self.lexed_to)
                self._last_start = start if start >= 0 else self.lexed_to
                self.lexed_to = self._last_start + len(value)
            else:
                self._last_start = self.lexed_to
            yield lineno, kind, value

    def stream(self) -> Iterator[Token]:
        tokens = self._environment.lexer.wrap(self._raw())
        while True:
            try:
                token = next(tokens)
            except StopIteration:
                return
            except TemplateSyntaxError:
                # In the lexer: the next character it could not take; in the conversion of
                # a token's value (a bad string, a bad identifier): that token.
                self.failed_at = (
                    self.next_visible(self.lexed_to) if self._lexer_failed else self._last_start
                )
                raise
            self.starts[id(token)] = self._last_start
            self.tokens.append(token)
            yield token

    def drain(self) -> None:
        """Lexes the whole source (to find where lexing fails)."""
        for _ in self.stream():
            pass

    def position(self, offset: int) -> Position:
        offset = max(0, min(offset, len(self.source)))
        line_start = self.source.rfind("\n", 0, offset) + 1
        return Position(self.source.count("\n", 0, offset) + 1, offset - line_start + 1)

    def next_visible(self, offset: int) -> int:
        """The first offset at or after `offset` that is not white space."""
        while offset < len(self.source) and self.source[offset].isspace():
            offset += 1
        return offset

    def name_position(self, name: str, line: int | None) -> Position | None:
        """Where `name` is first read as a variable (not as an attribute) on `line`."""
        previous: Token | None = None
        for token in self.tokens:
            if (
                token.type == TOKEN_NAME
                and token.value == name
                and (line is None or token.lineno == line)
                and (previous is None or previous.type != TOKEN_DOT)
            ):
                return self.position(self.starts[id(token)])
            previous = token
        return None


def parse_with_positions(
    environment: ClaimsSandbox, source: str, *, field: str
) -> tuple[nodes.Template, _PositionedTokens]:
    """The syntax tree, or InvalidTemplateError(TEMPLATE_SYNTAX_ERROR) with line and column."""
    tokens = _PositionedTokens(environment, source)
    parser: Parser | None = None
    try:
        # The parser lexes its first token on construction; it is replaced at once.
        parser = Parser(environment, tokens.source)
        parser.stream = TokenStream(tokens.stream(), None, None)
        return parser.parse(), tokens
    except TemplateSyntaxError as exc:
        if parser is None:  # the very first token did not lex
            with suppress(TemplateSyntaxError):
                tokens.drain()
        current = parser.stream.current if parser is not None else None
        if tokens.failed_at is not None:
            offset = tokens.failed_at
        elif current is not None and id(current) in tokens.starts:
            offset = tokens.starts[id(current)]
        else:  # at the end of the template
            offset = tokens.next_visible(tokens.lexed_to)
        # The lexer's "unexpected char '$' at 19" counts from the start; the column says it.
        message = re.sub(r" at \d+$", "", exc.message or "invalid syntax")
        reason = Reason.TEMPLATE_SYNTAX_ERROR
        if isinstance(exc, LiteralTooLarge):
            reason = Reason.TEMPLATE_LIMIT_EXCEEDED
        raise _syntax_error(field, message, tokens.position(offset), reason=reason) from None
    except (RecursionError, SyntaxError):
        raise _syntax_error(field, "nested too deeply", tokens.position(tokens.lexed_to)) from None


def check_source(
    environment: ClaimsSandbox,
    source: str,
    *,
    field: str,
    output: OutputMode,
    declared: Iterable[str],
    implicit: Iterable[str] = (),
    filename: str | None = None,
) -> Prepared:
    """Refuses a source that cannot compile in `environment` or that reads a variable
    neither `declared` (the data schema) nor `implicit` (what the renderer adds, such as
    `today`). Errors name the `field` and carry line and column in their metadata. Returns
    the compiled template (named `filename` in tracebacks)."""
    tree, tokens = parse_with_positions(environment, source, field=field)
    if output == "json":
        _refuse_quoted_output(tokens, field)
    allowed = {*declared, *implicit, *environment.globals}
    try:
        check_policy(tree)
        # Compiles the tree once (without the rewriting): unknown filters fail here.
        undeclared = meta.find_undeclared_variables(tree) - allowed
        if undeclared:
            name, position = _first_read(tree, tokens, undeclared)
            raise InvalidTemplateError(
                f"{field} {_where(position)}: variable {name!r} is not in data_schema",
                reason=Reason.TEMPLATE_UNDEFINED_VARIABLE,
                metadata={"field": field, "variable": name, **_position_metadata(position)},
            )
        return prepare_tree(environment, tree, filename or f"<check {field}>", output=output)
    except PolicyViolation as exc:
        position = _line_position(tokens, exc.lineno, _quoted(str(exc)))
        raise InvalidTemplateError(
            f"{field} {_where(position)}: {exc}",
            reason=Reason.TEMPLATE_SANDBOX_VIOLATION,
            metadata={"field": field, **_position_metadata(position)},
        ) from None
    except TemplateSyntaxError as exc:  # an unknown filter or test, found by the compiler
        position = _line_position(tokens, exc.lineno, _quoted(exc.message or ""))
        raise _syntax_error(field, exc.message or "invalid syntax", position) from None
    except (RecursionError, SyntaxError):
        raise _syntax_error(field, "nested too deeply", tokens.position(0)) from None


def check_data_schema(names: Iterable[str], *, reserved: Iterable[str] = ()) -> tuple[str, ...]:
    """The schema as a tuple, refused unless every name is a distinct identifier that the
    renderer does not itself define."""
    schema = tuple(names)
    taken = frozenset(reserved)
    if len(schema) > MAX_SCHEMA_NAMES:
        raise _schema_error(f"data_schema lists more than {MAX_SCHEMA_NAMES} names")
    for name in schema:
        if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
            raise _schema_error(
                f"data_schema name {name!r} must be an identifier: a letter, then letters, "
                "digits or '_' (at most 64)"
            )
        if name in taken:
            raise _schema_error(f"data_schema name {name!r} is defined by the renderer")
    if len(set(schema)) != len(schema):
        raise _schema_error("data_schema lists a name twice")
    return schema


# -- helpers ----------------------------------------------------------------------------------


def _refuse_quoted_output(tokens: _PositionedTokens, field: str) -> None:
    """Refuses a `{{ ... }}` inside a JSON string of the template text (`"{{ name }}"`).

    Every output of a claims template is written as JSON, quotes included, so inside a
    string it renders `""Erika""` (broken JSON) or turns a number into text. The text
    between tags is scanned for JSON strings, backslash escapes included."""
    in_string = escaped = False
    for token in tokens.tokens:
        if token.type == TOKEN_DATA:
            for char in token.value:
                if escaped:
                    escaped = False
                elif in_string and char == "\\":
                    escaped = True
                elif char == '"':
                    in_string = not in_string
        elif token.type == TOKEN_VARIABLE_BEGIN and in_string:
            position = tokens.position(tokens.starts[id(token)])
            raise InvalidTemplateError(
                f"{field} {_where(position)}: {{{{ ... }}}} is inside a JSON string; every "
                "{{ ... }} writes a JSON value with its own quotes, so drop the quotes around "
                'it ("name": {{ name }}, not "name": "{{ name }}")',
                reason=Reason.TEMPLATE_QUOTED_OUTPUT,
                metadata={"field": field, **_position_metadata(position)},
            )


def _first_read(
    tree: nodes.Template, tokens: _PositionedTokens, names: set[str]
) -> tuple[str, Position | None]:
    reads = [
        (node.lineno, node.name)
        for node in tree.find_all(nodes.Name)
        if node.ctx == "load" and node.name in names
    ]
    candidates = []
    for lineno, name in sorted(set(reads)):
        position = tokens.name_position(name, lineno)
        candidates.append((position or Position(lineno, 1), name))
    if not candidates:
        name = min(names)
        return name, tokens.name_position(name, None)
    position, name = min(candidates, key=lambda item: (item[0].line, item[0].column))
    return name, position


def _quoted(message: str) -> str | None:
    """The first 'quoted' word of a Jinja message: the filter, name or attribute it is about."""
    match = re.search(r"'([A-Za-z_][A-Za-z0-9_]*)'", message)
    return match.group(1) if match else None


def _line_position(tokens: _PositionedTokens, line: int | None, name: str | None) -> Position:
    if line is None:
        return Position(1, 1)
    if name is not None:
        for token in tokens.tokens:
            if token.lineno == line and token.type == TOKEN_NAME and token.value == name:
                return tokens.position(tokens.starts[id(token)])
    for token in tokens.tokens:  # the first token on that line
        if token.lineno == line:
            return tokens.position(tokens.starts[id(token)])
    return Position(line, 1)


def _where(position: Position | None) -> str:
    if position is None:
        return ""
    return f"line {position.line}, column {position.column}"


def _position_metadata(position: Position | None) -> dict[str, str]:
    if position is None:
        return {}
    return {"line": str(position.line), "column": str(position.column)}


def _syntax_error(
    field: str, message: str, position: Position, *, reason: Reason = Reason.TEMPLATE_SYNTAX_ERROR
) -> InvalidTemplateError:
    return InvalidTemplateError(
        f"{field} {_where(position)}: {message}",
        reason=reason,
        metadata={"field": field, **_position_metadata(position)},
    )


def _schema_error(message: str) -> InvalidTemplateError:
    return InvalidTemplateError(message, metadata={"field": "data_schema"})
