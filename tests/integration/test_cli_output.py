"""What the command line prints and writes, through a real server process: JSON values in
their types, --field / -q / -o table, the holder's key files, the database the admin
commands open, help and version, and what a client command imports."""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from eudi_connect.cli.failures import Exit
from eudi_connect.cli.main import build_parser
from eudi_connect.core.templates import PID_EXAMPLE_SUBJECT

from .processes import cli_env, create_tenant, free_port, run_command, start_server


@dataclass
class Served:
    db: str
    tenant_id: str
    env: dict[str, str]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One server process (and one tenant) for the module's tests."""
    folder = tmp_path_factory.mktemp("cli-output")
    db = f"sqlite:///{folder / 'cli.db'}"
    process, address = start_server(db)
    try:
        tenant = create_tenant(db, "Output")
        env = cli_env(address=address, api_key=tenant["api_key"])
        yield Served(db, tenant["tenant_id"], env)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


def ok(completed: subprocess.CompletedProcess[str]) -> str:
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


@pytest.fixture
def subject(tmp_path: Path) -> Path:
    path = tmp_path / "subject.json"
    path.write_text(json.dumps(dict(PID_EXAMPLE_SUBJECT)), encoding="utf-8")
    return path


def test_values_keep_their_json_types(served: Served, subject: Path, tmp_path: Path) -> None:
    """Whole numbers (claims, int64 fields) print as integers, enums by short name, and a
    passed check carries no failure."""
    issued = json.loads(
        ok(run_command("issue", "--template", "pid", "--subject", str(subject), env=served.env))
    )
    assert type(issued["status_index"]) is int
    (tmp_path / "credential.txt").write_text(issued["credential"])
    verified = json.loads(
        ok(run_command("verify", f"@{tmp_path / 'credential.txt'}", env=served.env))
    )
    assert verified["valid"] is True
    assert verified["status"] == "VALID"
    assert "failure" not in verified
    assert type(verified["claims"]["exp"]) is int
    assert type(verified["claims"]["status"]["status_list"]["idx"]) is int
    assert verified["claims"]["age_equal_or_over"] == {"18": True}
    assert all(check["passed"] and "failure" not in check for check in verified["checks"])
    template = json.loads(ok(run_command("template", "get", "pid", env=served.env)))
    assert (template["kind"], template["version"]) == ("CREDENTIAL", 1)
    assert type(template["credential"]["default_validity_seconds"]) is int


def test_field_and_quiet_print_plain_values(served: Served, subject: Path, tmp_path: Path) -> None:
    """-q prints the main value, --field any (through lists, a line each) and nothing for a
    field that is unset; an unknown field is a usage error listing the fields there are."""
    credential = ok(
        run_command("issue", "--template", "pid", "--subject", str(subject), "-q", env=served.env)
    )
    assert credential.count("\n") == 1
    assert credential.count("~") >= 8
    (tmp_path / "credential.txt").write_text(credential)
    verify = ["verify", f"@{tmp_path / 'credential.txt'}"]
    assert ok(run_command(*verify, "-q", env=served.env)) == "true\n"
    assert ok(run_command(*verify, "--field", "failure", env=served.env)) == ""  # none: valid
    cid = ok(
        run_command(
            "issue", "--template", "pid", "--subject", str(subject), "--field", "credential_id",
            env=served.env,
        )
    ).strip()  # fmt: skip
    assert ok(run_command("status", cid, "-q", env=served.env)) == "VALID\n"
    assert ok(run_command("revoke", cid, "--field", "status", env=served.env)) == "REVOKED\n"
    ids = ok(run_command("template", "list", "--field", "template_id", env=served.env))
    assert {"pid", "mdl"} <= set(ids.splitlines())
    key_ids = ok(
        run_command(
            "tenant", "keys", "list", "--tenant", served.tenant_id, "--db", served.db,
            "--field", "keys.key_id",
        )
    )  # fmt: skip
    assert len(key_ids.splitlines()) == 1
    unknown = run_command("status", cid, "--field", "state", env=served.env)
    assert unknown.returncode == Exit.USAGE
    assert unknown.stderr.startswith("error: no field 'state' in the output; its fields: ")
    assert "status_list_id" in unknown.stderr


def test_lists_print_as_tables(served: Served) -> None:
    """`-o table`: a header and aligned rows, one per template."""
    lines = ok(run_command("template", "list", "-o", "table", env=served.env)).splitlines()
    assert lines[0].split() == ["template_id", "kind", "version", "etag", "builtin", "description"]
    pid = next(line for line in lines if line.startswith("pid "))
    assert pid.split()[:5] == ["pid", "CREDENTIAL", "1", '"v1"', "true"]
    assert len({line.index("CREDENTIAL") for line in lines[1:]}) == 1  # one column


