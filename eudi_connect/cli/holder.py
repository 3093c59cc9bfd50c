"""The holder's tools, all local: `holder-key` makes a key pair, `present` makes a
presentation (an SD-JWT with a Key Binding JWT, or an mdoc DeviceResponse)."""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from eudi_connect.cli.commands import command_parser
from eudi_connect.cli.failures import CliError, Exit, did_you_mean
from eudi_connect.cli.inputs import read_json_object, read_text
from eudi_connect.cli.output import add_output_flags, emit
from eudi_connect.cli.parsing import openid4vp_flags
from eudi_connect.core.jose import (
    InvalidJwkError,
    MalformedJwsError,
    generate_p256_key,
    private_jwk,
    private_key_from_jwk,
    split_jws,
)
from eudi_connect.core.mdoc import (
    UnknownElementError,
    make_device_response,
    openid4vp_session_transcript,
)
from eudi_connect.core.mdoc.presentation import listed_elements
from eudi_connect.core.sdjwt import decode_disclosures, make_presentation

#: SD-JWT payload members that are not claims.
_SD_MEMBERS = frozenset({"_sd", "_sd_alg", "..."})


# --- holder-key ------------------------------------------------------------------------------
def public_key_path(private: Path) -> Path:
    """holder-key.json -> holder-key.pub.json (beside it)."""
    stem = private.name.removesuffix(".json")
    return private.with_name(f"{stem}.pub.json")


def _exists(path: Path) -> CliError:
    return CliError(
        f"{str(path)!r} exists; holder-key does not overwrite a key (give --force, or another "
        "--out)"
    )


def _write_new(path: Path, text: str, *, mode: int, force: bool) -> None:
    """Writes `text` to a file made with `mode`; an existing file only with `force`."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    try:
        descriptor = os.open(path, flags, mode)
    except FileExistsError:
        raise _exists(path) from None
    except OSError as exc:
        raise CliError(f"cannot write {str(path)!r}: {exc.strerror}") from None
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
    os.chmod(path, mode)  # also when --force replaced a file made with another mode


def cmd_holder_key(args: argparse.Namespace) -> None:
    """Makes a holder key pair: the private JWK file stays with the holder, the public one
    goes to the issuer (`issue --holder-jwk @file`)."""
    private_path = Path(args.out)
    public_path = Path(args.public) if args.public else public_key_path(private_path)
    if not args.force:
        for path in (private_path, public_path):
            if path.exists():
                raise _exists(path)
    jwk = private_jwk(generate_p256_key())
    public = {k: v for k, v in jwk.items() if k != "d"}
    _write_new(private_path, json.dumps(jwk), mode=0o600, force=args.force)
    _write_new(public_path, json.dumps(public), mode=0o644, force=args.force)
    emit(
        args,
        {
            "private_key_file": str(private_path),
            "public_key_file": str(public_path),
            "public_jwk": public,
        },
    )


# --- present ---------------------------------------------------------------------------------
def holder_key(path: str) -> ec.EllipticCurvePrivateKey:
    """The private key of a JWK file as `holder-key` writes it."""
    jwk = read_json_object(path, "holder key file")
    if "d" not in jwk:
        raise CliError(
            f"{path!r} holds a public key; --holder-key needs the private key file "
            "(`holder-key --out` writes it)"
        )
    try:
        return private_key_from_jwk(jwk)
    except InvalidJwkError as exc:
        raise CliError(f"the holder key file {path!r} is not a P-256 private JWK: {exc}") from None


def _present_mdoc(credential: str, args: argparse.Namespace, disclose: list[str] | None) -> str:
    """A DeviceResponse signed over the OpenID4VP session transcript of the given request."""
    if not (args.holder_key and args.audience and args.nonce and args.response_uri):
        raise CliError(
            "an mdoc presentation needs --holder-key, --audience (client_id), --nonce "
            "and --response-uri",
            Exit.USAGE,
        )
    key = holder_key(args.holder_key)
    transcript = openid4vp_session_transcript(
        client_id=args.audience,
        nonce=args.nonce,
        response_uri=args.response_uri,
        jwk_thumbprint=args.jwk_thumbprint,
    )
    try:
        return make_device_response(
            credential, holder_key=key, session_transcript=transcript, disclose=disclose
        )
    except UnknownElementError as error:
        name = error.unknown[0]
        raise CliError(
            f"--disclose {name!r}: the mdoc has no such element"
            f"{did_you_mean(name, error.available)} "
            f"(its elements: {listed_elements(error.available)})"
        ) from None
    except ValueError as error:
        raise CliError(f"cannot present this mdoc: {error}") from None


def claim_names(credential: str) -> tuple[set[str], list[str]]:
    """Every claim name an issued SD-JWT holds (visible or in a disclosure), and those
    `--disclose` can reveal: disclosures' names, and arrays with disclosed elements."""
    try:
        disclosures = decode_disclosures(credential)
        payload = split_jws(credential.split("~", 1)[0]).payload
    except (ValueError, MalformedJwsError) as exc:
        raise CliError(f"not an SD-JWT as issued: {exc}") from None
    known: set[str] = set()
    disclosable: dict[str, None] = {}

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for name, item in value.items():
                if name in _SD_MEMBERS:
                    continue
                known.add(name)
                if isinstance(item, list) and any(
                    isinstance(element, dict) and "..." in element for element in item
                ):
                    disclosable[name] = None
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(payload)
    for disclosure in disclosures:
        if disclosure.name is not None:
            known.add(disclosure.name)
            disclosable[disclosure.name] = None
        walk(disclosure.value)
    return known, list(disclosable)


