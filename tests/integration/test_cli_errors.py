"""Everyday mistakes at the command line, each against a real server process where one is
involved: one `error:` line saying what is wrong and what to do, and its exit code."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from eudi_connect.cli.failures import Exit
from eudi_connect.core.templates import PID_EXAMPLE_SUBJECT

from .processes import CLI, cli_env, create_tenant, free_port, run_command, start_server


@dataclass
class Served:
    address: str
    db: str
    folder: Path
    env: dict[str, str]  # a tenant's client settings


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One server process (and one tenant) for the module's tests."""
    folder = tmp_path_factory.mktemp("cli-errors")
    db = f"sqlite:///{folder / 'cli.db'}"
    process, address = start_server(db)
    try:
        tenant = create_tenant(db, "Mistakes")
        yield Served(address, db, folder, cli_env(address=address, api_key=tenant["api_key"]))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


def one_error_line(completed: subprocess.CompletedProcess[str]) -> str:
    """The single line a failure prints (no traceback, nothing else)."""
    lines = completed.stderr.splitlines()
    assert len(lines) == 1, completed.stderr
    assert lines[0].startswith("error: "), completed.stderr
    return lines[0]


def write_subject(folder: Path, name: str, subject: object) -> Path:
    path = folder / name
    path.write_text(json.dumps(subject), encoding="utf-8")
    return path


# --- local inputs ----------------------------------------------------------------------------
def test_a_misspelt_at_file_names_the_file_and_the_likely_one(tmp_path: Path) -> None:
    """`verify @credental.txt` beside credential.txt: exit 5, the file and a did-you-mean."""
    (tmp_path / "credential.txt").write_text("x")
    completed = run_command("verify", "@credental.txt", cwd=str(tmp_path))
    assert completed.returncode == Exit.BAD_INPUT
    assert one_error_line(completed) == (
        "error: cannot read the credential 'credental.txt': no such file; "
        "did you mean 'credential.txt'?"
    )