def test_holder_key_writes_both_halves_and_keeps_what_exists(
    served: Served, subject: Path, tmp_path: Path
) -> None:
    """holder-key writes the private (0600) and public files, refuses to overwrite either
    unless --force, and `issue --holder-jwk @private-file` binds to its public half."""
    private, public = tmp_path / "k.json", tmp_path / "k.pub.json"
    made = json.loads(ok(run_command("holder-key", "--out", str(private))))
    assert made["public_key_file"] == str(public)
    assert oct(private.stat().st_mode & 0o777) == "0o600"
    assert json.loads(public.read_text()) == made["public_jwk"]
    before = private.read_text()
    again = run_command("holder-key", "--out", str(private))
    assert again.returncode == Exit.BAD_INPUT
    assert again.stderr == (
        f"error: {str(private)!r} exists; holder-key does not overwrite a key (give --force, "
        "or another --out)\n"
    )
    assert private.read_text() == before
    public.unlink()  # the private file alone still stops it
    assert run_command("holder-key", "--out", str(private)).returncode == Exit.BAD_INPUT
    assert not public.exists()
    forced = json.loads(ok(run_command("holder-key", "--out", str(private), "--force")))
    assert private.read_text() != before

    credential = tmp_path / "credential.txt"
    ok(
        run_command(
            "issue", "--template", "pid", "--subject", str(subject), "--holder-jwk",
            f"@{private}", "--credential-out", str(credential), env=served.env,
        )
    )  # fmt: skip
    assert oct(credential.stat().st_mode & 0o777) == "0o600"
    verified = json.loads(ok(run_command("verify", f"@{credential}", env=served.env)))
    assert verified["claims"]["cnf"]["jwk"] == forced["public_jwk"]


def test_admin_commands_say_which_database_they_open(tmp_path: Path) -> None:
    """Without --db, `tenant create` opens ./eudi-connect.db (as --help shows, full path),
    warns once when it had to create it, logs nothing else; EUDI_CONNECT_DB moves it."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    shown = ok(run_command("tenant", "create", "--help", cwd=str(folder)))
    assert str(folder / "eudi-connect.db") in " ".join(shown.split())
    first = run_command("tenant", "create", "First", cwd=str(folder))
    assert first.returncode == 0, first.stderr
    assert first.stderr == (
        f"warning: no database was at {folder / 'eudi-connect.db'}; created a new one and a "
        "new master key beside it. A server that uses another database will not know what "
        "was made here: give it the same --db, or set EUDI_CONNECT_DB\n"
    )
    second = run_command("tenant", "create", "Second", "-q", cwd=str(folder))
    assert second.returncode == 0
    assert second.stderr == ""
    assert second.stdout.startswith("ek_")

    chosen = tmp_path / "chosen.db"
    moved = run_command(
        "tenant", "create", "Third", cwd=str(folder), env=cli_env(db=f"sqlite:///{chosen}")
    )
    assert moved.returncode == 0
    assert f"no database was at {chosen};" in moved.stderr
    assert chosen.exists()


def test_help_text_and_defaults_for_every_option() -> None:
    """Every option of every command has help text, and --help shows the defaults."""
    missing = []

    def walk(parser: argparse.ArgumentParser, path: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    walk(child, f"{path} {name}")
            elif not action.help and action.dest != "help":
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")

    walk(build_parser(), "eudi-connect")
    assert missing == []
    serve_help = " ".join(ok(run_command("serve", "--help")).split())
    assert "gRPC port (0: a free one, printed as READY) (default: 50051)" in serve_help
    issue_help = " ".join(ok(run_command("issue", "--help")).split())
    assert "how long to wait for each answer (default: 30.0)" in issue_help
    assert ok(run_command("--version")) == "eudi-connect 0.1.0\n"


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["issue", "--template", "pid", "--subject", "-"],
        ["verify", "-"],
        ["status", "x"],
        ["template", "get", "pid"],
        ["trust", "list"],
        ["offer", "create", "--template", "pid", "--deferred"],
    ],
)
def test_client_commands_do_not_load_the_server(argv: list[str]) -> None:
    """A client command (and --help) imports neither the server, the store, the services,
    the verifier, aiohttp nor the templates engine; --help not even gRPC."""
    loaded = modules_loaded_by(argv)
    heavy = {
        "aiohttp",
        "aiosqlite",
        "asyncpg",
        "jinja2",
        "cbor2",
        "cryptography",
        "opentelemetry.sdk",
        "eudi_connect.api.server",
        "eudi_connect.services",
        "eudi_connect.store",
        "eudi_connect.core.sdjwt",
        "eudi_connect.core.mdoc",
    }
    assert heavy.isdisjoint(loaded), heavy & loaded
    if argv == ["--help"]:
        assert "grpc" not in loaded


_SERVICES = ("credential", "template", "trust", "offer", "presentation")


@pytest.mark.parametrize(
    ("argv", "services"),
    [
        (["status", "x"], {"credential"}),
        (["verify", "-"], {"credential"}),
        (["issue", "--template", "pid", "--subject", "-"], {"credential", "template"}),
        (["template", "get", "pid"], {"template"}),
        (["trust", "list"], {"trust"}),
        (["offer", "create", "--template", "pid", "--deferred"], {"offer"}),
    ],
)
def test_client_commands_load_only_the_stubs_they_call(argv: list[str], services: set[str]) -> None:
    """Each client command imports the generated stubs of the services it calls and no
    others (a service's messages only where another's messages embed them)."""
    loaded = modules_loaded_by(argv)
    stubs = {name for name in _SERVICES if f"eudi.connect.v1.{name}_service_pb2_grpc" in loaded}
    assert stubs == services


def modules_loaded_by(argv: list[str]) -> set[str]:
    """The modules `main(argv)` has imported when it ends (no server at the address)."""
    probe = (
        "import json, sys\n"
        "from eudi_connect.cli.main import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe],
        input="{}",
        capture_output=True,
        text=True,
        timeout=60,
        env=cli_env(address=f"127.0.0.1:{free_port()}", api_key="ek_x.y"),
        check=False,
    )
    return set(json.loads(completed.stderr.splitlines()[-1]))
