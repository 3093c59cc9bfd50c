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
from google.protobuf import struct_pb2

from eudi_connect.cli.client import ClientConfig, add_client_flags, template_stub
from eudi_connect.cli.commands import command_parser
from eudi_connect.cli.failures import CliError
from eudi_connect.cli.inputs import read_file, read_json_object
from eudi_connect.cli.output import add_output_flags, emit, enum_short_name, message_json
from eudi_connect.cli.rpc_errors import explain, refusal_of
from eudi_connect.cli.subjects import not_found_hint
from eudi_connect.reasons import Reason

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


def read_definition(path: Path) -> tpb.Template:
    """A Template message from a JSON file; "@file" sources are read relative to it."""
    from google.protobuf import json_format  # only create and update read definitions

    document = read_json_object(str(path), "template definition")
    for spec_name in ("credential", "notification"):
        spec = document.get(spec_name)
        if not isinstance(spec, dict):
            continue
        for field in _SOURCE_FIELDS:
            for key in (field, _camel(field)):
                value = spec.get(key)
                if isinstance(value, str) and value.startswith("@"):
                    spec[key] = read_file(path.parent / value[1:], f"{field} source")
    try:
        return json_format.ParseDict(document, tpb.Template())
    except json_format.ParseError as exc:
        raise CliError(
            f"the template definition {str(path)!r} does not fit a Template: {exc}"
        ) from None


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@contextmanager
def _hinted(
    stub: tpb_grpc.TemplateServiceStub,
    config: ClientConfig,
    template_id: str,
    *,
    file: str = "",
) -> Iterator[None]:
    """Adds what to do to refusals about a template: a did-you-mean for an unknown id,
    `update` for one that exists, `create` for an update of one that does not."""
    try:
        yield
    except grpc.RpcError as error:
        reason = refusal_of(error).reason
        hint = not_found_hint(error, stub, config, template_id)
        if reason == Reason.TEMPLATE_EXISTS:
            hint = f"; to change it, use `eudi-connect template update {file or 'FILE'}`"
        elif reason == Reason.TEMPLATE_NOT_FOUND and file and not hint:
            hint = f"; to make it, use `eudi-connect template create {file}`"
        raise explain(error, config.address, hint=hint, timeout=config.timeout) from None


def cmd_create(args: argparse.Namespace, config: ClientConfig) -> None:
    template = read_definition(Path(args.file))
    with template_stub(config) as stub, _hinted(stub, config, template.template_id, file=args.file):
        response = config.call(stub.CreateTemplate, tpb.CreateTemplateRequest(template=template))
    emit(args, message_json(response.template))


def cmd_get(args: argparse.Namespace, config: ClientConfig) -> None:
    with template_stub(config) as stub, _hinted(stub, config, args.template_id):
        response = config.call(
            stub.GetTemplate, tpb.GetTemplateRequest(template_id=args.template_id)
        )
    emit(args, message_json(response.template))


def cmd_list(args: argparse.Namespace, config: ClientConfig) -> None:
    """Every page: id, kind, version, etag, builtin, description."""
    kind = _KINDS.get(args.kind or "", tpb.TEMPLATE_KIND_UNSPECIFIED)
    with template_stub(config) as stub:
        rows = [
            {
                "template_id": t.template_id,
                "kind": enum_short_name(tpb.TemplateKind.DESCRIPTOR, t.kind),
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
    emit(args, rows)


def cmd_update(args: argparse.Namespace, config: ClientConfig) -> None:
    template = read_definition(Path(args.file))
    with template_stub(config) as stub, _hinted(stub, config, template.template_id, file=args.file):
        etag = args.etag
        if not etag:  # last writer wins: take the etag of what is stored now
            etag = config.call(
                stub.GetTemplate, tpb.GetTemplateRequest(template_id=template.template_id)
            ).template.etag
        response = config.call(
            stub.UpdateTemplate, tpb.UpdateTemplateRequest(template=template, etag=etag)
        )
    emit(args, message_json(response.template))


def cmd_delete(args: argparse.Namespace, config: ClientConfig) -> None:
    with template_stub(config) as stub, _hinted(stub, config, args.template_id):
        config.call(
            stub.DeleteTemplate,
            tpb.DeleteTemplateRequest(template_id=args.template_id, etag=args.etag or ""),
        )
    emit(args, {"template_id": args.template_id, "deleted": True})


def cmd_render(args: argparse.Namespace, config: ClientConfig) -> None:
    data = read_json_object(args.data, "data file") if args.data else {}
    struct = struct_pb2.Struct()
    struct.update(data)
    with template_stub(config) as stub, _hinted(stub, config, args.template_id):
        response = config.call(
            stub.RenderTemplate,
            tpb.RenderTemplateRequest(
                template_id=args.template_id,
                format=_FORMATS.get(args.format or "", tpb.RENDER_FORMAT_UNSPECIFIED),
                data=struct,
            ),
        )
    rendering = response.rendering
    if rendering.format == tpb.RENDER_FORMAT_JSON:
        emit(args, json.loads(rendering.content))
        return
    if rendering.subject:
        print(f"Subject: {rendering.subject}\n")
    print(rendering.content)


def add_template_commands(sub: Any) -> None:
    """Adds `template <action>` to the CLI, each with the client flags."""
    actions = command_parser(sub, "template").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )

    def bind(command: Callable[[argparse.Namespace, ClientConfig], None]) -> Any:
        return lambda args: command(args, ClientConfig.from_namespace(args))

    create = actions.add_parser("create", help="create a template from a JSON definition file")
    create.add_argument("file", help="the Template as JSON; sources may be @file")
    add_output_flags(create, quiet="etag")
    create.set_defaults(func=bind(cmd_create))

    get = actions.add_parser("get", help="show one template (built-ins included)")
    get.add_argument("template_id", help="the template's id")
    add_output_flags(get, quiet="etag")
    get.set_defaults(func=bind(cmd_get))

    listing = actions.add_parser("list", help="list the tenant's templates and the built-ins")
    listing.add_argument("--kind", choices=sorted(_KINDS), help="only templates of this kind")
    listing.add_argument("--page-size", type=int, default=100, help="templates per call")
    add_output_flags(listing, table=True)
    listing.set_defaults(func=bind(cmd_list))

    update = actions.add_parser("update", help="replace a template's content")
    update.add_argument("file", help="the Template as JSON; template_id names it")
    update.add_argument(
        "--etag", help="fail unless the template is still at this etag (default: replace it)"
    )
    add_output_flags(update, quiet="etag")
    update.set_defaults(func=bind(cmd_update))

    delete = actions.add_parser("delete", help="delete a template")
    delete.add_argument("template_id", help="the template's id")
    delete.add_argument(
        "--etag", help="fail unless the template is still at this etag (default: delete it)"
    )
    add_output_flags(delete)
    delete.set_defaults(func=bind(cmd_delete))

    render = actions.add_parser("render", help="render a template with data")
    render.add_argument("template_id", help="the template's id")
    render.add_argument(
        "--data", metavar="FILE", help="JSON object file with the data (default: {})"
    )
    render.add_argument(
        "--format", choices=sorted(_FORMATS), help="the output (default: the template's own)"
    )
    add_output_flags(render)
    render.set_defaults(func=bind(cmd_render))

    for parser in (create, get, listing, update, delete, render):
        add_client_flags(parser)
