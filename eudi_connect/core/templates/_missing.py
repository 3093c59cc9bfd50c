"""Every subject field a failed render lacks, and the fields the template never reads.

A render stops at the first subject field it needs and does not find. So that a caller can
fix a subject in one go, the refusal also names the other fields the template is bound to
need: the subject paths its source reads unconditionally, found in its parse tree. A read is
unconditional when nothing the subject holds can skip it: it is not inside an `if` branch,
a loop body, either arm of `a if b else c` or the right of `and` / `or`, and it uses the
value (prints it, passes it to a filter other than `default`, tests its truth, computes with
it) rather than asking whether it is defined. Reads the analysis cannot follow (a variable
set in the template, a key computed at render time) are left out, so every field named is
one the template needs; the render's own first field is always named.

The fields outside the template's `data_schema` are named too (with the schema name each
most likely misspells): a template reads nothing else, so such a field is never issued.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from jinja2 import Environment, nodes
from jinja2.exceptions import TemplateSyntaxError

from eudi_connect.core.spelling import with_guesses

from .credential import CREDENTIAL_IMPLICIT_NAMES, CredentialTemplate
from .errors import MissingSubjectFieldError

#: At most this many missing fields, and this many unread ones, are named in one refusal
#: (each name at most `_MAX_NAME_CHARS`): the error travels in gRPC trailers.
MAX_MISSING_LISTED = 32
MAX_UNREAD_LISTED = 10
_MAX_NAME_CHARS = 64

#: Filters that take an undefined value without failing.
_TOLERANT_FILTERS = frozenset({"default", "d"})
#: The whole subject, as templates may name it.
_SUBJECT = "subject"
#: Names the renderer defines, which are never subject fields (`range` is the one global).
_RENDERER_NAMES = (CREDENTIAL_IMPLICIT_NAMES - {_SUBJECT}) | {"range"}

Step = str | int
Path = tuple[Step, ...]


@dataclass(frozen=True, slots=True)
class _Reads:
    """What a claims source reads: the paths it needs, in source order; the subject fields
    it names through `subject` (`subject.x`, `subject["x"]`); and whether it reads
    `subject` in a way that may reach any field."""

    required: tuple[Path, ...]
    through_subject: frozenset[str]
    any_field: bool


def every_missing_field(
    error: MissingSubjectFieldError, template: CredentialTemplate, subject: Mapping[str, object]
) -> MissingSubjectFieldError:
    """The refusal for `error` (the render's first missing field), naming every field the
    subject lacks and every field the template does not read. Same reason; metadata
    `field` is still the first field, `fields` all of them (comma-separated) and
    `unread_fields` those outside the schema."""
    try:
        reads = _reads_of(template.claims_template)
    except (RecursionError, TemplateSyntaxError):  # it compiled, but keep the first field
        return error
    first = error.metadata.get("field", "")
    missing = _dedupe([first, *(_absent(subject, path) for path in reads.required)])
    unread = [] if reads.any_field else _unread(subject, template, reads)
    listed = missing[:MAX_MISSING_LISTED]
    label = f"template {template.template_id!r}"
    if len(listed) == 1:
        message = f"subject field {listed[0]!r} is required by {label}"
    else:
        more = len(missing) - len(listed)
        tail = f" and {more} more" if more else ""
        names = ", ".join(repr(name) for name in listed)
        message = f"subject fields {names}{tail} are required by {label}"
    metadata = {**error.metadata, "fields": ",".join(listed)}
    if unread:
        shown = [name[:_MAX_NAME_CHARS] for name in unread[:MAX_UNREAD_LISTED]]
        more = len(unread) - len(shown)
        message += (
            f"; it does not read the subject field(s) {with_guesses(shown, template.data_schema)}"
            + (f" and {more} more" if more else "")
        )
        metadata["unread_fields"] = ",".join(shown)
    return MissingSubjectFieldError(message, metadata=metadata)


def _dedupe(names: Iterable[str | None]) -> list[str]:
    return list(dict.fromkeys(name for name in names if name))


def _unread(
    subject: Mapping[str, object], template: CredentialTemplate, reads: _Reads
) -> list[str]:
    known = {*template.data_schema, *reads.through_subject}
    return [str(name) for name in subject if name not in known]


def _absent(subject: Mapping[str, object], path: Path) -> str | None:
    """The first prefix of `path` the subject lacks ("place_of_birth.locality"), or None
    when it has the whole path or holds something else on the way (a different error)."""
    value: object = subject
    text = ""
    for step in path:
        if isinstance(step, int):
            text += f"[{step}]"
            if not isinstance(value, list | tuple):
                return None
            if not -len(value) <= step < len(value):
                return text
            value = value[step]
            continue
        text = f"{text}.{step}" if text else step
        if not isinstance(value, Mapping):
            return None
        if step not in value:
            # Below the top, the sandbox finds a mapping's methods (`x.items`) too.
            return None if value is not subject and hasattr(value, step) else text
        value = value[step]
    return None


@functools.lru_cache(maxsize=256)
def _reads_of(source: str) -> _Reads:
    """`_Reads` of a claims source; cached, since a batch of subjects for one template
    may fail alike item after item."""
    tree = _PARSER.parse(source)
    assigned = frozenset(
        name.name for name in tree.find_all(nodes.Name) if name.ctx in ("store", "param")
    )
    finder = _RequiredReads(assigned)
    finder.statements(tree.body)
    through_subject, any_field = _subject_reads(tree)
    return _Reads(tuple(dict.fromkeys(finder.required)), through_subject, any_field)


#: Parsing needs no filters or sandbox, only the syntax, which is Jinja's default; this
#: environment never renders anything.
_PARSER = Environment(autoescape=True)


def _subject_reads(tree: nodes.Template) -> tuple[frozenset[str], bool]:
    """The fields read as `subject.x` or `subject["x"]`, and whether `subject` is also used
    otherwise (whole, or with a computed key): then any field may be read."""
    named: set[str] = set()
    uses = sum(
        1 for name in tree.find_all(nodes.Name) if name.name == _SUBJECT and name.ctx == "load"
    )
    for node in tree.find_all(nodes.Expr):
        key: Step | None
        if isinstance(node, nodes.Getattr):
            base, key = node.node, node.attr
        elif isinstance(node, nodes.Getitem):
            base, key = node.node, _const_key(node.arg)
        else:
            continue
        if isinstance(base, nodes.Name) and base.name == _SUBJECT and isinstance(key, str):
            named.add(key)
            uses -= 1
    return frozenset(named), uses > 0


def _const_key(node: nodes.Node) -> Step | None:
    if isinstance(node, nodes.Const):
        value = node.value
        if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
            return value
    return None


class _RequiredReads:
    """Walks the statements every render runs, collecting the subject paths they use."""

    def __init__(self, assigned: frozenset[str]) -> None:
        self._assigned = assigned
        self.required: list[Path] = []

    def statements(self, body: Iterable[nodes.Node]) -> None:
        for node in body:
            if isinstance(node, nodes.Output):
                for child in node.nodes:
                    if not isinstance(child, nodes.TemplateData):
                        self.expression(child, uses=True)
            elif isinstance(node, nodes.If):
                self.expression(node.test, uses=True)  # the branches may not run
            elif isinstance(node, nodes.For):
                self.expression(node.iter, uses=True)  # the body may run no time
            # Anything else (set, with, filter blocks) is not followed.

    def expression(self, node: nodes.Node, *, uses: bool) -> None:
        """Records what `node` reads; `uses`: its value is used, not just looked up."""
        path = self._path(node)
        if path is not None:
            # Looking up `a.b` evaluates `a` even when `b` itself is only tested.
            needed = path if uses else path[:-1]
            if needed:
                self.required.append(needed)
            return
        for child, child_uses in self._children(node):
            self.expression(child, uses=child_uses)

    def _children(self, node: nodes.Node) -> Iterator[tuple[nodes.Node, bool]]:
        """The sub-expressions evaluated whenever `node` is, and whether each is used."""
        if isinstance(node, nodes.Filter):
            if node.node is not None:
                yield node.node, node.name not in _TOLERANT_FILTERS
        elif isinstance(node, nodes.Test):
            yield node.node, False
        elif isinstance(node, nodes.Getattr | nodes.Getitem):
            yield node.node, True
        elif isinstance(node, nodes.Call):
            yield node.node, False
        elif isinstance(node, nodes.And | nodes.Or):
            yield node.left, True  # the right side may be skipped
        elif isinstance(node, nodes.CondExpr):
            yield node.test, True  # only one arm runs
        elif isinstance(node, nodes.BinExpr):
            yield node.left, True
            yield node.right, True
        elif isinstance(node, nodes.UnaryExpr):
            yield node.node, True
        elif isinstance(node, nodes.Concat):
            for child in node.nodes:
                yield child, True
        elif isinstance(node, nodes.Compare) and all(
            operand.op not in ("in", "notin") for operand in node.ops
        ):
            yield node.expr, True
            for operand in node.ops:
                yield operand.expr, True
        # Literals, slices and the rest: their parts need not fail on an undefined value.

    def _path(self, node: nodes.Node) -> Path | None:
        """The subject path of `a.b[0]` or `subject.a`, when every step is static."""
        steps: list[Step] = []
        while not isinstance(node, nodes.Name):
            if isinstance(node, nodes.Getattr):
                steps.append(node.attr)
            elif isinstance(node, nodes.Getitem):
                key = _const_key(node.arg)
                if key is None:
                    return None
                steps.append(key)
            else:
                return None
            node = node.node
        steps.reverse()
        if node.name in self._assigned or node.name in _RENDERER_NAMES:
            return None
        if node.name == _SUBJECT:
            return tuple(steps) if steps and isinstance(steps[0], str) else None
        return (node.name, *steps)
