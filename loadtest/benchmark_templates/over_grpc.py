"""The template benchmark's runs against a real server process over gRPC: a render after
an update (cold) against the next one (warm), then single renders against batches."""

from __future__ import annotations

import time

import grpc
from eudi.connect.v1 import template_service_pb2 as tpb
from eudi.connect.v1 import template_service_pb2_grpc as tpb_grpc

from eudi_connect.api.convert import dict_to_struct
from loadtest.benchmark_templates.alerts import alert_data, alert_message, alert_template
from loadtest.benchmark_templates.in_process import Rows

__all__ = ["over_grpc"]


async def over_grpc(
    address: str, api_key: str, num_templates: int, num_alerts: int, rounds: int
) -> Rows:
    """Every gRPC run, as the tenant of ``api_key``."""
    metadata = (("x-api-key", api_key),)
    alerts = [dict_to_struct(alert_data(n)) for n in range(num_alerts)]
    ids = [f"alert-{n}" for n in range(num_templates)]
    html = tpb.RENDER_FORMAT_HTML
    rows = Rows()
    async with grpc.aio.insecure_channel(address) as channel:
        stub = tpb_grpc.TemplateServiceStub(channel)
        etags: dict[str, str] = {}
        for number, template_id in enumerate(ids):
            request = tpb.CreateTemplateRequest(template=alert_message(alert_template(number)))
            etags[template_id] = (
                await stub.CreateTemplate(request, metadata=metadata)
            ).template.etag
        cold_warm = [0.0, 0.0]
        for round_number in range(rounds):
            for number, template_id in enumerate(ids):
                # An update drops the template's compiled entries: the next render compiles.
                template = alert_message(alert_template(number, variant=round_number + 1))
                update = tpb.UpdateTemplateRequest(template=template, etag=etags[template_id])
                updated = await stub.UpdateTemplate(update, metadata=metadata)
                etags[template_id] = updated.template.etag
                render = tpb.RenderTemplateRequest(
                    template_id=template_id, format=html, data=alerts[0]
                )
                for which in (0, 1):
                    start = time.perf_counter()
                    await stub.RenderTemplate(render, metadata=metadata)
                    cold_warm[which] += time.perf_counter() - start
        rows.add("gRPC cold: first RenderTemplate after update", rounds * len(ids), cold_warm[0])
        rows.add("gRPC warm: next RenderTemplate", rounds * len(ids), cold_warm[1])

        async def singles() -> int:
            for _ in range(rounds):
                for template_id in ids:
                    for alert in alerts:
                        render = tpb.RenderTemplateRequest(
                            template_id=template_id, format=html, data=alert
                        )
                        await stub.RenderTemplate(render, metadata=metadata)
            return rounds * len(ids) * len(alerts)

        async def batches() -> int:
            count = 0
            for _ in range(rounds):
                for template_id in ids:
                    batch = tpb.RenderTemplateBatchRequest(
                        template_id=template_id, format=html, items=alerts
                    )
                    response = await stub.RenderTemplateBatch(batch, metadata=metadata)
                    count += sum(r.WhichOneof("outcome") == "rendering" for r in response.results)
            return count

        await rows.timed("gRPC RenderTemplate, one at a time", singles)
        await rows.timed(f"gRPC RenderTemplateBatch ({num_alerts} items per call)", batches)
    return rows