def test_a_missing_or_malformed_subject_is_one_line(served: Served, tmp_path: Path) -> None:
    """A subject file that is missing, not JSON, or not an object: exit 5, never issued."""
    missing = run_command(
        "issue", "--template", "pid", "--subject", str(tmp_path / "nope.json"), env=served.env
    )
    assert missing.returncode == Exit.BAD_INPUT
    assert "no such file" in one_error_line(missing)

    broken = tmp_path / "broken.json"
    broken.write_text('{"family_name": "Mustermann",\n "given_name": Erika}')
    bad_json = run_command("issue", "--template", "pid", "--subject", str(broken), env=served.env)
    assert bad_json.returncode == Exit.BAD_INPUT
    assert one_error_line(bad_json) == (
        f"error: the subject file {str(broken)!r} is not valid JSON: Expecting value at line "
        "2, column 16"
    )
    listed = write_subject(tmp_path, "list.json", [dict(PID_EXAMPLE_SUBJECT)])
    not_object = run_command("issue", "--template", "pid", "--subject", str(listed), env=served.env)
    assert not_object.returncode == Exit.BAD_INPUT
    assert "must hold a JSON object ({...}), not a list" in one_error_line(not_object)
    assert missing.stdout == bad_json.stdout == not_object.stdout == ""


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("unbuffered", ["", "1"])
def test_output_that_cannot_be_written_is_one_line(tmp_path: Path, unbuffered: str) -> None:
    """Standard output on a full disk (/dev/full), whether Python buffers it or not: exit 5
    and one line saying the output could not be written, no traceback."""
    env = cli_env()
    env.pop("PYTHONUNBUFFERED", None)
    if unbuffered:
        env["PYTHONUNBUFFERED"] = unbuffered
    with open("/dev/full", "w") as full:
        completed = subprocess.run(
            [*CLI, "holder-key", "--out", str(tmp_path / "key.json")],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
    assert completed.returncode == Exit.BAD_INPUT
    assert one_error_line(completed) == ("error: cannot write the output: No space left on device")


def test_usage_mistakes_exit_2_with_a_did_you_mean() -> None:
    """A misspelt command gets a did-you-mean; an unknown option is argparse's usage error."""
    misspelt = run_command("isue")
    assert misspelt.returncode == Exit.USAGE
    assert "no command 'isue'; did you mean 'issue'?" in misspelt.stderr
    unknown = run_command("status", "x", "--colour")
    assert unknown.returncode == Exit.USAGE
    assert "unrecognized arguments: --colour" in unknown.stderr


# --- serve -----------------------------------------------------------------------------------
@pytest.mark.parametrize("flag", ["--port", "--http-port"])
def test_a_taken_port_stops_serve_with_one_line(flag: str, tmp_path: Path) -> None:
    """serve on a port something listens on: exit 6, which port, what to do, no database."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ports = {"--port": str(free_port()), "--http-port": str(free_port()), flag: str(port)}
        db = tmp_path / "never.db"
        completed = run_command(
            "serve", "--db", f"sqlite:///{db}", *(x for kv in ports.items() for x in kv)
        )
    assert completed.returncode == Exit.UNREACHABLE
    line = one_error_line(completed)
    assert line.startswith(f"error: cannot listen on 127.0.0.1:{port}: Address already in use")
    assert line.endswith(f"is another server running? Stop it, or choose another {flag}")
    assert not db.exists()


# --- talking to the server -------------------------------------------------------------------
def test_no_server_at_the_address_asks_whether_one_runs() -> None:
    """Nothing listening at the address: exit 6, the address and EUDI_CONNECT_ADDRESS."""
    address = f"127.0.0.1:{free_port()}"
    completed = run_command("status", "x", env=cli_env(address=address, api_key="ek_x.y"))
    assert completed.returncode == Exit.UNREACHABLE
    line = one_error_line(completed)
    assert f"cannot reach a server at {address}: is `eudi-connect serve` running there?" in line
    assert "EUDI_CONNECT_ADDRESS" in line


def test_api_key_refusals_say_what_to_set(served: Served) -> None:
    """No key: exit 7 naming EUDI_CONNECT_API_KEY and --api-key; a key the server does not
    know: exit 7 with its reason and the database it must come from."""
    no_key = run_command("status", "x", env=cli_env(address=served.address))
    assert no_key.returncode == Exit.UNAUTHENTICATED
    line = one_error_line(no_key)
    assert line.startswith("error: UNAUTHENTICATED API_KEY_MISSING: no API key was sent")
    assert "set EUDI_CONNECT_API_KEY or pass --api-key" in line
    unknown = f"ek_{'0' * 16}.{'A' * 43}"
    wrong = run_command("status", "x", env=cli_env(address=served.address, api_key=unknown))
    assert wrong.returncode == Exit.UNAUTHENTICATED
    line = one_error_line(wrong)
    assert line.startswith("error: UNAUTHENTICATED API_KEY_INVALID: ")
    assert "EUDI_CONNECT_DB" in line


def test_a_refusal_carries_its_error_info_reason(served: Served) -> None:
    """The server's ErrorInfo reason follows the status code, as grpcurl shows it; exit 1."""
    completed = run_command("status", "0123456789abcdef", env=served.env)
    assert completed.returncode == Exit.REFUSED
    assert one_error_line(completed).startswith("error: NOT_FOUND CREDENTIAL_NOT_FOUND: ")


def _diploma(folder: Path, claims: str) -> Path:
    definition = {
        "template_id": "diploma",
        "data_schema": ["degree"],
        "credential": {
            "vct": "urn:example:diploma:1",
            "claims_template": claims,
            "default_validity_seconds": 60,
            "max_validity_seconds": 120,
        },
    }
    return write_subject(folder, "diploma.json", definition)


def test_template_refusals_say_what_to_do(served: Served, tmp_path: Path) -> None:
    """Creating a template that exists suggests `update`; a misspelt id (issue, get) gets a
    did-you-mean from the tenant's templates; both exit 1."""
    spec = _diploma(tmp_path, '{"degree": {{ degree }}}')
    assert run_command("template", "create", str(spec), env=served.env).returncode == 0
    again = run_command("template", "create", str(spec), env=served.env)
    assert again.returncode == Exit.REFUSED
    line = one_error_line(again)
    assert line.startswith("error: ALREADY_EXISTS TEMPLATE_EXISTS: ")
    assert line.endswith(f"to change it, use `eudi-connect template update {spec}`")

    subject = write_subject(tmp_path, "subject.json", dict(PID_EXAMPLE_SUBJECT))
    misspelt = run_command("issue", "--template", "pdi", "--subject", str(subject), env=served.env)
    assert misspelt.returncode == Exit.REFUSED
    assert one_error_line(misspelt) == (
        "error: NOT_FOUND TEMPLATE_NOT_FOUND: template 'pdi' not found; did you mean 'pid'?"
    )
    got = run_command("template", "get", "dipoma", env=served.env)
    assert got.returncode == Exit.REFUSED
    assert one_error_line(got).endswith("did you mean 'diploma'?")


def test_a_quoted_output_is_refused_when_the_template_is_saved(
    served: Served, tmp_path: Path
) -> None:
    """`"{{ degree }}"` in a claims template fails at `template create`, with where and why."""
    spec = _diploma(tmp_path, '{"degree": "{{ degree }}"}')
    completed = run_command("template", "create", str(spec), env=served.env)
    assert completed.returncode == Exit.REFUSED
    line = one_error_line(completed)
    assert line.startswith(
        "error: INVALID_ARGUMENT TEMPLATE_QUOTED_OUTPUT: claims_template line 1, column 13: "
    )
    assert "drop the quotes" in line


def test_every_missing_subject_field_is_named_at_once(served: Served, tmp_path: Path) -> None:
    """A subject lacking two fields, one of them misspelt: the server's one error names
    both missing fields and the misspelt one with its likely name (no warning beside it)."""
    subject = dict(PID_EXAMPLE_SUBJECT)
    subject["birth_date"] = subject.pop("birthdate")
    del subject["nationalities"]
    path = write_subject(tmp_path, "subject.json", subject)
    completed = run_command("issue", "--template", "pid", "--subject", str(path), env=served.env)
    assert completed.returncode == Exit.REFUSED
    assert one_error_line(completed) == (
        "error: INVALID_ARGUMENT SUBJECT_FIELD_MISSING: subject fields 'birthdate', "
        "'nationalities' are required by template 'pid'; it does not read the subject "
        "field(s) 'birth_date' (did you mean 'birthdate'?)"
    )
    assert completed.stdout == ""


def test_an_empty_subject_names_every_field_the_template_needs(
    served: Served, tmp_path: Path
) -> None:
    """`issue` with {} for the mDL: one error naming all its fields, the optional ones
    (a privilege's dates) left out."""
    path = write_subject(tmp_path, "empty.json", {})
    completed = run_command("issue", "--template", "mdl", "--subject", str(path), env=served.env)
    assert completed.returncode == Exit.REFUSED
    assert one_error_line(completed) == (
        "error: INVALID_ARGUMENT SUBJECT_FIELD_MISSING: subject fields 'family_name', "
        "'given_name', 'birthdate', 'issue_date', 'expiry_date', 'issuing_country', "
        "'issuing_authority', 'document_number', 'driving_privileges' are required by "
        "template 'mdl'"
    )


def test_subject_fields_the_template_does_not_read_warn_or_refuse(
    served: Served, tmp_path: Path
) -> None:
    """An extra field: issued with a warning naming it; with --strict, refused (exit 5)
    before anything is issued."""
    path = write_subject(tmp_path, "subject.json", {**PID_EXAMPLE_SUBJECT, "nickname": "E"})
    issued = run_command("issue", "--template", "pid", "--subject", str(path), env=served.env)
    assert issued.returncode == 0, issued.stderr
    assert "credential" in json.loads(issued.stdout)
    assert issued.stderr == (
        "warning: template 'pid' does not read the subject field(s) 'nickname': they would "
        "not be issued\n"
    )
    strict = run_command(
        "issue", "--template", "pid", "--subject", str(path), "--strict", env=served.env
    )
    assert strict.returncode == Exit.BAD_INPUT
    assert one_error_line(strict).endswith("(--strict)")
    assert strict.stdout == ""


def test_present_refuses_a_claim_the_credential_does_not_have(
    served: Served, tmp_path: Path
) -> None:
    """`--disclose givenname` fails (exit 5) with the likely name and the disclosable ones,
    rather than disclosing nothing."""
    subject = write_subject(tmp_path, "subject.json", dict(PID_EXAMPLE_SUBJECT))
    issued = run_command(
        "issue", "--template", "pid", "--subject", str(subject), "-q", env=served.env
    )
    assert issued.returncode == 0, issued.stderr
    (tmp_path / "credential.txt").write_text(issued.stdout)
    completed = run_command(
        "present", f"@{tmp_path / 'credential.txt'}", "--disclose", "family_name,givenname"
    )
    assert completed.returncode == Exit.BAD_INPUT
    assert one_error_line(completed) == (
        "error: --disclose 'givenname': the credential has no such claim; did you mean "
        "'given_name'? (disclosable: 18, birthdate, country, family_name, given_name, "
        "locality, nationalities, place_of_birth)"
    )
    assert completed.stdout == ""


def test_present_refuses_an_element_the_mdoc_does_not_have(served: Served, tmp_path: Path) -> None:
    """An mdoc `--disclose birthdat` fails (exit 5) with the likely element and the
    elements the mdoc holds, rather than a bare refusal."""
    made = run_command("holder-key", "--out", str(tmp_path / "key.json"))
    assert made.returncode == 0, made.stderr
    subject = write_subject(tmp_path, "subject.json", dict(PID_EXAMPLE_SUBJECT))
    issued = run_command(
        "issue", "--template", "pid", "--subject", str(subject), "--format", "mso_mdoc",
        "--holder-jwk", f"@{tmp_path / 'key.pub.json'}", "-q", env=served.env,
    )  # fmt: skip
    assert issued.returncode == 0, issued.stderr
    (tmp_path / "mdoc.txt").write_text(issued.stdout)
    completed = run_command(
        "present", f"@{tmp_path / 'mdoc.txt'}", "--disclose", "family_name,birthdat",
        "--holder-key", str(tmp_path / "key.json"), "--audience", "https://verifier.example",
        "--nonce", "n-1", "--response-uri", "https://verifier.example/response",
    )  # fmt: skip
    assert completed.returncode == Exit.BAD_INPUT
    assert one_error_line(completed) == (
        "error: --disclose 'birthdat': the mdoc has no such element; did you mean "
        "'birth_date'? (its elements: age_over_18, birth_date, expiry_date, family_name, "
        "given_name, issuance_date, issuing_authority, issuing_country, nationality, "
        "place_of_birth)"
    )
    assert completed.stdout == ""


def test_ctrl_c_during_issue_batch_says_what_was_issued(served: Served, tmp_path: Path) -> None:
    """SIGINT while a batch streams: exit 130 and one line counting the credentials issued
    and written (the output file has exactly those), and how to issue the rest."""
    subjects = tmp_path / "subjects.jsonl"
    line = json.dumps(dict(PID_EXAMPLE_SUBJECT))
    subjects.write_text((line + "\n") * 20_000)
    out = tmp_path / "out.jsonl"
    batch = ["issue-batch", "--template", "pid", "--subjects", str(subjects), "--out", str(out)]
    process = subprocess.Popen(
        [*CLI, *batch, "--request-id-prefix", "roster"],
        env=served.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not out.exists() or out.stat().st_size == 0):
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == Exit.INTERRUPTED
    written = out.read_text().splitlines()
    assert 0 < len(written) < 20_000
    assert all("credential" in json.loads(row) for row in written)
    assert stderr.splitlines() == [
        f"error: interrupted: {len(written)} of 20000 credential(s) issued and written to "
        f"{out} (0 failed); run the same command again to issue the rest "
        "(--request-id-prefix makes the issued ones come back unchanged)"
    ]


def test_issue_batch_checks_the_template_and_the_fields_first(
    served: Served, tmp_path: Path
) -> None:
    """issue-batch: a misspelt template stops it before anything is issued (did-you-mean);
    fields the template does not read give one warning naming them and their lines."""
    subjects = tmp_path / "subjects.jsonl"
    rows = [dict(PID_EXAMPLE_SUBJECT), {**PID_EXAMPLE_SUBJECT, "nickname": "E"}]
    subjects.write_text("".join(json.dumps(row) + "\n" for row in rows))
    out = tmp_path / "out.jsonl"
    flags = ["--subjects", str(subjects), "--out", str(out)]
    misspelt = run_command("issue-batch", "--template", "pdi", *flags, env=served.env)
    assert misspelt.returncode == Exit.REFUSED
    assert one_error_line(misspelt).endswith("did you mean 'pid'?")
    assert not out.exists()
    issued = run_command("issue-batch", "--template", "pid", *flags, env=served.env)
    assert issued.returncode == 0, issued.stderr
    assert issued.stderr == (
        "warning: template 'pid' does not read the subject field(s) 'nickname', on 1 "
        "line(s) (2): they are not issued\n"
    )
    assert [("credential" in json.loads(row)) for row in out.read_text().splitlines()] == [
        True,
        True,
    ]
