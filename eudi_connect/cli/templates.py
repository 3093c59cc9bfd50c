"""`eudi-connect template ...`: create, list, read, update, delete and render templates.

Template definitions are files in the protobuf JSON form of `eudi.connect.v1.Template`
(snake_case or camelCase field names), for example::

    {"template_id": "diploma", "data_schema": ["given_name", "degree"],
     "credential": {
       "vct": "urn:example:diploma:1",
       "claims_template": "{\\"given_name\\": {{ given_name }}, \\"degree\\": {{ degree }}}",
       "disclosable": ["given_name"],
       "default_validity_seconds": 86400, "max_validity_seconds": 2592000}}

A source may instead be kept in its own file and named with "@path" (relative to the
definition file), e.g. "claims_template": "@diploma.j2".
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
from eudi.connect.v1 import template_service_pb2 as tpb
from eudi.connect.v1 import template_service_pb2_grpc as tpb_grpc
from google.protobuf import json_format

from eudi_connect.api.convert import dict_to_struct
from eudi_connect.cli.client import ClientConfig, add_client_flags, message_json, print_json

_SOURCE_FIELDS = ("claims_template", "subject_template", "text_template", "html_template")
_KINDS = {
    "credential": tpb.TEMPLATE_KIND_CREDENTIAL,
    "notification": tpb.TEMPLATE_KIND_NOTIFICATION,
}
_FORMATS = {
    "json": tpb.RENDER_FORMAT_JSON,
    "text": tpb.RENDER_FORMAT_TEXT,
    "html": tpb.RENDER_FORMAT_HTML,
}


@contextmanager
def template_stub(config: ClientConfig) -> Iterator[tpb_grpc.TemplateServiceStub]:
    with grpc.insecure_channel(config.address) as channel:
        yield tpb_grpc.TemplateServiceStub(channel)


def read_definition(path: Path) -> tpb.Template:
    """A Template message from a JSON file; "@file" sources are read relative to it."""
    document = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict):
        raise SystemExit(f"error: {path} does not hold a JSON object")
    for spec_name in ("credential", "notification"):
        spec = document.get(spec_name)
        if not isinstance(spec, dict):
            continue
        for field in _SOURCE_FIELDS:
            for key in (field, _camel(field)):
                value = spec.get(key)
                if isinstance(value, str) and value.startswith("@"):
                    spec[key] = (path.parent / value[1:]).read_text(encoding="utf-8")
    return json_format.ParseDict(document, tpb.Template())


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def cmd_create(args: argparse.Namespace, config: ClientConfig) -> None:
    template = read_definition(Path(args.file))
    with template_stub(config) as stub:
        response = config.call(stub.CreateTemplate, tpb.CreateTemplateRequest(template=template))
    print_json(message_json(response.template))


def cmd_get(args: argparse.Namespace, config: ClientConfig) -> None:
    with template_stub(config) as stub:
        response = config.call(
            stub.GetTemplate, tpb.GetTemplateRequest(template_id=args.template_id)
        )
    print_json(message_json(response.template))


def cmd_list(args: argparse.Namespace, config: ClientConfig) -> None:
    """Every page, one template per line: id, kind, version, etag."""
    kind = _KINDS.get(args.kind or "", tpb.TEMPLATE_KIND_UNSPECIFIED)
    with template_stub(config) as stub:
        rows = [
            {
                "template_id": t.template_id,
                "kind": tpb.TemplateKind.Name(t.kind).removeprefix("TEMPLATE_KIND_").lower(),
                "version": t.version,
                "etag": t.etag,
                "builtin": t.builtin,
                "description": t.description,
            }
            for page in config.pages(
                stub.ListTemplates,
                lambda token: tpb.ListTemplatesRequest(
                    page_size=args.page_size, page_token=token, kind=kind
                ),
            )
            for t in page.templates
        ]
    print_json(rows)


def cmd_update(args: argparse.Namespace, config: ClientConfig) -> None:
    template = read_definition(Path(args.file))
    with template_stub(config) as stub:
        etag = args.etag
        if not etag:  # last writer wins: take the etag of what is stored now
            etag = config.call(
                stub.GetTemplate, tpb.GetTemplateRequest(template_id=template.template_id)
            ).template.etag
        response = config.call(
            stub.UpdateTemplate, tpb.UpdateTemplateRequest(template=template, etag=etag)
        )
    print_json(message_json(response.template))


def cmd_delete(args: argparse.Namespace, config: ClientConfig) -> None:
    with template_stub(config) as stub:
        config.call(
            stub.DeleteTemplate,
            tpb.DeleteTemplateRequest(template_id=args.template_id, etag=args.etag or ""),
        )
    print_json({"template_id": args.template_id, "deleted": True})


def cmd_render(args: argparse.Namespace, config: ClientConfig) -> None:
    data = json.loads(Path(args.data).read_text(encoding="utf-8")) if args.data else {}
    with template_stub(config) as stub:
        response = config.call(
            stub.RenderTemplate,
            tpb.RenderTemplateRequest(
                template_id=args.template_id,
                format=_FORMATS.get(args.format or "", tpb.RENDER_FORMAT_UNSPECIFIED),
                data=dict_to_struct(data),
            ),
        )
    rendering = response.rendering
    if rendering.format == tpb.RENDER_FORMAT_JSON:
        print_json(json.loads(rendering.content))
        return
    if rendering.subject:
        print(f"Subject: {rendering.subject}\n")
    print(rendering.content)


def add_template_commands(sub: Any) -> None:
    """Adds `template <action>` to the CLI, each with --address / --api-key."""
    actions = sub.add_parser(
        "template", help="manage and render credential and notification templates"
    ).add_subparsers(dest="action", required=True)

    def bind(command: Callable[[argparse.Namespace, ClientConfig], None]) -> Any:
        return lambda args: command(args, ClientConfig.from_namespace(args))

    create = actions.add_parser("create", help="create a template from a JSON definition file")
    create.add_argument("file", help="the Template as JSON; sources may be @file")
    create.set_defaults(func=bind(cmd_create))

    get = actions.add_parser("get", help="show one template (built-ins included)")
    get.add_argument("template_id")
    get.set_defaults(func=bind(cmd_get))

    listing = actions.add_parser("list", help="list the tenant's templates and the built-ins")
    listing.add_argument("--kind", choices=sorted(_KINDS))
    listing.add_argument("--page-size", type=int, default=100)
    listing.set_defaults(func=bind(cmd_list))

    update = actions.add_parser("update", help="replace a template's content")
    update.add_argument("file", help="the Template as JSON; template_id names it")
    update.add_argument("--etag", help="fail unless the template is still at this etag")
    update.set_defaults(func=bind(cmd_update))

    delete = actions.add_parser("delete", help="delete a template")
    delete.add_argument("template_id")
    delete.add_argument("--etag", help="fail unless the template is still at this etag")
    delete.set_defaults(func=bind(cmd_delete))

    render = actions.add_parser("render", help="render a template with data")
    render.add_argument("template_id")
    render.add_argument("--data", help="JSON file with the data (default: {})")
    render.add_argument("--format", choices=sorted(_FORMATS))
    render.set_defaults(func=bind(cmd_render))

    for parser in (create, get, listing, update, delete, render):
        add_client_flags(parser)
