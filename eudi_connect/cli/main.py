"""`eudi-connect`: run the server, manage tenants and keys, and use the service by hand."""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import logging
import os
import socket
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import grpc
from cryptography.hazmat.primitives.asymmetric import ec
from eudi.connect.v1 import credential_service_pb2 as pb
from google.protobuf import json_format

from eudi_connect.api.convert import dict_to_struct
from eudi_connect.api.server import ServerOptions, run
from eudi_connect.api.workers import run_workers
from eudi_connect.cli.batch import add_parser as add_issue_batch_parser
from eudi_connect.cli.client import (
    ClientConfig,
    add_client_flags,
    credential_stub,
    message_json,
    print_json,
)
from eudi_connect.cli.offers import add_offer_commands
from eudi_connect.cli.templates import add_template_commands
from eudi_connect.cli.tenant_keys import add_tenant_key_commands
from eudi_connect.cli.trust import add_trust_commands
from eudi_connect.core.encoding import b64url_decode
from eudi_connect.core.formats import FORMATS, SD_JWT_VC_FORMAT
from eudi_connect.core.jose import generate_p256_key, private_jwk, private_key_from_jwk
from eudi_connect.core.mdoc import make_device_response, openid4vp_session_transcript
from eudi_connect.core.sdjwt import make_presentation
from eudi_connect.errors import EudiConnectError
from eudi_connect.monitoring.logs import LOG_FORMATS, configure_logging
from eudi_connect.services.app import open_services
from eudi_connect.services.fetch import FetchSettings, parse_network, parse_networks
from eudi_connect.services.fetch.addresses import IPNetwork
from eudi_connect.services.settings import DEFAULT_HTTP_PORT, ServiceSettings, local_public_url
from eudi_connect.services.wallet_settings import WalletSettings

DEFAULT_DB = "sqlite:///./eudi-connect.db"
log = logging.getLogger("eudi_connect.cli")
#: Networks foreign fetches may reach besides public addresses, when no flag names any.
FETCH_ALLOW_NETWORKS_ENV = "EUDI_CONNECT_FETCH_ALLOW_NETWORKS"


def _read_text(value: str) -> str:
    """A literal, `-` for standard input, or `@path` for a file."""
    if value == "-":
        return sys.stdin.read().strip()
    if value.startswith("@"):
        return Path(value[1:]).read_text(encoding="utf-8").strip()
    return value


# --- commands that open the database directly --------------------------------------------
async def _tenant_create(args: argparse.Namespace) -> None:
    services = await open_services(args.db)
    try:
        created = await services.tenants.create_tenant(args.name)
    finally:
        await services.close()
    print_json(
        {
            "tenant_id": created.tenant_id,
            "name": created.name,
            "key_id": created.key_id,
            "api_key": created.api_key,
        }
    )


async def _keys_rotate(args: argparse.Namespace) -> None:
    services = await open_services(args.db, ServiceSettings(public_url=args.public_url))
    try:
        if await services.store.get_tenant(args.tenant) is None:
            raise SystemExit(f"error: no tenant '{args.tenant}'")
        kid = await services.keys.rotate(args.tenant)
    finally:
        await services.close()
    print_json({"tenant_id": args.tenant, "active_kid": kid})


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def public_url_and_http_port(args: argparse.Namespace) -> tuple[str, int | None]:
    """--public-url and --http-port as given, or, without a public URL, the HTTP endpoints
    served here and a URL that names them, so that the status list URIs and issuer ids in
    credentials resolve: on --http-port, by default 8080, or a free port when --port is 0
    (whoever lets the gRPC port be picked lets the HTTP one be picked too)."""
    if args.public_url is not None:
        return args.public_url, args.http_port
    http_port = args.http_port
    if http_port is None:
        http_port = 0 if args.port == 0 else DEFAULT_HTTP_PORT
    if http_port == 0:  # the URL must name the port: pick it now
        http_port = _free_port(args.host or "0.0.0.0")  # noqa: S104 - probing, as --host says
    return local_public_url(args.host, http_port), http_port


