"""Template rendering benchmark: renders/s for single and batch renders, cold (first compile)
against warm cache, and the cost of invalidating one template while others are rendered.

    python -m loadtest.benchmark_templates --num-templates 5 --num-alerts 100 [--grpc]

Each of `--num-templates` notification templates (an alert about a credential event, with a
subject line, a text and an HTML body) is rendered for `--num-alerts` alerts. In-process runs
go through the services (`TemplateService`, the same code the gRPC servicer calls) on a
temporary SQLite database; `--grpc` adds the same single-vs-batch comparison against a real
server process on loopback. One run, one machine: compare rows with each other.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import grpc
from eudi.connect.v1 import template_service_pb2 as tpb
from eudi.connect.v1 import template_service_pb2_grpc as tpb_grpc

from eudi_connect.api.convert import dict_to_struct
from eudi_connect.core.keys import MasterKey
from eudi_connect.core.templates import (
    BUILTIN_TEMPLATES,
    PID_EXAMPLE_SUBJECT,
    NotificationEvent,
    NotificationFormat,
    NotificationTemplate,
)
from eudi_connect.services.app import Services, open_services
from eudi_connect.services.issuance import IssueCommand
from eudi_connect.services.templates import (
    CredentialTemplates,
    RenderFormat,
    TemplateDraft,
    TemplateService,
)
from loadtest.lib.cpu import plan_cpus
from loadtest.lib.report import format_table, write_json
from loadtest.lib.service import ServiceUnderTest

EVENTS = list(NotificationEvent)
SCHEMA = ("holder_name", "credential_type", "credential_id", "reason", "days_left", "links")
SUBJECT = "{{ credential_type }} {{ credential_id }}: {{ event_label }}"
TEXT = """\
Dear {{ holder_name }},

