"""Every command: its one-line help and the module (and function) that adds its parser.

`eudi-connect --help` needs only this table; a command loads only its own module, so the
client commands never import the server, the store or the verifier. By role:

- `serve`: the server (cli.serve);
- `tenant`, `keys`, `verifier`: the operator's commands on the database (cli.admin,
  cli.verifier);
- `holder-key`, `present`: the holder's local tools (cli.holder);
- everything else: clients of a running server over gRPC (cli.issue, cli.credentials,
  cli.batch, cli.templates, cli.trust, cli.offers, cli.presentations).
"""

from __future__ import annotations

from typing import Any, NamedTuple


class Command(NamedTuple):
    help: str
    module: str
    adder: str  # module function(subparsers) that adds this command (and maybe others)
    #: Whether the process needs Python's own teardown when the command is done: the
    #: server's and the database's commands do (threads, stores, workers to close); the
    #: others have written and closed everything when they return.
    teardown: bool = False


COMMANDS: dict[str, Command] = {
    "serve": Command(
        "run the gRPC server (and the HTTP endpoints its credentials name)",
        "serve",
        "add_serve_command",
        teardown=True,
    ),
    "tenant": Command(
        "manage tenants and their API keys (on the database)",
        "admin",
        "add_tenant_commands",
        teardown=True,
    ),
    "keys": Command(
        "manage issuer keys (on the database)", "admin", "add_keys_commands", teardown=True
    ),
    "verifier": Command(
        "a tenant's verifier identity for OpenID4VP: DNS name and certificate (on the database)",
        "verifier",
        "add_verifier_commands",
        teardown=True,
    ),
    "holder-key": Command(
        "make a holder key pair: a private JWK file and its public JWK file",
        "holder",
        "add_holder_key_command",
    ),
    "present": Command(
        "make a presentation from a credential (holder side): an SD-JWT (+KB) or, for an "
        "mdoc, a DeviceResponse",
        "holder",
        "add_present_command",
    ),
    "issue": Command("issue a credential", "issue", "add_issue_command"),
    "issue-batch": Command(
        "issue many credentials from a JSONL file (a subject a line)",
        "batch",
        "add_issue_batch_command",
    ),
    "verify": Command(
        "verify a credential or presentation (exit 4 when it is not valid)",
        "credentials",
        "add_verify_command",
    ),
    "revoke": Command("revoke a credential (final)", "credentials", "add_status_commands"),
    "suspend": Command(
        "suspend a credential (reinstate undoes it)", "credentials", "add_status_commands"
    ),
    "reinstate": Command("reinstate a suspended credential", "credentials", "add_status_commands"),
    "status": Command("a credential's status", "credentials", "add_status_commands"),
    "status-list": Command(
        "a status list token, as verifiers fetch it", "credentials", "add_status_commands"
    ),
    "jwks": Command("the tenant's issuer keys (JWKS)", "credentials", "add_status_commands"),
    "template": Command(
        "manage and render credential and notification templates",
        "templates",
        "add_template_commands",
    ),
    "trust": Command(
        "trusted issuers and X.509 trust anchors for verification", "trust", "add_trust_commands"
    ),
    "offer": Command(
        "credential offers that wallets collect over OpenID4VCI", "offers", "add_offer_commands"
    ),
    "presentation": Command(
        "ask wallets for credentials over OpenID4VP and read what they presented",
        "presentations",
        "add_presentation_commands",
    ),
}


def command_parser(sub: Any, name: str) -> Any:
    """The parser of command `name`, with the help the table gives it."""
    text = COMMANDS[name].help
    return sub.add_parser(name, help=text, description=text)
