"""`eudi-connect offer policy get|set`: what the tenant asks of wallets.

eudi-connect offer policy get > policy.json
eudi-connect offer policy set --key-attestation --key-storage iso_18045_high \\
    --provider-ca provider-root.pem
eudi-connect offer policy set --file policy.json

`set` replaces the whole policy with what the file and the flags give (flags win over the
file; what neither gives is off or empty), so `get`, edit, `set --file` round-trips.
Certificates are PEM text in the JSON; the JWKS is a JSON object.
"""

from __future__ import annotations

import argparse
import base64
import json
from pathlib import Path
from typing import Any

from eudi.connect.v1 import offer_service_pb2 as opb

from eudi_connect.cli.client import ClientConfig, offer_stub, print_json

_FIELDS = (
    "wallet_attestation_required",
    "key_attestation_required",
    "key_storage",
    "user_authentication",
    "wallet_provider_certificates",
    "wallet_provider_jwks",
)


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise SystemExit(f"error: cannot read the {what} {path!r}: {exc.strerror}") from exc


def _pem(der: bytes) -> str:
    # Only `policy get` shows certificates; cryptography's x509 costs the other offer
    # commands a tenth of a second to import.
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        certificate = x509.load_der_x509_certificate(der)
    except ValueError:
        return base64.b64encode(der).decode("ascii")
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def policy_json(policy: opb.WalletPolicy) -> dict[str, Any]:
    """The policy as `set --file` reads it."""
    return {
        "wallet_attestation_required": policy.wallet_attestation_required,
        "key_attestation_required": policy.key_attestation_required,
        "key_storage": list(policy.key_storage),
        "user_authentication": list(policy.user_authentication),
        "wallet_provider_certificates": [_pem(d) for d in policy.wallet_provider_certificates],
        "wallet_provider_jwks": (
            json.loads(policy.wallet_provider_jwks) if policy.wallet_provider_jwks else None
        ),
    }


def _certificate_bytes(value: Any, position: int) -> bytes:
    """A certificate from the file: PEM text, or base64 of its DER."""
    if not isinstance(value, str):
        raise SystemExit(f"error: wallet_provider_certificates[{position}] must be a string")
    if "-----BEGIN" in value:
        return value.encode("ascii", errors="replace")
    try:
        return base64.b64decode(value, validate=True)
    except ValueError as exc:
        raise SystemExit(
            f"error: wallet_provider_certificates[{position}] is neither PEM nor base64 DER"
        ) from exc


def _from_file(path: str) -> opb.WalletPolicy:
    try:
        document = json.loads(_read(path, "policy file"))
    except ValueError as exc:
        raise SystemExit(f"error: the policy file {path!r} is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise SystemExit(f"error: the policy file {path!r} must hold a JSON object")
    unknown = sorted(set(document) - set(_FIELDS))
    if unknown:
        raise SystemExit(f"error: the policy file has unknown fields: {', '.join(unknown)}")
    policy = opb.WalletPolicy()
    for name in ("wallet_attestation_required", "key_attestation_required"):
        value = document.get(name, False)
        if not isinstance(value, bool):
            raise SystemExit(f"error: {name} must be true or false")
        setattr(policy, name, value)
    for name in ("key_storage", "user_authentication"):
        values = document.get(name) or []
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise SystemExit(f"error: {name} must be a list of strings")
        getattr(policy, name).extend(values)
    certificates = document.get("wallet_provider_certificates") or []
    if not isinstance(certificates, list):
        raise SystemExit("error: wallet_provider_certificates must be a list")
    policy.wallet_provider_certificates.extend(
        _certificate_bytes(value, position) for position, value in enumerate(certificates)
    )
    jwks = document.get("wallet_provider_jwks")
    if jwks is not None:
        policy.wallet_provider_jwks = jwks if isinstance(jwks, str) else json.dumps(jwks)
    return policy


def _requested(args: argparse.Namespace) -> opb.WalletPolicy:
    policy = _from_file(args.file) if args.file else opb.WalletPolicy()
    if args.wallet_attestation is not None:
        policy.wallet_attestation_required = args.wallet_attestation
    if args.key_attestation is not None:
        policy.key_attestation_required = args.key_attestation
    if args.key_storage:
        del policy.key_storage[:]
        policy.key_storage.extend(args.key_storage)
    if args.user_authentication:
        del policy.user_authentication[:]
        policy.user_authentication.extend(args.user_authentication)
    if args.provider_ca:
        del policy.wallet_provider_certificates[:]
        policy.wallet_provider_certificates.extend(
            _read(path, "certificate file") for path in args.provider_ca
        )
    if args.provider_jwks:
        policy.wallet_provider_jwks = _read(args.provider_jwks, "JWKS file").decode(
            "utf-8", errors="replace"
        )
    return policy


def cmd_policy_get(args: argparse.Namespace, config: ClientConfig) -> None:
    with offer_stub(config) as stub:
        response = config.call(stub.GetWalletPolicy, opb.GetWalletPolicyRequest())
    print_json(policy_json(response.policy))


def cmd_policy_set(args: argparse.Namespace, config: ClientConfig) -> None:
    request = opb.UpdateWalletPolicyRequest(policy=_requested(args))
    with offer_stub(config) as stub:
        response = config.call(stub.UpdateWalletPolicy, request)
    print_json(policy_json(response.policy))


def add_policy_arguments(set_parser: argparse.ArgumentParser) -> None:
    set_parser.add_argument("--file", help="JSON policy, as `policy get` prints it")
    set_parser.add_argument(
        "--wallet-attestation",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="the token endpoint requires a wallet attestation",
    )
    set_parser.add_argument(
        "--key-attestation",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="the credential endpoint requires key attestations",
    )
    set_parser.add_argument(
        "--key-storage", action="append", metavar="LEVEL", help="accepted level (repeatable)"
    )
    set_parser.add_argument(
        "--user-authentication",
        action="append",
        metavar="LEVEL",
        help="accepted level (repeatable)",
    )
    set_parser.add_argument(
        "--provider-ca",
        action="append",
        metavar="FILE",
        help="PEM or DER CA certificate of a trusted wallet provider (repeatable)",
    )
    set_parser.add_argument(
        "--provider-jwks", metavar="FILE", help="JWKS of trusted wallet provider keys (by kid)"
    )