def cmd_serve(args: argparse.Namespace) -> None:
    configure_logging(args.log_format, args.log_level.upper())
    public_url, http_port = public_url_and_http_port(args)
    if args.public_url is None:
        log.warning(
            "no --public-url: credentials name %s, which this process serves (HTTP port %d) "
            "but only this machine reaches; set --public-url to the address verifiers use",
            public_url,
            http_port,
        )
    settings = ServiceSettings(
        public_url=public_url,
        issuer_key_refresh_seconds=args.key_refresh_seconds,
        api_key_cache_seconds=args.api_key_cache_seconds,
        issuer_country=args.issuer_country,
        issuer_ca_cert=args.issuer_ca_cert,
        issuer_ca_key=args.issuer_ca_key,
        max_trust_entries=args.max_trust_entries,
        fetch=FetchSettings(allow_networks=_fetch_allow_networks(args)),
        wallet=WalletSettings(
            dpop_nonce_seconds=args.dpop_nonce_seconds,
            policy_cache_seconds=args.wallet_policy_cache_seconds,
        ),
    )
    options = ServerOptions(
        host=args.host,
        port=args.port,
        db_url=args.db,
        grace_seconds=args.grace,
        settings=settings,
        sign_workers=args.sign_workers,
        render_workers=args.render_workers,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        tls_client_ca=args.tls_client_ca,
        http_port=http_port,
        metrics_port=args.metrics_port,
    )
    if args.workers > 1:
        setup = functools.partial(configure_logging, args.log_format, args.log_level.upper())
        code = run_workers(
            options, workers=args.workers, use_uvloop=not args.no_uvloop, setup=setup
        )
        if code:
            raise SystemExit(code)
        return
    run(options, use_uvloop=not args.no_uvloop)


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError("must be a number of seconds, 0 or more")
    return value


def _fetch_allow_networks(args: argparse.Namespace) -> tuple[IPNetwork, ...]:
    """--fetch-allow-network flags, or else the environment variable's list."""
    if args.fetch_allow_network is not None:
        return tuple(args.fetch_allow_network)
    try:
        return parse_networks(os.environ.get(FETCH_ALLOW_NETWORKS_ENV, ""))
    except ValueError as exc:
        raise SystemExit(f"error: {FETCH_ALLOW_NETWORKS_ENV}: {exc}") from None