def _check_disclose(credential: str, names: list[str]) -> None:
    """Refuses a name the credential does not have, instead of disclosing nothing."""
    known, disclosable = claim_names(credential)
    unknown = [name for name in names if name not in known]
    if unknown:
        name = unknown[0]
        raise CliError(
            f"--disclose {name!r}: the credential has no such claim{did_you_mean(name, known)} "
            f"(disclosable: {', '.join(sorted(disclosable)) or 'none'})"
        )


def cmd_present(args: argparse.Namespace) -> None:
    """SD-JWT VC (with `~`) or mdoc (base64url IssuerSigned), told apart by the text."""
    credential = read_text(args.credential, "credential")
    disclose = [c for c in args.disclose.split(",") if c] if args.disclose is not None else None
    if "~" not in credential:
        print(_present_mdoc(credential, args, disclose))
        return
    if disclose:
        _check_disclose(credential, disclose)
    if args.holder_key and not (args.audience and args.nonce):
        raise CliError(
            "a Key Binding JWT needs --audience and --nonce (the verifier and its session)",
            Exit.USAGE,
        )
    try:
        presentation = make_presentation(
            credential,
            disclose=disclose,
            holder_key=holder_key(args.holder_key) if args.holder_key else None,
            audience=args.audience,
            nonce=args.nonce,
            issued_at=int(time.time()),
        )
    except ValueError as error:
        raise CliError(f"cannot present this credential: {error}") from None
    print(presentation)


# --- parsers ---------------------------------------------------------------------------------
def add_holder_key_command(sub: Any) -> None:
    parser = command_parser(sub, "holder-key")
    parser.add_argument(
        "--out",
        default="holder-key.json",
        metavar="FILE",
        help="the private JWK file (mode 0600); keep it with the holder",
    )
    parser.add_argument(
        "--public",
        metavar="FILE",
        help="the public JWK file, for `issue --holder-jwk @FILE` (default: the --out name "
        "with .pub.json, holder-key.pub.json)",
    )
    parser.add_argument(
        "--force", action="store_true", help="replace key files that exist (the old key is lost)"
    )
    add_output_flags(parser)
    parser.set_defaults(func=cmd_holder_key)


def add_present_command(sub: Any) -> None:
    present = command_parser(sub, "present")
    present.add_argument("credential", help="the credential, - for standard input, or @file")
    present.add_argument(
        "--disclose",
        metavar="NAMES",
        help="comma-separated claim names (mdoc: element identifiers) to reveal (default: all)",
    )
    present.add_argument(
        "--holder-key",
        metavar="FILE",
        help="private JWK file; adds a Key Binding JWT (mdoc: signs the device authentication)",
    )
    present.add_argument("--audience", help="the verifier (OpenID4VP client_id)")
    present.add_argument("--nonce", help="the verifier's nonce for this session")
    openid4vp_flags(present)
    present.set_defaults(func=cmd_present)
