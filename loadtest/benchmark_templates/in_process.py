"""The template benchmark's runs through the services, in this process, on a temporary
SQLite database: cold and warm renders, single and batch renders, the Jinja floor, an
update while the others are rendered, and the issuance hot path.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from eudi_connect.core.key_encryption import MasterKey
from eudi_connect.core.templates import (
    BUILTIN_TEMPLATES,
    PID_EXAMPLE_SUBJECT,
    NotificationFormat,
    NotificationTemplate,
)
from eudi_connect.services.app import Services, open_services
from eudi_connect.services.issuance import IssueCommand
from eudi_connect.services.template_admin import TemplateDraft, TemplateService
from eudi_connect.services.templates import CredentialTemplates
from loadtest.benchmark_templates.alerts import alert_data, alert_template

__all__ = ["Rows", "in_process"]

FORMATS: tuple[NotificationFormat, ...] = (NotificationFormat("text"), NotificationFormat("html"))


class Rows(list[dict[str, Any]]):
    """What ran, how many renders, in what time."""

    def add(self, run: str, renders: int, seconds: float, note: str = "") -> None:
        self.append(
            {
                "run": run,
                "renders": renders,
                "seconds": round(seconds, 4),
                "renders_per_s": round(renders / seconds, 1) if seconds else 0.0,
                "us_per_render": round(seconds / renders * 1e6, 1) if renders else 0.0,
                "note": note,
            }
        )

    async def timed(self, run: str, work: Callable[[], Awaitable[int]], note: str = "") -> None:
        start = time.perf_counter()
        count = await work()
        self.add(run, count, time.perf_counter() - start, note)


class InProcess:
    """The runs through the services, on one tenant with ``num_templates`` alerts."""

    def __init__(
        self, services: Services, tenant: str, templates: int, alerts: int, rounds: int
    ) -> None:
        self.services, self.tenant, self.rounds = services, tenant, rounds
        self.service, self.registry = services.template_service, services.templates
        self.environment = self.registry.environment
        self.ids = [f"alert-{n}" for n in range(templates)]
        self.alerts = [alert_data(n) for n in range(alerts)]
        self.rows = Rows()

    async def render_all(self, service: TemplateService, *, batch: bool) -> int:
        count = 0
        for _ in range(self.rounds):
            for template_id in self.ids:
                for fmt in FORMATS:
                    if batch:
                        found = await service.render_many(
                            self.tenant, template_id, self.alerts, format=fmt.value
                        )
                        count += len(found)
                        continue
                    for alert in self.alerts:
                        await service.render(self.tenant, template_id, alert, format=fmt.value)
                        count += 1
        return count

    async def html_rounds(self, template_ids: list[str]) -> dict[str, tuple[int, float]]:
        """Every template's HTML once per alert: (renders, seconds) per template."""
        spent = {}
        for template_id in template_ids:
            start = time.perf_counter()
            for alert in self.alerts:
                await self.service.render(self.tenant, template_id, alert, format="html")
            spent[template_id] = (len(self.alerts), time.perf_counter() - start)
        return spent

    async def run(self, issuances: int) -> Rows:
        tenant, service, rows, env = self.tenant, self.service, self.rows, self.environment
        for number in range(len(self.ids)):
            await service.create(tenant, TemplateDraft(alert_template(number)))
        # Cold: the first render after the caches were dropped (store read, parse, compile),
        # against a warm render of the same template.
        cold_warm = [0.0, 0.0]
        for _ in range(self.rounds):
            for template_id in self.ids:
                self.registry.forget(tenant, template_id)
                for which in (0, 1):
                    start = time.perf_counter()
                    await service.render(tenant, template_id, self.alerts[0], format="html")
                    cold_warm[which] += _since(start)
        count = self.rounds * len(self.ids)
        rows.add("cold: first render after invalidation", count, cold_warm[0], "store + compile")
        rows.add("warm: same template, next render", count, cold_warm[1], "cache hit")
        compiles = env.compile_count()
        start = time.perf_counter()
        count = await self.render_all(service, batch=False)
        note = f"compiles +{env.compile_count() - compiles}"
        rows.add("single renders (version check per render)", count, _since(start), note)
        # The same with the version checked at most once a second: what the store read costs.
        ttl = CredentialTemplates(env, store=self.services.store, version_ttl_seconds=1.0)
        ttl_service = TemplateService(self.services.store, ttl)
        await rows.timed(
            "single renders (version TTL 1 s)",
            lambda: self.render_all(ttl_service, batch=False),
            "no store read",
        )
        await rows.timed(
            f"batch renders ({len(self.alerts)} items per call)",
            lambda: self.render_all(service, batch=True),
            "one check per call",
        )
        await rows.timed("render only (no service, no store)", self.render_only, "Jinja floor")
        await self.invalidation()
        await self.issuance(issuances)
        stats = env.cache_stats()
        note = f"entries {stats.entries}, hits {stats.hits}, compiles {stats.compiles}, "
        note += f"invalidated {stats.invalidated}"
        rows.append(
            {"run": "cache at the end", "renders": stats.hits + stats.compiles, "note": note}
        )
        return rows

    async def render_only(self) -> int:
        templates = [await self.registry.resolve(self.tenant, each) for each in self.ids]
        count = 0
        for _ in range(self.rounds):
            for template in templates:
                assert isinstance(template, NotificationTemplate)
                for fmt in FORMATS:
                    for alert in self.alerts:
                        self.environment.render_notification(template, alert, fmt)
                        count += 1
        return count

    async def invalidation(self) -> None:
        """alert-0 updated once per round while all templates are rendered; steady rounds
        (no update) alternate with updating rounds so that noise hits both."""
        stored = await self.service.get(self.tenant, self.ids[0])
        renders = dict.fromkeys(("steady", "others", "updated"), (0, 0.0))
        updates, update_seconds = 0, 0.0
        compiles = {"steady": 0, "updating": 0}
        for round_number in range(self.rounds):
            for updating in (False, True):
                before = self.environment.compile_count()
                if updating:
                    start = time.perf_counter()
                    draft = TemplateDraft(alert_template(0, variant=round_number + 1))
                    stored = await self.service.update(self.tenant, draft, etag=stored.etag)
                    update_seconds += _since(start)
                    updates += 1
                for template_id, (n, seconds) in (await self.html_rounds(self.ids)).items():
                    sink = "updated" if template_id == self.ids[0] else "others"
                    sink = sink if updating else "steady"
                    renders[sink] = (renders[sink][0] + n, renders[sink][1] + seconds)
                compiles["updating" if updating else "steady"] += (
                    self.environment.compile_count() - before
                )
        steady, updating_note = (
            f"compiles +{compiles['steady']}",
            f"compiles +{compiles['updating']}",
        )
        add = self.rows.add
        add("html renders, steady rounds (all templates)", *renders["steady"], steady)
        add("html renders of the others, alert-0 updated", *renders["others"], "stay warm")
        add(
            "html renders of alert-0 after its update",
            *renders["updated"],
            f"{updating_note} (subject+html per update)",
        )
        add("UpdateTemplate (service, committed)", updates, update_seconds)

    async def issuance(self, count: int) -> None:
        """Issuance hot path: the built-in pid (no store read for the template) against a
        tenant credential template of the same shape (one version read per issuance)."""
        if count < 1:
            return
        pid = replace(BUILTIN_TEMPLATES["pid"], template_id="my-pid", tenant_id=None)
        await self.service.create(self.tenant, TemplateDraft(pid))
        notes = {"pid": "built-in: no store read", "my-pid": "tenant: 1 version read"}
        commands = {
            key: IssueCommand(template_id=key, subject=PID_EXAMPLE_SUBJECT) for key in notes
        }
        for command in commands.values():
            await self.services.issuance.issue(self.tenant, command)  # warm: key, lease, compile
        # Interleaved blocks, so that a noisy neighbour slows both alike.
        spent = dict.fromkeys(notes, 0.0)
        blocks, per_block = 6, max(1, count // 6)
        for _ in range(blocks):
            for template_id, command in commands.items():
                start = time.perf_counter()
                for _ in range(per_block):
                    await self.services.issuance.issue(self.tenant, command)
                spent[template_id] += _since(start)
        for template_id, note in notes.items():
            run = f"IssueCredential in process, {template_id}"
            self.rows.add(run, per_block * blocks, spent[template_id], note)


def _since(start: float) -> float:
    return time.perf_counter() - start


async def in_process(
    num_templates: int, num_alerts: int, rounds: int, issuances: int, db_url: str
) -> Rows:
    """Every in-process run on a fresh tenant of the database at ``db_url``."""
    services = await open_services(db_url, master_key=MasterKey.generate())
    try:
        tenant = (await services.tenants.create_tenant("bench")).tenant_id
        runs = InProcess(services, tenant, num_templates, num_alerts, rounds)
        return await runs.run(issuances)
    finally:
        await services.close()