def _network(text: str) -> IPNetwork:
    try:
        return parse_network(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def cmd_tenant_create(args: argparse.Namespace) -> None:
    asyncio.run(_tenant_create(args))


def cmd_keys_rotate(args: argparse.Namespace) -> None:
    asyncio.run(_keys_rotate(args))


def cmd_holder_key(args: argparse.Namespace) -> None:
    """Makes a holder key pair: the private JWK file stays with the holder."""
    jwk = private_jwk(generate_p256_key())
    path = Path(args.out)
    path.write_text(json.dumps(jwk), encoding="utf-8")
    path.chmod(0o600)
    public = {k: v for k, v in jwk.items() if k != "d"}
    print_json({"private_key_file": str(path), "public_jwk": public})


def _thumbprint(args: argparse.Namespace) -> bytes | None:
    if not args.jwk_thumbprint:
        return None
    try:
        return b64url_decode(args.jwk_thumbprint)
    except ValueError:
        raise SystemExit("error: --jwk-thumbprint is not base64url") from None


def _holder_key(path: str) -> ec.EllipticCurvePrivateKey:
    return private_key_from_jwk(json.loads(Path(path).read_text("utf-8")))


def _present_mdoc(credential: str, args: argparse.Namespace, disclose: list[str] | None) -> str:
    """A DeviceResponse signed over the OpenID4VP session transcript of the given request."""
    if not (args.holder_key and args.audience and args.nonce and args.response_uri):
        raise SystemExit(
            "error: an mdoc presentation needs --holder-key, --audience (client_id), --nonce "
            "and --response-uri"
        )
    holder_key = _holder_key(args.holder_key)
    transcript = openid4vp_session_transcript(
        client_id=args.audience,
        nonce=args.nonce,
        response_uri=args.response_uri,
        jwk_thumbprint=_thumbprint(args),
    )
    try:
        return make_device_response(
            credential, holder_key=holder_key, session_transcript=transcript, disclose=disclose
        )
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None


def cmd_present(args: argparse.Namespace) -> None:
    """SD-JWT VC (with `~`) or mdoc (base64url IssuerSigned), told apart by the text."""
    credential = _read_text(args.credential)
    disclose = [c for c in args.disclose.split(",") if c] if args.disclose is not None else None
    if "~" not in credential:
        print(_present_mdoc(credential, args, disclose))
        return
    print(
        make_presentation(
            credential,
            disclose=disclose,
            holder_key=_holder_key(args.holder_key) if args.holder_key else None,
            audience=args.audience,
            nonce=args.nonce,
            issued_at=int(time.time()),
        )
    )


# --- client commands -------------------------------------------------------------------------
def cmd_issue(args: argparse.Namespace) -> None:
    config = ClientConfig.from_namespace(args)
    subject = json.loads(Path(args.subject).read_text(encoding="utf-8"))
    request = pb.IssueCredentialRequest(
        template_id=args.template,
        subject=dict_to_struct(subject),
        holder_jwk=_read_text(args.holder_jwk) if args.holder_jwk else "",
        request_id=args.request_id or "",
        format=args.format,
    )
    if args.validity is not None:
        request.validity_seconds = args.validity
    with credential_stub(config) as stub:
        response = config.call(stub.IssueCredential, request)
    print_json(message_json(response))


def cmd_verify(args: argparse.Namespace) -> None:
    config = ClientConfig.from_namespace(args)
    request = pb.VerifyCredentialRequest(
        credential=_read_text(args.credential),
        expected_audience=args.audience or "",
        expected_nonce=args.nonce or "",
        expected_response_uri=args.response_uri or "",
        expected_jwk_thumbprint=_thumbprint(args) or b"",
    )
    with credential_stub(config) as stub:
        response = config.call(stub.VerifyCredential, request)
    print_json(
        json_format.MessageToDict(
            response, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
        )
    )
    if response.valid and _unchecked_key_binding(request):
        print(
            "note: key binding not verified; give --audience and --nonce (the verifier and "
            "session the presentation was made for) to verify its KB-JWT",
            file=sys.stderr,
        )
    if not response.valid:
        raise SystemExit(2)


def _unchecked_key_binding(request: pb.VerifyCredentialRequest) -> bool:
    """An SD-JWT presentation with a KB-JWT, verified without an audience and a nonce."""
    credential = request.credential.strip()
    has_kb_jwt = "~" in credential and not credential.endswith("~")
    return has_kb_jwt and not (request.expected_audience and request.expected_nonce)


def _status_change(method: str) -> Callable[[argparse.Namespace], None]:
    request_type = getattr(pb, f"{method}Request")

    def command(args: argparse.Namespace) -> None:
        config = ClientConfig.from_namespace(args)
        request = request_type(credential_id=args.credential_id, reason=args.reason or "")
        with credential_stub(config) as stub:
            response = config.call(getattr(stub, method), request)
        print_json({"credential_id": args.credential_id, **message_json(response)})

    return command


def cmd_status(args: argparse.Namespace) -> None:
    config = ClientConfig.from_namespace(args)
    request = pb.GetCredentialStatusRequest(credential_id=args.credential_id)
    with credential_stub(config) as stub:
        response = config.call(stub.GetCredentialStatus, request)
    print_json(message_json(response))


def cmd_status_list(args: argparse.Namespace) -> None:
    config = ClientConfig.from_namespace(args)
    request = pb.GetStatusListRequest(status_list_id=args.status_list_id)
    with credential_stub(config) as stub:
        response = config.call(stub.GetStatusList, request)
    print_json(message_json(response))


def cmd_jwks(args: argparse.Namespace) -> None:
    config = ClientConfig.from_namespace(args)
    with credential_stub(config) as stub:
        response = config.call(stub.GetIssuerKeys, pb.GetIssuerKeysRequest())
    print_json(json.loads(response.jwks))


# --- parser ----------------------------------------------------------------------------------
def _openid4vp_flags(parser: argparse.ArgumentParser) -> None:
    """The rest of an mdoc's OpenID4VP session transcript, beside --audience and --nonce."""
    parser.add_argument("--response-uri", help="mdoc: the OpenID4VP response_uri")
    parser.add_argument(
        "--jwk-thumbprint",
        help="mdoc: base64url SHA-256 thumbprint of the verifier's response encryption key",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eudi-connect", description=__doc__)
    parser.add_argument("--log-level", default="INFO")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the gRPC server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=50051)
    serve.add_argument("--db", default=DEFAULT_DB, help="store URL (default %(default)s)")
    serve.add_argument(
        "--public-url",
        help="base of the status list URIs and issuer ids of tenants that have not issued "
        "yet (a tenant keeps the one it first issued under). Default: this process serves "
        f"the HTTP endpoints itself, on --http-port (default {DEFAULT_HTTP_PORT}), and the "
        "URL names them",
    )
    serve.add_argument(
        "--grace", type=float, default=10.0, help="seconds in-flight calls get on shutdown"
    )
    serve.add_argument("--no-uvloop", action="store_true", help="use asyncio's own event loop")
    serve.add_argument("--tls-cert", help="PEM certificate chain: serve gRPC over TLS")
    serve.add_argument("--tls-key", help="PEM private key of --tls-cert")
    serve.add_argument("--tls-client-ca", help="PEM CA: require client certificates (mTLS)")
    serve.add_argument(
        "--sign-workers",
        type=int,
        help="processes that sign batch issuance groups (default: 1 with 2+ cores, else 0)",
    )
    serve.add_argument(
        "--render-workers",
        type=_non_negative_int,
        default=1,
        help="processes that check, compile and render tenants' templates, so that a slow "
        "template never holds up other calls (default: 1; 0: a thread, which shares the "
        "GIL with the server)",
    )
    serve.add_argument(
        "--http-port",
        type=int,
        help="serve status lists, issuer metadata and /healthz over HTTP here (default: "
        f"without --public-url {DEFAULT_HTTP_PORT}, or a free port with --port 0; else off)",
    )
    serve.add_argument(
        "--metrics-port",
        type=int,
        help="serve Prometheus /metrics here (default: off; may equal --http-port)",
    )
    serve.add_argument(
        "--log-format", choices=LOG_FORMATS, default="json", help="default %(default)s"
    )
    serve.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        help="server processes sharing the port (SO_REUSEPORT), about one per core "
        "(default %(default)s)",
    )
    serve.add_argument(
        "--key-refresh-seconds",
        type=float,
        default=ServiceSettings().issuer_key_refresh_seconds,
        help="how soon a key rotated elsewhere is used here (default %(default)s)",
    )
    serve.add_argument(
        "--api-key-cache-seconds",
        type=_non_negative_float,
        default=ServiceSettings().api_key_cache_seconds,
        help="how soon an API key revoked elsewhere is refused here (default %(default)s)",
    )
    serve.add_argument(
        "--issuer-country",
        default=ServiceSettings().issuer_country,
        help="ISO 3166-1 alpha-2 code in issuer certificates (default %(default)s)",
    )
    serve.add_argument(
        "--issuer-ca-cert", help="PEM certificate of a CA that signs the issuer certificates"
    )
    serve.add_argument("--issuer-ca-key", help="PEM P-256 private key of --issuer-ca-cert")
    serve.add_argument(
        "--max-trust-entries",
        type=_positive_int,
        default=ServiceSettings().max_trust_entries,
        help="trusted issuers and trust anchors one tenant may configure, together "
        "(default %(default)s)",
    )
    serve.add_argument(
        "--fetch-allow-network",
        action="append",
        type=_network,
        metavar="CIDR",
        help="a private network (e.g. 10.0.0.0/8) foreign status lists and JWKS may also be "
        "fetched from; repeatable (default: public addresses only, or "
        f"${FETCH_ALLOW_NETWORKS_ENV}, comma-separated)",
    )
    serve.add_argument(
        "--dpop-nonce-seconds",
        type=_positive_int,
        default=WalletSettings().dpop_nonce_seconds,
        help="how often the DPoP nonce wallets must use changes; one is accepted for 1 to 2 "
        "times this (default %(default)s)",
    )
    serve.add_argument(
        "--wallet-policy-cache-seconds",
        type=_non_negative_float,
        default=WalletSettings().policy_cache_seconds,
        help="how soon a wallet policy changed elsewhere applies here (default %(default)s)",
    )
    serve.set_defaults(func=cmd_serve)

    tenant = sub.add_parser("tenant", help="manage tenants").add_subparsers(
        dest="action", required=True
    )
    create = tenant.add_parser("create", help="create a tenant and print its API key (shown once)")
    create.add_argument("name")
    create.add_argument("--db", default=DEFAULT_DB)
    create.set_defaults(func=cmd_tenant_create)
    add_tenant_key_commands(tenant, default_db=DEFAULT_DB)

    keys = sub.add_parser("keys", help="manage issuer keys").add_subparsers(
        dest="action", required=True
    )
    rotate = keys.add_parser(
        "rotate", help="activate a new issuer key; old credentials keep verifying"
    )
    rotate.add_argument("--tenant", required=True)
    rotate.add_argument(
        "--public-url",
        default=ServiceSettings().public_url,
        help="named in the new key's certificate if the tenant has not issued yet (it keeps "
        "its own URL otherwise; default %(default)s)",
    )
    rotate.add_argument("--db", default=DEFAULT_DB)
    rotate.set_defaults(func=cmd_keys_rotate)

    holder_key = sub.add_parser("holder-key", help="make a holder key pair (private JWK file)")
    holder_key.add_argument("--out", default="holder-key.json")
    holder_key.set_defaults(func=cmd_holder_key)

    present = sub.add_parser(
        "present",
        help="make a presentation from a credential (holder side): an SD-JWT (+KB) or, "
        "for an mdoc, a DeviceResponse",
    )
    present.add_argument("credential", help="the credential, - for stdin, or @file")
    present.add_argument(
        "--disclose",
        help="comma-separated claim names (mdoc: element identifiers) to reveal (default: all)",
    )
    present.add_argument(
        "--holder-key",
        help="private JWK file; adds a Key Binding JWT (mdoc: signs the device authentication)",
    )
    present.add_argument("--audience", help="the verifier (OpenID4VP client_id)")
    present.add_argument("--nonce")
    _openid4vp_flags(present)
    present.set_defaults(func=cmd_present)

    issue = sub.add_parser("issue", help="issue a credential")
    issue.add_argument("--template", required=True)
    issue.add_argument("--subject", required=True, help="JSON file with the subject data")
    issue.add_argument("--holder-jwk", help="holder public JWK as JSON, or @file")
    issue.add_argument("--request-id")
    issue.add_argument("--validity", type=int, help="validity in seconds")
    issue.add_argument(
        "--format",
        choices=sorted(FORMATS),
        default=SD_JWT_VC_FORMAT,
        help="credential format (default %(default)s; mso_mdoc needs --holder-jwk)",
    )
    add_client_flags(issue)
    issue.set_defaults(func=cmd_issue)

    add_issue_batch_parser(sub)

    verify = sub.add_parser("verify", help="verify a credential or presentation")
    verify.add_argument("credential", help="the credential, - for stdin, or @file")
    verify.add_argument("--audience")
    verify.add_argument("--nonce")
    _openid4vp_flags(verify)
    add_client_flags(verify)
    verify.set_defaults(func=cmd_verify)

    for name, method in (
        ("revoke", "RevokeCredential"),
        ("suspend", "SuspendCredential"),
        ("reinstate", "ReinstateCredential"),
    ):
        change = sub.add_parser(name, help=f"{name} a credential")
        change.add_argument("credential_id")
        change.add_argument("--reason")
        add_client_flags(change)
        change.set_defaults(func=_status_change(method))

    status = sub.add_parser("status", help="a credential's status")
    status.add_argument("credential_id")
    add_client_flags(status)
    status.set_defaults(func=cmd_status)

    status_list = sub.add_parser("status-list", help="a status list token")
    status_list.add_argument("status_list_id")
    add_client_flags(status_list)
    status_list.set_defaults(func=cmd_status_list)

    jwks = sub.add_parser("jwks", help="the tenant's issuer keys")
    add_client_flags(jwks)
    jwks.set_defaults(func=cmd_jwks)

    add_template_commands(sub)
    add_trust_commands(sub)
    add_offer_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    try:
        args.func(args)
    except grpc.RpcError as error:
        code = error.code()
        print(f"error: {code.name}: {error.details()}", file=sys.stderr)
        raise SystemExit(1) from None
    except EudiConnectError as error:
        print(f"error: {error.reason}: {error.message}", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