your {{ credential_type }} ({{ credential_id }}) {{ event_label }}
{%- if reason %}: {{ reason }}{% endif %}.
{% if days_left is not none %}It expires in {{ days_left }} days.{% endif %}
{% for link in links %}- {{ link }}
{% endfor %}"""
HTML = """\
<html><body>
<p>Dear {{ holder_name }},</p>
<p>your <b>{{ credential_type }}</b> (<code>{{ credential_id }}</code>) {{ event_label }}
{%- if reason %}: <i>{{ reason }}</i>{% endif %}.</p>
{% if days_left is not none %}<p>It expires in {{ days_left }} days.</p>{% endif %}
<ul>{% for link in links %}<li><a href="{{ link }}">{{ link }}</a></li>{% endfor %}</ul>
</body></html>"""


def alert_template(number: int, *, variant: int = 0) -> NotificationTemplate:
    event = EVENTS[number % len(EVENTS)]
    label = event.value.replace("credential_", "was ")
    return NotificationTemplate(
        template_id=f"alert-{number}",
        subject_template=SUBJECT.replace("{{ event_label }}", f"{label} (v{variant})"),
        text_template=TEXT.replace("{{ event_label }}", label),
        html_template=HTML.replace("{{ event_label }}", label),
        event=event,
        data_schema=SCHEMA,
    )


def alert_data(number: int) -> dict[str, Any]:
    return {
        "holder_name": f"Holder <{number}> & family",
        "credential_type": "PID",
        "credential_id": f"{number:032x}",
        "reason": "device lost" if number % 3 == 0 else "",
        "days_left": number % 30 if number % 2 == 0 else None,
        "links": [f"https://issuer.example/c/{number}", "https://issuer.example/help"],
    }


def _row(run: str, renders: int, seconds: float, note: str = "") -> dict[str, Any]:
    return {
        "run": run,
        "renders": renders,
        "seconds": round(seconds, 4),
        "renders_per_s": round(renders / seconds, 1) if seconds else 0.0,
        "us_per_render": round(seconds / renders * 1e6, 1) if renders else 0.0,
        "note": note,
    }


# --- in-process ----------------------------------------------------------------------------------


async def _timed(work: Callable[[], Awaitable[int]]) -> tuple[int, float]:
    start = time.perf_counter()
    count = await work()
    return count, time.perf_counter() - start


async def in_process(
    num_templates: int, num_alerts: int, rounds: int, issuances: int, db_url: str
) -> list[dict[str, Any]]:
    services = await open_services(db_url, master_key=MasterKey.generate())
    try:
        return await _in_process_runs(services, num_templates, num_alerts, rounds, issuances)
    finally:
        await services.close()


async def _issuance_rows(services: Services, tenant: str, count: int) -> list[dict[str, Any]]:
    """Issuance hot path: the built-in pid (no store read for the template) against a
    tenant credential template of the same shape (one version read per issuance)."""
    if count < 1:
        return []
    pid = BUILTIN_TEMPLATES["pid"]
    await services.template_service.create(
        tenant, TemplateDraft(replace(pid, template_id="my-pid", tenant_id=None))
    )
    notes = {"pid": "built-in: no store read", "my-pid": "tenant: 1 version read"}
    commands = {
        template_id: IssueCommand(template_id=template_id, subject=PID_EXAMPLE_SUBJECT)
        for template_id in notes
    }
    for command in commands.values():
        await services.issuance.issue(tenant, command)  # warm: key, lease, compile
    # Interleaved blocks, so that a noisy neighbour slows both alike.
    spent = dict.fromkeys(notes, 0.0)
    blocks = 6
    per_block = max(1, count // blocks)
    for _ in range(blocks):
        for template_id, command in commands.items():
            start = time.perf_counter()
            for _ in range(per_block):
                await services.issuance.issue(tenant, command)
            spent[template_id] += _since(start)
    return [
        _row(
            f"IssueCredential in process, {template_id}",
            per_block * blocks,
            spent[template_id],
            note,
        )
        for template_id, note in notes.items()
    ]


def _since(start: float) -> float:
    return time.perf_counter() - start


async def _in_process_runs(
    services: Services, num_templates: int, num_alerts: int, rounds: int, issuances: int
) -> list[dict[str, Any]]:
    tenant = (await services.tenants.create_tenant("bench")).tenant_id
    service = services.template_service
    registry = services.templates
    environment = registry.environment
    ids = [f"alert-{n}" for n in range(num_templates)]
    for number in range(num_templates):
        await service.create(tenant, TemplateDraft(alert_template(number)))
    alerts = [alert_data(n) for n in range(num_alerts)]
    formats: list[RenderFormat] = ["text", "html"]
    rows: list[dict[str, Any]] = []

    # Cold: the first render of a template after its caches were dropped (store read of the
    # row, parse, compile subject + body), against a warm render of the same template.
    cold: list[float] = []
    warm: list[float] = []
    for _ in range(rounds):
        for template_id in ids:
            registry.forget(tenant, template_id)
            start = time.perf_counter()
            await service.render(tenant, template_id, alerts[0], format="html")
            cold.append(time.perf_counter() - start)
            start = time.perf_counter()
            await service.render(tenant, template_id, alerts[0], format="html")
            warm.append(time.perf_counter() - start)
    rows.append(
        _row("cold: first render after invalidation", len(cold), sum(cold), "store + compile")
    )
    rows.append(_row("warm: same template, next render", len(warm), sum(warm), "cache hit"))

    async def singles(svc: TemplateService) -> int:
        count = 0
        for _ in range(rounds):
            for template_id in ids:
                for fmt in formats:
                    for alert in alerts:
                        await svc.render(tenant, template_id, alert, format=fmt)
                        count += 1
        return count

    async def batches(svc: TemplateService) -> int:
        count = 0
        for _ in range(rounds):
            for template_id in ids:
                for fmt in formats:
                    results = await svc.render_many(tenant, template_id, alerts, format=fmt)
                    count += len(results)
        return count

    compiles = environment.compile_count()
    count, seconds = await _timed(lambda: singles(service))
    rows.append(
        _row(
            "single renders (version check per render)",
            count,
            seconds,
            f"compiles +{environment.compile_count() - compiles}",
        )
    )
    # The same with the version checked at most once a second: what the store read costs.
    ttl_registry = CredentialTemplates(environment, store=services.store, version_ttl_seconds=1.0)
    ttl_service = TemplateService(services.store, ttl_registry)
    count, seconds = await _timed(lambda: singles(ttl_service))
    rows.append(_row("single renders (version TTL 1 s)", count, seconds, "no store read"))
    count, seconds = await _timed(lambda: batches(service))
    rows.append(
        _row(f"batch renders ({num_alerts} items per call)", count, seconds, "one check per call")
    )

    templates = [await registry.resolve(tenant, template_id) for template_id in ids]

    async def environment_only() -> int:
        count = 0
        for _ in range(rounds):
            for template in templates:
                assert isinstance(template, NotificationTemplate)
                for fmt in formats:
                    for alert in alerts:
                        environment.render_notification(template, alert, NotificationFormat(fmt))
                        count += 1
        return count

    count, seconds = await _timed(environment_only)
    rows.append(_row("render only (no service, no store)", count, seconds, "Jinja floor"))

    # Invalidation: alert-0 is updated once per round while all templates are rendered;
    # steady rounds (no update) alternate with updating rounds so that noise hits both.
    stored = await service.get(tenant, ids[0])
    spent = {"steady": 0.0, "others": 0.0, "updated": 0.0, "update calls": 0.0}
    counts = dict.fromkeys(spent, 0)
    recompiles = {"steady": 0, "updating": 0}
    for round_number in range(rounds):
        for updating in (False, True):
            before = environment.compile_count()
            if updating:
                start = time.perf_counter()
                stored = await service.update(
                    tenant,
                    TemplateDraft(alert_template(0, variant=round_number + 1)),
                    etag=stored.etag,
                )
                spent["update calls"] += _since(start)
                counts["update calls"] += 1
            for template_id in ids:
                sink = (
                    "steady" if not updating else "updated" if template_id == ids[0] else "others"
                )
                start = time.perf_counter()
                for alert in alerts:
                    await service.render(tenant, template_id, alert, format="html")
                spent[sink] += _since(start)
                counts[sink] += len(alerts)
            recompiles["updating" if updating else "steady"] += environment.compile_count() - before
    rows.append(
        _row(
            "html renders, steady rounds (all templates)",
            counts["steady"],
            spent["steady"],
            f"compiles +{recompiles['steady']}",
        )
    )
    rows.append(
        _row(
            "html renders of the others, alert-0 updated",
            counts["others"],
            spent["others"],
            "stay warm",
        )
    )
    rows.append(
        _row(
            "html renders of alert-0 after its update",
            counts["updated"],
            spent["updated"],
            f"compiles +{recompiles['updating']} (subject+html per update)",
        )
    )
    rows.append(
        _row("UpdateTemplate (service, committed)", counts["update calls"], spent["update calls"])
    )
    rows += await _issuance_rows(services, tenant, issuances)
    stats = environment.cache_stats()
    rows.append(
        {
            "run": "cache at the end",
            "renders": stats.hits + stats.compiles,
            "note": f"entries {stats.entries}, hits {stats.hits}, compiles {stats.compiles}, "
            f"invalidated {stats.invalidated}",
        }
    )
    return rows


# --- over gRPC -----------------------------------------------------------------------------------


async def over_grpc(
    address: str, api_key: str, num_templates: int, num_alerts: int, rounds: int
) -> list[dict[str, Any]]:
    metadata = (("x-api-key", api_key),)
    alerts = [dict_to_struct(alert_data(n)) for n in range(num_alerts)]
    ids = [f"alert-{n}" for n in range(num_templates)]
    rows: list[dict[str, Any]] = []
    async with grpc.aio.insecure_channel(address) as channel:
        stub = tpb_grpc.TemplateServiceStub(channel)
        etags: dict[str, str] = {}
        for number, template_id in enumerate(ids):
            template = alert_template(number)
            created = await stub.CreateTemplate(
                tpb.CreateTemplateRequest(template=_message(template)), metadata=metadata
            )
            etags[template_id] = created.template.etag
        cold: list[float] = []
        warm: list[float] = []
        for round_number in range(rounds):
            for number, template_id in enumerate(ids):
                # An update drops the template's compiled entries: the next render compiles.
                updated = await stub.UpdateTemplate(
                    tpb.UpdateTemplateRequest(
                        template=_message(alert_template(number, variant=round_number + 1)),
                        etag=etags[template_id],
                    ),
                    metadata=metadata,
                )
                etags[template_id] = updated.template.etag
                for sink in (cold, warm):
                    start = time.perf_counter()
                    await stub.RenderTemplate(
                        tpb.RenderTemplateRequest(
                            template_id=template_id,
                            format=tpb.RENDER_FORMAT_HTML,
                            data=alerts[0],
                        ),
                        metadata=metadata,
                    )
                    sink.append(time.perf_counter() - start)
        rows.append(_row("gRPC cold: first RenderTemplate after update", len(cold), sum(cold)))
        rows.append(_row("gRPC warm: next RenderTemplate", len(warm), sum(warm)))

        start = time.perf_counter()
        count = 0
        for _ in range(rounds):
            for template_id in ids:
                for alert in alerts:
                    await stub.RenderTemplate(
                        tpb.RenderTemplateRequest(
                            template_id=template_id, format=tpb.RENDER_FORMAT_HTML, data=alert
                        ),
                        metadata=metadata,
                    )
                    count += 1
        rows.append(_row("gRPC RenderTemplate, one at a time", count, time.perf_counter() - start))
        start = time.perf_counter()
        count = 0
        for _ in range(rounds):
            for template_id in ids:
                response = await stub.RenderTemplateBatch(
                    tpb.RenderTemplateBatchRequest(
                        template_id=template_id, format=tpb.RENDER_FORMAT_HTML, items=alerts
                    ),
                    metadata=metadata,
                )
                count += sum(r.WhichOneof("outcome") == "rendering" for r in response.results)
        rows.append(
            _row(
                f"gRPC RenderTemplateBatch ({num_alerts} items per call)",
                count,
                time.perf_counter() - start,
            )
        )
    return rows


def _message(template: NotificationTemplate) -> tpb.Template:
    assert template.event is not None
    return tpb.Template(
        template_id=template.template_id,
        data_schema=template.data_schema,
        notification=tpb.NotificationTemplateSpec(
            event=getattr(tpb, f"NOTIFICATION_EVENT_{template.event.name}"),
            subject_template=template.subject_template,
            text_template=template.text_template,
            html_template=template.html_template,
        ),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-templates", type=int, default=5)
    parser.add_argument("--num-alerts", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5, help="repetitions of every run")
    parser.add_argument("--grpc", action="store_true", help="also measure over gRPC")
    parser.add_argument(
        "--issuances", type=int, default=300, help="issuances per template in the hot-path rows"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.num_templates < 1 or args.num_alerts < 1 or args.rounds < 1:
        parser.error("--num-templates, --num-alerts and --rounds must be at least 1")

    with tempfile.TemporaryDirectory(prefix="eudi-template-bench-") as tmp:
        rows = asyncio.run(
            in_process(
                args.num_templates,
                args.num_alerts,
                args.rounds,
                args.issuances,
                f"sqlite:///{Path(tmp) / 'inproc.db'}",
            )
        )
        if args.grpc:
            with (
                ServiceUnderTest.temporary(plan_cpus(pin=False), log_level="WARNING") as service,
                service.session() as server,
            ):
                rows += asyncio.run(
                    over_grpc(
                        server.address,
                        service.api_key,
                        args.num_templates,
                        args.num_alerts,
                        args.rounds,
                    )
                )
    columns = ["run", "renders", "seconds", "renders_per_s", "us_per_render", "note"]
    print(
        f"{args.num_templates} templates x {args.num_alerts} alerts x {args.rounds} rounds "
        "(one run: compare rows with each other, not with other machines)"
    )
    print(format_table(rows, columns))
    if args.json:
        write_json(args.json, {"runs": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
