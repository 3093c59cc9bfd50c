"""TemplateService over gRPC: CRUD, tenant isolation, etags, paging, validation, the sandbox,
cache invalidation, issuance with updated templates and notification rendering."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from eudi.connect.v1 import credential_service_pb2 as cpb
from eudi.connect.v1 import credential_service_pb2_grpc as cpb_grpc
from eudi.connect.v1 import template_service_pb2 as tpb
from eudi.connect.v1 import template_service_pb2_grpc as tpb_grpc
from google.protobuf import struct_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader

from eudi_connect.api.convert import dict_to_struct
from eudi_connect.api.server import TEMPLATE_SERVICE
from eudi_connect.api.template_servicer import template_draft
from eudi_connect.core.templates import PID_EXAMPLE_SUBJECT
from eudi_connect.monitoring.performance_metrics import PerformanceMonitor, monitor_installed
from eudi_connect.services.app import Services
from eudi_connect.services.template_admin import TemplateDraft
from eudi_connect.services.templates import CredentialTemplates
from eudi_connect.store.factory import open_store_from_url

from .conftest import Tenant
from .template_helpers import (
    DIPLOMA_DATA,
    credential_template,
    expect_error,
    expect_error_any,
    notification_template,
)

INVALID = grpc.StatusCode.INVALID_ARGUMENT


@pytest.fixture
def templates(channel: grpc.aio.Channel) -> tpb_grpc.TemplateServiceStub:
    return tpb_grpc.TemplateServiceStub(channel)


async def create(
    templates: tpb_grpc.TemplateServiceStub, tenant: Tenant, template: tpb.Template
) -> tpb.Template:
    response: tpb.CreateTemplateResponse = await templates.CreateTemplate(
        tpb.CreateTemplateRequest(template=template), metadata=tenant.metadata
    )
    return response.template


async def render(
    templates: tpb_grpc.TemplateServiceStub,
    tenant: Tenant,
    template_id: str,
    data: dict[str, Any],
    format: tpb.RenderFormat = tpb.RENDER_FORMAT_UNSPECIFIED,
) -> tpb.Rendering:
    response: tpb.RenderTemplateResponse = await templates.RenderTemplate(
        tpb.RenderTemplateRequest(
            template_id=template_id, format=format, data=dict_to_struct(data)
        ),
        metadata=tenant.metadata,
    )
    return response.rendering


def with_claims(claims_template: str, template_id: str = "diploma") -> tpb.Template:
    return credential_template(template_id, claims_template=claims_template)


# --- CRUD and isolation ------------------------------------------------------------------------


async def test_create_and_get_round_trip(
    templates: tpb_grpc.TemplateServiceStub, tenant: Tenant
) -> None:
    """A created credential template reads back with every field, at version 1 with an etag."""
    created = await create(templates, tenant, credential_template())
    assert (created.version, created.builtin, created.kind) == (
        1,
        False,
        tpb.TEMPLATE_KIND_CREDENTIAL,
    )
    assert created.etag
    assert created.create_time.seconds > 0
    fetched = (
        await templates.GetTemplate(
            tpb.GetTemplateRequest(template_id="diploma"), metadata=tenant.metadata
        )
    ).template
    assert fetched == created
    expected = credential_template()
    assert fetched.credential == expected.credential
    assert list(fetched.data_schema) == list(expected.data_schema)
    assert fetched.description == "A diploma"


async def test_builtin_pid_is_visible_and_read_only(
    templates: tpb_grpc.TemplateServiceStub, tenant: Tenant
) -> None:
    """Every tenant sees the built-in pid; updating, deleting or shadowing it is refused."""
    pid = (
        await templates.GetTemplate(
            tpb.GetTemplateRequest(template_id="pid"), metadata=tenant.metadata
        )
    ).template
    assert pid.builtin
    assert pid.credential.vct == "urn:eudi:pid:1"
    await expect_error(
        templates.UpdateTemplate(
            tpb.UpdateTemplateRequest(template=with_claims("{}", "pid"), etag=pid.etag),
            metadata=tenant.metadata,
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "TEMPLATE_READ_ONLY",
    )
    await expect_error(
        templates.DeleteTemplate(
            tpb.DeleteTemplateRequest(template_id="pid"), metadata=tenant.metadata
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "TEMPLATE_READ_ONLY",
    )
    await expect_error(
        templates.CreateTemplate(
            tpb.CreateTemplateRequest(template=credential_template("pid")),
            metadata=tenant.metadata,
        ),
        grpc.StatusCode.ALREADY_EXISTS,
        "TEMPLATE_ID_RESERVED",
    )


async def test_duplicate_id_already_exists(
    templates: tpb_grpc.TemplateServiceStub, tenant: Tenant
) -> None:
    """Creating an id the tenant already has is ALREADY_EXISTS with reason TEMPLATE_EXISTS."""
    await create(templates, tenant, credential_template())
    await expect_error(
        templates.CreateTemplate(
            tpb.CreateTemplateRequest(template=credential_template()), metadata=tenant.metadata
        ),
        grpc.StatusCode.ALREADY_EXISTS,
        "TEMPLATE_EXISTS",
    )


async def test_tenant_isolation(
    templates: tpb_grpc.TemplateServiceStub, tenant: Tenant, other_tenant: Tenant
) -> None:
    """Another tenant can neither read, list, render, change nor delete a tenant's template,
    and may use the same id for its own."""
    created = await create(templates, tenant, credential_template())
    for call in (
        templates.GetTemplate(
            tpb.GetTemplateRequest(template_id="diploma"), metadata=other_tenant.metadata
        ),
        templates.RenderTemplate(
            tpb.RenderTemplateRequest(template_id="diploma", data=dict_to_struct(DIPLOMA_DATA)),
            metadata=other_tenant.metadata,
        ),
        templates.UpdateTemplate(
            tpb.UpdateTemplateRequest(template=credential_template(), etag=created.etag),
            metadata=other_tenant.metadata,
        ),
        templates.DeleteTemplate(
            tpb.DeleteTemplateRequest(template_id="diploma"), metadata=other_tenant.metadata
        ),
    ):
        await expect_error(call, grpc.StatusCode.NOT_FOUND, "TEMPLATE_NOT_FOUND")
    listed = await templates.ListTemplates(
        tpb.ListTemplatesRequest(), metadata=other_tenant.metadata
    )
    assert [t.template_id for t in listed.templates] == ["mdl", "pid"]
    own = await create(
        templates, other_tenant, credential_template(claims_template='{"degree": {{ degree }}}')
    )
    assert own.version == 1
    mine = await render(templates, tenant, "diploma", DIPLOMA_DATA)
    theirs = await render(templates, other_tenant, "diploma", DIPLOMA_DATA)
    assert json.loads(mine.content)["given_name"] == "Erika"
    assert json.loads(theirs.content) == {"degree": "MSc"}


async def test_calls_need_an_api_key(templates: tpb_grpc.TemplateServiceStub) -> None:
    """TemplateService sits behind the same authentication as CredentialService."""
    await expect_error(
        templates.ListTemplates(tpb.ListTemplatesRequest()),
        grpc.StatusCode.UNAUTHENTICATED,
        "API_KEY_MISSING",
    )


async def test_health_reports_the_template_service(channel: grpc.aio.Channel) -> None:
    """The health service answers SERVING for TemplateService by name."""
    health = health_pb2_grpc.HealthStub(channel)
    response = await health.Check(health_pb2.HealthCheckRequest(service=TEMPLATE_SERVICE))
    assert response.status == health_pb2.HealthCheckResponse.SERVING


# --- etags ---------------------------------------------------------------------------------------


async def test_update_with_stale_etag_is_aborted(
    templates: tpb_grpc.TemplateServiceStub, tenant: Tenant
) -> None:
    """An update bumps the version and etag; the old etag then fails with ABORTED."""
    created = await create(templates, tenant, credential_template())
    updated = (
        await templates.UpdateTemplate(
            tpb.UpdateTemplateRequest(
                template=credential_template(vct="urn:example:diploma:2"), etag=created.etag
            ),
            metadata=tenant.metadata,
        )
    ).template
    assert updated.version == 2
    assert updated.etag != created.etag
    assert updated.credential.vct == "urn:example:diploma:2"
    assert updated.create_time == created.create_time
    _, info = await expect_error(
        templates.UpdateTemplate(
            tpb.UpdateTemplateRequest(template=credential_template(), etag=created.etag),
            metadata=tenant.metadata,
        ),
        grpc.StatusCode.ABORTED,
        "TEMPLATE_ETAG_MISMATCH",
    )
    assert info.metadata["current_etag"] == updated.etag


@pytest.mark.parametrize(
    ("etag", "reason"), [("", "ETAG_MISSING"), ("v1", "ETAG_INVALID"), ('"v0"', "ETAG_INVALID")]
)
async def test_update_needs_a_well_formed_etag(
    templates: tpb_grpc.TemplateServiceStub, tenant: Tenant, etag: str, reason: str
) -> None:
    """An update without an etag, or with one this service never issued, is INVALID_ARGUMENT."""
    await create(templates, tenant, credential_template())
    await expect_error(
        templates.UpdateTemplate(
            tpb.UpdateTemplateRequest(template=credential_template(), etag=etag),
            metadata=tenant.metadata,
        ),
        INVALID,
        reason,
    )


async def test_update_cannot_change_the_kind(
    templates: tpb_grpc.TemplateServiceStub, tenant: Tenant
) -> None:
    """Replacing a credential template by a notification template is refused."""
    created = await create(templates, tenant, credential_template())
    await expect_error(
        templates.UpdateTemplate(
            tpb.UpdateTemplateRequest(template=notification_template("diploma"), etag=created.etag),
            metadata=tenant.metadata,
        ),
        INVALID,
        "TEMPLATE_KIND_IMMUTABLE",
    )


async def test_delete_with_etag_and_recreate(
    templates: tpb_grpc.TemplateServiceStub, tenant: Tenant
) -> None:
    """Delete honours an etag; a re-created id continues the version, so old etags stay stale."""
    created = await create(templates, tenant, credential_template())
    updated = (
        await templates.UpdateTemplate(
            tpb.UpdateTemplateRequest(template=credential_template(), etag=created.etag),
            metadata=tenant.metadata,
        )
    ).template
    await expect_error(
        templates.DeleteTemplate(
            tpb.DeleteTemplateRequest(template_id="diploma", etag=created.etag),
            metadata=tenant.metadata,
        ),
        grpc.StatusCode.ABORTED,
        "TEMPLATE_ETAG_MISMATCH",
    )
    await templates.DeleteTemplate(
        tpb.DeleteTemplateRequest(template_id="diploma", etag=updated.etag),
        metadata=tenant.metadata,
    )
    await expect_error(
        templates.GetTemplate(
            tpb.GetTemplateRequest(template_id="diploma"), metadata=tenant.metadata
        ),
        grpc.StatusCode.NOT_FOUND,
        "TEMPLATE_NOT_FOUND",
    )
    await expect_error(
        templates.DeleteTemplate(
            tpb.DeleteTemplateRequest(template_id="diploma"), metadata=tenant.metadata
        ),
        grpc.StatusCode.NOT_FOUND,
        "TEMPLATE_NOT_FOUND",
    )
    again = await create(templates, tenant, credential_template())
    assert again.version == 4  # 1 created, 2 updated, 3 deleted
    for stale in (created.etag, updated.etag):
        await expect_error(
            templates.UpdateTemplate(
                tpb.UpdateTemplateRequest(template=credential_template(), etag=stale),
                metadata=tenant.metadata,
            ),
            grpc.StatusCode.ABORTED,
            "TEMPLATE_ETAG_MISMATCH",
        )


# --- paging --------------------------------------------------------------------------------------


async def test_list_pages_through_everything_once(
    templates: tpb_grpc.TemplateServiceStub, tenant: Tenant
) -> None:
    """Pages of 3 return every template (built-ins included) once, in id order, then stop."""
    ids = [f"t{n:02d}" for n in range(7)] + ["a-first"]
    for template_id in ids:
        await create(templates, tenant, credential_template(template_id))
    await create(templates, tenant, notification_template("note"))
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        page = await templates.ListTemplates(
            tpb.ListTemplatesRequest(page_size=3, page_token=token), metadata=tenant.metadata
        )
        pages += 1
        assert len(page.templates) <= 3
        seen += [t.template_id for t in page.templates]
        token = page.next_page_token
        if not token:
            break
        assert "t0" not in token  # opaque: not the raw id
    assert seen == sorted([*ids, "mdl", "note", "pid"])
    assert pages == 4
    notes = await templates.ListTemplates(
        tpb.ListTemplatesRequest(kind=tpb.TEMPLATE_KIND_NOTIFICATION), metadata=tenant.metadata
    )
    assert [t.template_id for t in notes.templates] == ["note"]
    huge = await templates.ListTemplates(
        tpb.ListTemplatesRequest(page_size=1_000_000), metadata=tenant.metadata
    )
    assert len(huge.templates) == len(seen)
    assert not huge.next_page_token


async def test_list_refuses_bad_paging_input(
    templates: tpb_grpc.TemplateServiceStub, tenant: Tenant
) -> None:
    """A forged token, a token reused with another filter and a negative size are refused."""
    for number in range(3):
        await create(templates, tenant, credential_template(f"t{number}"))
    first = await templates.ListTemplates(
        tpb.ListTemplatesRequest(page_size=1, kind=tpb.TEMPLATE_KIND_CREDENTIAL),
        metadata=tenant.metadata,
    )
    assert first.next_page_token
    for request, reason in (
        (tpb.ListTemplatesRequest(page_token="not-a-token"), "PAGE_TOKEN_INVALID"),
        (tpb.ListTemplatesRequest(page_token=first.next_page_token), "PAGE_TOKEN_INVALID"),
        (tpb.ListTemplatesRequest(page_size=-1), "PAGE_SIZE_INVALID"),
    ):
        await expect_error(
            templates.ListTemplates(request, metadata=tenant.metadata), INVALID, reason
        )


# --- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "reason", "metadata"),
    [
        pytest.param(
            with_claims('{\n  "a": {{ given_name }\n}'),
            "TEMPLATE_SYNTAX_ERROR",
            {"field": "claims_template", "line": "2", "column": "22"},
            id="syntax",
        ),
        pytest.param(
            with_claims('{\n  "a": {% if degree %}1\n}'),
            "TEMPLATE_SYNTAX_ERROR",
            {"field": "claims_template", "line": "3", "column": "2"},
            id="unclosed-block",
        ),
        pytest.param(
            with_claims('{"a": {{ degree | shout }}}'),
            "TEMPLATE_SYNTAX_ERROR",
            {"field": "claims_template", "line": "1", "column": "19"},
            id="unknown-filter",
        ),
        pytest.param(
            with_claims('{\n  "a": {{ degree }},\n  "b": {{ surname }}\n}'),
            "TEMPLATE_UNDEFINED_VARIABLE",
            {"field": "claims_template", "variable": "surname", "line": "3", "column": "11"},
            id="undefined-variable",
        ),
        pytest.param(
            credential_template(disclosable=("grades[",)),
            "TEMPLATE_INVALID",
            {"field": "disclosable"},
            id="bad-disclosable-path",
        ),
        pytest.param(
            credential_template(disclosable=("iss",)),
            "TEMPLATE_INVALID",
            {"field": "disclosable"},
            id="reserved-disclosable-claim",
        ),
        pytest.param(
            credential_template(default_validity_seconds=0),
            "TEMPLATE_INVALID",
            {"field": "default_validity_seconds"},
            id="zero-validity",
        ),
        pytest.param(
            credential_template(default_validity_seconds=100, max_validity_seconds=10),
            "TEMPLATE_INVALID",
            {"field": "max_validity_seconds"},
            id="max-below-default",
        ),
        pytest.param(
            credential_template(data_schema=("given name",)),
            "TEMPLATE_INVALID",
            {"field": "data_schema"},
            id="bad-schema-name",
        ),
        pytest.param(
            credential_template(data_schema=("today",)),
            "TEMPLATE_INVALID",
            {"field": "data_schema"},
            id="schema-shadows-today",
        ),
        pytest.param(
            notification_template(
                subject_template="Hello {{ holder_name }}", text_template="", html_template=""
            ),
            "TEMPLATE_INVALID",
            {"field": "text_template"},
            id="notification-without-body",
        ),
        pytest.param(
            notification_template(html_template="<p>{{ holder_name }</p>"),
            "TEMPLATE_SYNTAX_ERROR",
            {"field": "html_template", "line": "1", "column": "19"},
            id="notification-html-syntax",
        ),
        pytest.param(
            notification_template(subject_template="About {{ credential }}"),
            "TEMPLATE_UNDEFINED_VARIABLE",
            {"field": "subject_template", "variable": "credential", "line": "1", "column": "10"},
            id="notification-undefined",
        ),
        pytest.param(
            credential_template("bad id!"),
            "TEMPLATE_ID_INVALID",
            {"field": "template_id"},
            id="bad-template-id",
        ),
        pytest.param(
            tpb.Template(template_id="nothing"),
            "TEMPLATE_SPEC_MISSING",
            {"field": "spec"},
            id="no-spec",
        ),
    ],
)
async def test_create_validation_errors(
    templates: tpb_grpc.TemplateServiceStub,
    tenant: Tenant,
    template: tpb.Template,
    reason: str,
    metadata: dict[str, str],
) -> None:
    """Each invalid template is INVALID_ARGUMENT with its reason and position, and nothing is
    saved."""
    error, info = await expect_error(
        templates.CreateTemplate(
            tpb.CreateTemplateRequest(template=template), metadata=tenant.metadata
        ),
        INVALID,
        reason,
    )
    assert dict(info.metadata) == metadata
    if "line" in metadata:
        assert f"line {metadata['line']}, column {metadata['column']}" in (error.details() or "")
    listed = await templates.ListTemplates(tpb.ListTemplatesRequest(), metadata=tenant.metadata)
    assert [t.template_id for t in listed.templates] == ["mdl", "pid"]


async def test_invalid_update_keeps_the_stored_version(
    templates: tpb_grpc.TemplateServiceStub, tenant: Tenant
) -> None:
    """A refused update changes nothing: same version, same etag, same rendering."""
    created = await create(templates, tenant, credential_template())
    await expect_error(
        templates.UpdateTemplate(
            tpb.UpdateTemplateRequest(template=with_claims("{{ nope }}"), etag=created.etag),
            metadata=tenant.metadata,
        ),
        INVALID,
        "TEMPLATE_UNDEFINED_VARIABLE",
    )
    fetched = (
        await templates.GetTemplate(
            tpb.GetTemplateRequest(template_id="diploma"), metadata=tenant.metadata
        )
    ).template
    assert fetched == created
    rendering = await render(templates, tenant, "diploma", DIPLOMA_DATA)
    assert rendering.template_version == 1


# --- the sandbox ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ degree.__class__ }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{{ lipsum.__globals__['os'].popen('id').read() }}",
        "{{ self._TemplateReference__context }}",
        "{{ config.items() }}",
        "{% include '/etc/passwd' %}",
        "{% import 'os' as os %}{{ os }}",
        "{% extends 'base' %}",
        "{% macro m() %}{% endmacro %}{{ m() }}",
        "{{ degree | attr('__class__') }}",
        "{% set ns = namespace(a=1) %}{% set ns.a = 2 %}",
    ],
)
async def test_sandbox_escapes_are_refused_at_creation(
    templates: tpb_grpc.TemplateServiceStub, tenant: Tenant, source: str
) -> None:
    """Known Jinja escapes never get saved: INVALID_ARGUMENT (sandbox, syntax or schema)."""
    _, info = await expect_error_any(
        templates.CreateTemplate(
            tpb.CreateTemplateRequest(template=with_claims(source)), metadata=tenant.metadata
        ),
        INVALID,
        {"TEMPLATE_SANDBOX_VIOLATION", "TEMPLATE_SYNTAX_ERROR", "TEMPLATE_UNDEFINED_VARIABLE"},
    )
    assert "line" in info.metadata
    assert "column" in info.metadata


@pytest.mark.parametrize(
    ("claims_template", "reason"),
    [
        ('{"a": {{ degree * 100000000 }}}', "TEMPLATE_OUTPUT_TOO_LARGE"),
        ('{"a": {{ 2 ** 5000 }}}', "TEMPLATE_LIMIT_EXCEEDED"),
        (
            '{"a": [{% for i in range(1000) %}{% for j in range(1000) %}1,{% endfor %}'
            "{% endfor %}0]}",
            "TEMPLATE_LIMIT_EXCEEDED",
        ),
        ('{"a": {{ degree.format(1) }}}', "TEMPLATE_SANDBOX_VIOLATION"),
        ('{"a": {{ grades.append(1) }}}', "TEMPLATE_SANDBOX_VIOLATION"),
        ('{"iss": {{ degree }}}', "TEMPLATE_RESERVED_CLAIM"),
    ],
)
async def test_runtime_limits_hold_over_the_api(
    templates: tpb_grpc.TemplateServiceStub, tenant: Tenant, claims_template: str, reason: str
) -> None:
    """A template that is valid but abusive is stopped when it renders, with a precise reason."""
    await create(templates, tenant, with_claims(claims_template))
    await expect_error(
        templates.RenderTemplate(
            tpb.RenderTemplateRequest(template_id="diploma", data=dict_to_struct(DIPLOMA_DATA)),
            metadata=tenant.metadata,
        ),
        INVALID,
        reason,
    )


# --- rendering -----------------------------------------------------------------------------------


async def test_render_credential_returns_claims_json(
    templates: tpb_grpc.TemplateServiceStub, tenant: Tenant
) -> None:
    """A credential template renders to the claims object as JSON; outputs are JSON-encoded."""
    await create(templates, tenant, credential_template())
    data = {**DIPLOMA_DATA, "degree": 'M"Sc", "iss": "evil'}
    rendering = await render(templates, tenant, "diploma", data)
    assert rendering.format == tpb.RENDER_FORMAT_JSON
    assert rendering.subject == ""
    assert json.loads(rendering.content) == {
        "given_name": "Erika",
        "degree": 'M"Sc", "iss": "evil',
        "grades": ["A", "B"],
    }
    _, info = await expect_error(
        templates.RenderTemplate(
            tpb.RenderTemplateRequest(
                template_id="diploma", data=dict_to_struct({"given_name": "Erika"})
            ),
            metadata=tenant.metadata,
        ),
        INVALID,
        "SUBJECT_FIELD_MISSING",
    )
    assert info.metadata["field"] == "degree"
    await expect_error(
        templates.RenderTemplate(
            tpb.RenderTemplateRequest(
                template_id="diploma",
                format=tpb.RENDER_FORMAT_HTML,
                data=dict_to_struct(DIPLOMA_DATA),
            ),
            metadata=tenant.metadata,
        ),
        INVALID,
        "TEMPLATE_FORMAT_UNSUPPORTED",
    )


async def test_render_builtin_pid(templates: tpb_grpc.TemplateServiceStub, tenant: Tenant) -> None:
    """The built-in pid renders for any tenant without being created."""
    rendering = await render(templates, tenant, "pid", dict(PID_EXAMPLE_SUBJECT))
    claims = json.loads(rendering.content)
    assert claims["family_name"] == "Mustermann"
    assert claims["age_equal_or_over"] == {"18": True}


async def test_notification_text_and_html(
    templates: tpb_grpc.TemplateServiceStub, tenant: Tenant
) -> None:
    """TEXT writes data as is; HTML escapes it; the subject line is one line in both."""
    await create(
        templates,
        tenant,
        notification_template(subject_template="Your {{ credential_type }}\r\nBcc: x@evil"),
    )
    data = {"holder_name": "<script>alert('x')</script> & Co", "credential_type": "PID"}
    text = await render(templates, tenant, "revoked-mail", data)  # TEXT is the default
    assert text.format == tpb.RENDER_FORMAT_TEXT
    assert text.subject == "Your PID Bcc: x@evil"
    assert text.content == "Dear <script>alert('x')</script> & Co,\nyour PID was revoked."
    html = await render(templates, tenant, "revoked-mail", data, tpb.RENDER_FORMAT_HTML)
    assert html.format == tpb.RENDER_FORMAT_HTML
    assert html.subject == text.subject
    assert html.content == (
        "<p>Dear &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; Co,</p>"
        "<p>your PID was revoked.</p>"
    )
    await expect_error(
        templates.RenderTemplate(
            tpb.RenderTemplateRequest(
                template_id="revoked-mail",
                format=tpb.RENDER_FORMAT_JSON,
                data=dict_to_struct(data),
            ),
            metadata=tenant.metadata,
        ),
        INVALID,
        "TEMPLATE_FORMAT_UNSUPPORTED",
    )


async def test_notification_without_html_body(
    templates: tpb_grpc.TemplateServiceStub, tenant: Tenant
) -> None:
    """Asking for a body the template does not have is FAILED_PRECONDITION."""
    await create(templates, tenant, notification_template(html_template=""))
    await expect_error(
        templates.RenderTemplate(
            tpb.RenderTemplateRequest(
                template_id="revoked-mail",
                format=tpb.RENDER_FORMAT_HTML,
                data=dict_to_struct({"holder_name": "E", "credential_type": "PID"}),
            ),
            metadata=tenant.metadata,
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "TEMPLATE_FORMAT_UNAVAILABLE",
    )


async def test_render_batch_keeps_order_and_errors_in_place(
    templates: tpb_grpc.TemplateServiceStub, tenant: Tenant
) -> None:
    """Each item gets its own result at its own index; a bad item fails alone."""
    await create(templates, tenant, notification_template())
    items = [
        {"holder_name": "Ann", "credential_type": "PID"},
        {"holder_name": "Bob"},  # credential_type missing
        {"holder_name": "<Cy>", "credential_type": "mDL"},
    ]
    response = await templates.RenderTemplateBatch(
        tpb.RenderTemplateBatchRequest(
            template_id="revoked-mail",
            format=tpb.RENDER_FORMAT_HTML,
            items=[dict_to_struct(item) for item in items],
        ),
        metadata=tenant.metadata,
    )
    assert [r.index for r in response.results] == [0, 1, 2]
    assert [r.WhichOneof("outcome") for r in response.results] == [
        "rendering",
        "error",
        "rendering",
    ]
    assert response.results[0].rendering.subject == "Your PID was revoked"
    assert "&lt;Cy&gt;" in response.results[2].rendering.content
    error = response.results[1].error
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert "credential_type" in error.message


async def test_render_batch_refuses_too_many_items(
    templates: tpb_grpc.TemplateServiceStub, tenant: Tenant
) -> None:
    """More than 1000 items in one batch is INVALID_ARGUMENT with reason BATCH_TOO_LARGE."""
    await expect_error(
        templates.RenderTemplateBatch(
            tpb.RenderTemplateBatchRequest(
                template_id="pid", items=[struct_pb2.Struct() for _ in range(1001)]
            ),
            metadata=tenant.metadata,
        ),
        INVALID,
        "BATCH_TOO_LARGE",
    )


# --- caches and issuance -------------------------------------------------------------------------


async def test_update_invalidates_only_that_template(
    templates: tpb_grpc.TemplateServiceStub,
    tenant: Tenant,
    other_tenant: Tenant,
    services: Services,
) -> None:
    """Updating one template drops its compiled entries only (the new version arrives
    compiled by the save's check); others keep rendering warm."""
    environment = services.templates.environment
    a = await create(templates, tenant, credential_template("a"))
    await create(templates, tenant, credential_template("b"))
    await create(templates, other_tenant, credential_template("a"))
    for who, template_id in ((tenant, "a"), (tenant, "b"), (other_tenant, "a")):
        await render(templates, who, template_id, DIPLOMA_DATA)
    assert environment.cached_versions(tenant.tenant_id, "a") == {(1, "claims")}
    before = environment.cache_stats()
    await templates.UpdateTemplate(
        tpb.UpdateTemplateRequest(
            template=credential_template("a", vct="urn:example:v2"), etag=a.etag
        ),
        metadata=tenant.metadata,
    )
    after_update = environment.cache_stats()
    assert after_update.invalidated - before.invalidated == 1
    assert after_update.loaded - before.loaded == 1  # only tenant/a at version 2
    assert environment.cached_versions(tenant.tenant_id, "a") == {(2, "claims")}
    assert environment.cached_versions(tenant.tenant_id, "b") == {(1, "claims")}
    assert environment.cached_versions(other_tenant.tenant_id, "a") == {(1, "claims")}
    for who, template_id in ((tenant, "b"), (other_tenant, "a"), (tenant, "a")):
        await render(templates, who, template_id, DIPLOMA_DATA)
    after = environment.cache_stats()
    assert after.compiles == before.compiles  # every render found its version compiled
    assert environment.cached_versions(tenant.tenant_id, "a") == {(2, "claims")}


async def test_issuing_uses_an_updated_template_at_once(
    templates: tpb_grpc.TemplateServiceStub, stub: cpb_grpc.CredentialServiceStub, tenant: Tenant
) -> None:
    """The first issuance after an update carries the new vct and claims."""
    created = await create(templates, tenant, credential_template())

    async def issue_and_verify() -> cpb.VerifyCredentialResponse:
        issued = await stub.IssueCredential(
            cpb.IssueCredentialRequest(template_id="diploma", subject=dict_to_struct(DIPLOMA_DATA)),
            metadata=tenant.metadata,
        )
        verified: cpb.VerifyCredentialResponse = await stub.VerifyCredential(
            cpb.VerifyCredentialRequest(credential=issued.credential), metadata=tenant.metadata
        )
        return verified

    first = await issue_and_verify()
    assert first.valid
    assert first.vct == "urn:example:diploma:1"
    assert first.claims["degree"] == "MSc"
    await templates.UpdateTemplate(
        tpb.UpdateTemplateRequest(
            template=credential_template(
                vct="urn:example:diploma:2",
                claims_template='{"degree": {{ degree }}, "honours": true}',
            ),
            etag=created.etag,
        ),
        metadata=tenant.metadata,
    )
    second = await issue_and_verify()
    assert second.valid
    assert second.vct == "urn:example:diploma:2"
    assert second.claims["honours"] is True
    assert "given_name" not in second.claims


async def test_issuing_with_a_notification_template_is_refused(
    templates: tpb_grpc.TemplateServiceStub, stub: cpb_grpc.CredentialServiceStub, tenant: Tenant
) -> None:
    """A notification template cannot issue credentials."""
    await create(templates, tenant, notification_template())
    await expect_error(
        stub.IssueCredential(
            cpb.IssueCredentialRequest(
                template_id="revoked-mail", subject=dict_to_struct(DIPLOMA_DATA)
            ),
            metadata=tenant.metadata,
        ),
        INVALID,
        "TEMPLATE_KIND_MISMATCH",
    )


@pytest.fixture
async def second_instance(db_url: str) -> AsyncIterator[CredentialTemplates]:
    """The template lookups of a second server instance on the same database."""
    store = open_store_from_url(db_url)
    await store.open()
    yield CredentialTemplates(store=store)
    await store.close()


async def test_another_instance_sees_an_update_at_once(
    templates: tpb_grpc.TemplateServiceStub,
    tenant: Tenant,
    second_instance: CredentialTemplates,
) -> None:
    """An instance that cached version 1 uses version 2 right after another instance's update,
    and forgets a template deleted elsewhere."""
    created = await create(templates, tenant, credential_template())
    cached = await second_instance.get(tenant.tenant_id, "diploma")
    second_instance.render_claims(cached, DIPLOMA_DATA)
    assert cached.version == 1
    await templates.UpdateTemplate(
        tpb.UpdateTemplateRequest(
            template=credential_template(claims_template='{"degree": {{ degree }}}'),
            etag=created.etag,
        ),
        metadata=tenant.metadata,
    )
    fresh = await second_instance.get(tenant.tenant_id, "diploma")
    assert fresh.version == 2
    assert second_instance.render_claims(fresh, DIPLOMA_DATA) == {"degree": "MSc"}
    assert second_instance.environment.cached_versions(tenant.tenant_id, "diploma") == {
        (2, "claims")
    }
    await templates.DeleteTemplate(
        tpb.DeleteTemplateRequest(template_id="diploma"), metadata=tenant.metadata
    )
    with pytest.raises(Exception, match="not found"):
        await second_instance.get(tenant.tenant_id, "diploma")
    assert second_instance.environment.cached_versions(tenant.tenant_id, "diploma") == set()


async def test_batch_issuance_looks_a_template_up_once(
    templates: tpb_grpc.TemplateServiceStub,
    stub: cpb_grpc.CredentialServiceStub,
    tenant: Tenant,
    services: Services,
) -> None:
    """A batch of 50 credentials from one tenant template reads its version once per group
    (one streamed message each), not 50 times."""
    await create(templates, tenant, credential_template())
    request = cpb.IssueCredentialRequest(
        template_id="diploma", subject=dict_to_struct(DIPLOMA_DATA)
    )
    before = services.templates.store_version_reads
    messages = [
        message
        async for message in stub.IssueCredentialBatch(
            cpb.IssueCredentialBatchRequest(
                items=cpb.IssueCredentialBatchItems(items=[request] * 50)
            ),
            metadata=tenant.metadata,
        )
    ]
    results = [result for message in messages for result in message.results]
    assert [r.WhichOneof("outcome") for r in results] == ["credential"] * 50
    assert 1 < len(messages) < 50
    assert services.templates.store_version_reads - before == len(messages)


async def test_renders_are_timed_as_template_render(services: Services, tenant: Tenant) -> None:
    """Each render, single or batch, records one operation.time point named template.render."""
    reader = InMemoryMetricReader()
    monitor = PerformanceMonitor(MeterProvider(metric_readers=[reader]))
    await services.template_service.create(
        tenant.tenant_id, TemplateDraft(template_draft(notification_template()).template)
    )
    data = {"holder_name": "Ann", "credential_type": "PID"}
    with monitor_installed(monitor):
        await services.template_service.render(tenant.tenant_id, "revoked-mail", data)
        await services.template_service.render_many(
            tenant.tenant_id, "revoked-mail", [data, data], format="html"
        )
    metrics = reader.get_metrics_data()
    assert metrics is not None
    points = [
        (dict(point.attributes or {}), point)
        for resource in metrics.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == "operation.time"
        for point in metric.data.data_points
        if isinstance(point, HistogramDataPoint)
    ]
    renders = {
        attributes["template.format"]: (attributes, point.count)
        for attributes, point in points
        if attributes.get("operation") == "template.render"
    }
    assert set(renders) == {"text", "html"}
    assert renders["html"][0]["template.items"] == 2
    assert renders["text"][0]["template.kind"] == "notification"
    assert [count for _, count in renders.values()] == [1, 1]
