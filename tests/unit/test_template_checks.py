"""Save-time checks of template sources, notification rendering and the compile cache."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from eudi_connect.core.templates import (
    BUILTIN_TEMPLATES,
    CredentialTemplate,
    InvalidTemplateError,
    MissingSubjectFieldError,
    NotificationFormat,
    NotificationTemplate,
    TemplateEnvironment,
    TemplateRenderError,
)


@pytest.fixture
def env() -> TemplateEnvironment:
    return TemplateEnvironment()


def claims(
    source: str, *schema: str, template_id: str = "t", version: int = 1
) -> CredentialTemplate:
    return CredentialTemplate(
        template_id=template_id,
        vct="urn:t",
        claims_template=source,
        disclosable=(),
        default_validity_seconds=60,
        max_validity_seconds=60,
        data_schema=schema,
        version=version,
        tenant_id="tenant",
    )


def note(
    *,
    subject: str = "Hi {{ name }}",
    text: str = "",
    html: str = "",
    schema: tuple[str, ...] = ("name",),
) -> NotificationTemplate:
    return NotificationTemplate(
        template_id="n",
        subject_template=subject,
        text_template=text,
        html_template=html,
        data_schema=schema,
        tenant_id="tenant",
    )


@pytest.mark.parametrize(
    ("source", "reason", "line", "column"),
    [
        ('{"a": {{ x }', "TEMPLATE_SYNTAX_ERROR", 1, 12),
        ('{\n"a":\n    {{ x + }}\n}', "TEMPLATE_SYNTAX_ERROR", 3, 12),
        ('{"a": {{ x | nope }}}', "TEMPLATE_SYNTAX_ERROR", 1, 14),
        ('{"a": {% frobnicate %}}', "TEMPLATE_SYNTAX_ERROR", 1, 10),
        ('{"a": {{ "open }}}', "TEMPLATE_SYNTAX_ERROR", 1, 10),
        ('{"a": {% for i in x %}}', "TEMPLATE_SYNTAX_ERROR", 1, 24),
        ('{\r\n"a": {{ x }},\r\n"b": {{ y }}\r\n}', "TEMPLATE_UNDEFINED_VARIABLE", 3, 9),
        ('{"a": {{ x.y }}, "b": {{ z.x }}}', "TEMPLATE_UNDEFINED_VARIABLE", 1, 26),
        ('{"a": {{ x.__class__ }}}', "TEMPLATE_SANDBOX_VIOLATION", 1, 12),
        ('{"a": {{ lipsum }}}', "TEMPLATE_SANDBOX_VIOLATION", 1, 10),
    ],
)
def test_source_errors_have_line_and_column(
    env: TemplateEnvironment, source: str, reason: str, line: int, column: int
) -> None:
    """Each refused source names the field and the 1-based line and column of the fault."""
    with pytest.raises(InvalidTemplateError) as caught:
        env.check_credential(claims(source, "x"))
    assert caught.value.reason == reason
    assert caught.value.metadata["field"] == "claims_template"
    assert (caught.value.metadata["line"], caught.value.metadata["column"]) == (
        str(line),
        str(column),
    )
    assert f"line {line}, column {column}" in caught.value.message


def test_undefined_variable_names_the_variable(env: TemplateEnvironment) -> None:
    """The first undeclared variable read is named; loop targets and set names are not."""
    source = '{% set k = 1 %}{"a": [{% for i in x %}{{ i + k }}{% endfor %}], "b": {{ nope }}}'
    with pytest.raises(InvalidTemplateError) as caught:
        env.check_credential(claims(source, "x"))
    assert caught.value.metadata["variable"] == "nope"


def test_implicit_names_need_no_declaration(env: TemplateEnvironment) -> None:
    """`subject`, `today` and `range` are always available to claims templates."""
    env.check_credential(
        claims('{"a": {{ subject["odd-key"] }}, "b": {{ today }}, "c": {{ range(2) | list }}}')
    )


def test_builtin_pid_passes_its_own_schema(env: TemplateEnvironment) -> None:
    """The built-in PID template declares exactly the fields it reads."""
    env.check_credential(BUILTIN_TEMPLATES["pid"])


@pytest.mark.parametrize("schema", [("a b",), ("_x",), ("x", "x"), ("subject",), ("1x",)])
def test_bad_data_schema(schema: tuple[str, ...]) -> None:
    """Schema names must be distinct identifiers not defined by the renderer."""
    with pytest.raises(InvalidTemplateError) as caught:
        claims("{}", *schema)
    assert caught.value.metadata["field"] == "data_schema"


def test_notification_text_html_and_subject(env: TemplateEnvironment) -> None:
    """TEXT writes values plainly, HTML escapes them, the subject line is a single line."""
    template = note(
        subject="New\n{{ name }}",
        text="{{ name }} {{ n }} {{ ok }} {{ none }} {{ items }}",
        html="<b>{{ name }}</b>{% for i in items %}<i>{{ i ~ '&' }}</i>{% endfor %}",
        schema=("name", "n", "ok", "none", "items"),
    )
    env.check_notification(template)
    data = {"name": "<A&B>", "n": 2.5, "ok": False, "none": None, "items": ["<x>", 1]}
    text = env.render_notification(template, data, NotificationFormat.TEXT)
    assert text.subject == "New <A&B>"
    assert text.body == '<A&B> 2.5 false  ["<x>",1]'
    html = env.render_notification(template, data, NotificationFormat.HTML)
    assert html.body == "<b>&lt;A&amp;B&gt;</b><i>&lt;x&gt;&amp;</i><i>1&amp;</i>"


def test_notification_today_and_missing_data(env: TemplateEnvironment) -> None:
    """`today` is the render date; a missing field is reported by name."""
    template = note(text="on {{ today }}")
    now = datetime(2030, 5, 6, tzinfo=UTC)
    rendered = env.render_notification(template, {"name": "x"}, NotificationFormat.TEXT, now=now)
    assert rendered.body == "on 2030-05-06"
    with pytest.raises(MissingSubjectFieldError):
        env.render_notification(template, {}, NotificationFormat.TEXT)


def test_html_escape_cannot_be_switched_off(env: TemplateEnvironment) -> None:
    """`safe`, autoescape blocks and markup helpers are not available."""
    for source in (
        "{{ name | safe }}",
        "{% autoescape false %}{{ name }}{% endautoescape %}",
        "{{ name | forceescape }}",
    ):
        with pytest.raises(InvalidTemplateError):
            env.check_notification(note(html=source))


def test_missing_body_format(env: TemplateEnvironment) -> None:
    """Rendering a format the template has no body for is refused."""
    with pytest.raises(TemplateRenderError) as caught:
        env.render_notification(note(text="x"), {"name": "a"}, NotificationFormat.HTML)
    assert caught.value.reason == "TEMPLATE_FORMAT_UNAVAILABLE"


def test_notification_needs_a_body() -> None:
    """A notification template without a text or HTML body is invalid."""
    with pytest.raises(InvalidTemplateError):
        note()


def test_cache_stats_and_selective_invalidation(env: TemplateEnvironment) -> None:
    """Hits do not compile; invalidating one template drops all its entries and only those."""
    a1, b1 = claims('{"a": {{ x }}}', "x"), claims('{"b": {{ x }}}', "x", template_id="b")
    n = note(text="{{ name }}", html="{{ name }}")
    for _ in range(3):
        env.render_claims(a1, {"x": 1})
        env.render_claims(b1, {"x": 1})
        env.render_notification(n, {"name": "x"}, NotificationFormat.TEXT)
        env.render_notification(n, {"name": "x"}, NotificationFormat.HTML)
    stats = env.cache_stats()
    assert (stats.entries, stats.compiles) == (5, 5)  # a, b, n subject/text/html
    assert stats.hits == 3 * 6 - 5
    assert env.invalidate("tenant", "n") == 3
    assert env.cached_versions("tenant", "b") == {(1, "claims")}
    env.render_claims(claims('{"a": {{ x }}, "v": 2}', "x", version=2), {"x": 1})
    assert env.cached_versions("tenant", "t") == {(1, "claims"), (2, "claims")}
    assert env.invalidate("tenant", "t") == 2
    assert env.cache_stats().invalidated == 5


@pytest.mark.parametrize(
    ("source", "column"),
    [
        ('{"name": "{{ name }}"}', 11),
        ('{"greeting": "Dear {{ name }}!"}', 20),
        ('{"{{ name }}": 1}', 3),
        ('{"a": "say \\"hi\\"", "b": "{{ name }}"}', 27),
    ],
)
def test_an_output_inside_a_json_string_is_refused_on_save(
    env: TemplateEnvironment, source: str, column: int
) -> None:
    """A `{{ }}` within quotes in a claims template is refused at save, where it is."""
    with pytest.raises(InvalidTemplateError) as caught:
        env.check_credential(claims(source, "name"))
    assert caught.value.reason == "TEMPLATE_QUOTED_OUTPUT"
    assert caught.value.metadata == {"field": "claims_template", "line": "1", "column": str(column)}


@pytest.mark.parametrize(
    "source",
    [
        '{"name": {{ name }}}',
        '{"a": "x\\"y", "b": {{ name }}, "c": "}}"}',
        '{"a": {{ name | as_str }}{% if name %}, "b": "fixed"{% endif %}}',
    ],
)
def test_outputs_outside_json_strings_are_accepted(env: TemplateEnvironment, source: str) -> None:
    """Escaped quotes and strings before, after or beside an output do not trip the check."""
    env.check_credential(claims(source, "name"))


def test_a_notification_may_quote_an_output(env: TemplateEnvironment) -> None:
    """Notification templates write plain text, where quotes around a value are text."""
    env.check_notification(note(subject='Your "{{ name }}" credential', text='"{{ name }}"'))
