"""The command line's boundary: exit codes for bugs and signals, --debug, JSON errors, redaction everywhere."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_runner import TRACEBACK, invoke
from commandline import ROOT, run
from pymongo import MongoClient
from test_hostile_inputs import CASES, lay_out_project

import mongoshard.cli.declarations as declarations
from mongoshard.errors import redact, remember_uri_secrets

MODEL = "examples.pokemon_storage.models:Creature"


def _bug(*_: object, **__: object) -> None:
    raise ZeroDivisionError("mongodb://admin:hunter2secret@db:27017/ divided by zero")


@pytest.fixture
def buggy_route(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug inside a command: the boundary must tell it from bad input."""
    monkeypatch.setattr(declarations, "model_spec", _bug)


def test_a_bug_is_exit_70_with_one_sentence_naming_debug(buggy_route: None, tmp_path: Path) -> None:
    outcome = invoke(["route", MODEL, "{}"], cwd=tmp_path)
    assert outcome.code == 70 and outcome.stdout == ""
    (line,) = outcome.stderr.splitlines()
    assert line.startswith("mongoshard: internal error (ZeroDivisionError") and "--debug" in line and "bug" in line
    assert "hunter2secret" not in line and TRACEBACK not in outcome.stderr


@pytest.mark.parametrize("switch", [["--debug"], []])
def test_debug_shows_the_traceback_without_secrets(buggy_route: None, tmp_path: Path, switch: list[str]) -> None:
    env = {} if switch else {"MONGOSHARD_DEBUG": "1"}
    outcome = invoke(["route", MODEL, "{}", *switch], cwd=tmp_path, env=env)
    assert outcome.code == 70
    assert TRACEBACK in outcome.stderr and "ZeroDivisionError" in outcome.stderr and "_bug" in outcome.stderr
    assert "hunter2secret" not in outcome.stderr


def test_a_bug_in_json_mode_is_a_json_line(buggy_route: None, tmp_path: Path) -> None:
    outcome = invoke(["route", MODEL, "{}", "--json"], cwd=tmp_path)
    (line,) = outcome.stderr.splitlines()
    assert json.loads(line)["exit_code"] == 70 and "internal error" in json.loads(line)["error"]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_in_a_long_command_is_128_plus_n_and_one_line(tmp_path: Path, signum: int) -> None:
    (tmp_path / "endless.py").write_text("import time\ndef feed():\n    while True:\n        time.sleep(0.001)\n        yield {'a': 1}\n")
    running = subprocess.Popen([sys.executable, "-m", "mongoshard", "simulate", "endless:feed", "--key", '{"a": 1}'], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={"PYTHONPATH": f"{ROOT}:{tmp_path}"})
    time.sleep(1.5)  # importing, then reading a sample that never ends
    assert running.poll() is None
    running.send_signal(signum)
    _, stderr = running.communicate(timeout=30)
    name = signal.Signals(signum).name
    assert running.returncode == 128 + signum and stderr == f"mongoshard: interrupted by {name}\n"  # nothing to roll back


# A sample of the table, through the real console script: main() must be the same boundary. A NUL byte cannot reach a
# real argv (execve refuses it), so those rows are only in-process.
SAMPLED = [row for index, row in enumerate(CASES)
           if index % 12 == 0 and not row.stdin and not any("\x00" in argument for argument in row.arguments)]


@pytest.mark.parametrize("row", SAMPLED, ids=[row.name for row in SAMPLED])
def test_the_console_script_behaves_as_the_table_says(tmp_path: Path, row) -> None:
    lay_out_project(tmp_path, row)
    result = run(*row.arguments, cwd=tmp_path, env={"PYTHONPATH": f"{ROOT}:{tmp_path}", **row.env})
    assert result.returncode == row.code and TRACEBACK not in result.stderr
    assert row.says in (result.stdout if row.code == 0 else result.stderr)


def test_a_plot_of_mongoshard_is_replaced_and_a_foreign_one_needs_force(tmp_path: Path) -> None:
    arguments = ["simulate", "examples.sensors.data:readings", "--limit", "300", "--key", '{"sensor_id": 1}', "--plot"]
    assert invoke([*arguments, "p.svg"], cwd=tmp_path).code == 0
    first = (tmp_path / "p.svg").read_text()
    assert invoke([*arguments, "p.svg", "--shards", "3"], cwd=tmp_path).code == 0, "a plot mongoshard wrote is replaced"
    assert (tmp_path / "p.svg").read_text() != first
    (tmp_path / "mine.svg").write_text("<svg>mine</svg>")
    assert invoke([*arguments, "mine.svg"], cwd=tmp_path).code == 2
    assert (tmp_path / "mine.svg").read_text() == "<svg>mine</svg>"
    assert invoke([*arguments, "mine.svg", "--force"], cwd=tmp_path).code == 0


# URIs as users write them and as pymongo accepts or reports them: none of the secrets may survive redaction.
URIS = [
    ("mongodb://admin:S3cretPw@h1:27017,h2:27017/db?replicaSet=rs", ["S3cretPw"]),
    ("mongodb://admin:pa/ss/word@host/", ["pa/ss/word"]),
    ("mongodb://admin:p@ss@word@host/", ["p@ss@word"]),
    ("mongodb://admin:pass?word@host/?w=1", ["pass?word"]),
    ("mongodb://admin:pass%2Fword@host/", ["pass%2Fword", "pass/word"]),
    ("mongodb://host/?password=QueryPassw0rd&w=1", ["QueryPassw0rd"]),
    ("mongodb://AKIAXX:awsSecretKey@host/?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:Sess10nT0ken",
     ["awsSecretKey", "Sess10nT0ken"]),
    ("mongodb://host/?tls=true&tlsCertificateKeyFile=/k.pem&tlsCertificateKeyFilePassword=KeyPassw0rd", ["KeyPassw0rd"]),
    ("mongodb://host/?ssl=true&sslPEMKeyPassword=OldKeyPassw0rd", ["OldKeyPassw0rd"]),
    ("MONGODB+SRV://admin:Srvpassw0rd@cluster0.example.net/", ["Srvpassw0rd"]),
    ("mongodb://admin:pass word@host/", ["pass word"]),
]


@pytest.mark.parametrize("uri, secrets", URIS)
def test_redaction_parses_every_uri(uri: str, secrets: list[str]) -> None:
    remember_uri_secrets(uri)
    sentence = f"Cannot reach {uri} (timeout)"
    for text in (sentence, f"'{uri}'", f"\"{uri}\"", f"<{uri}>"):
        shown = redact(text)
        assert not any(secret in shown for secret in secrets), shown
    assert "Cannot reach" in redact(sentence)


@pytest.mark.parametrize("uri, secrets", URIS)
def test_redaction_scrubs_what_pymongo_itself_reports(uri: str, secrets: list[str]) -> None:
    """The driver's own error and warning texts quote fragments of the URI (a host part, an option value)."""
    import warnings

    remember_uri_secrets(uri)
    reported = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            MongoClient(uri, serverSelectionTimeoutMS=1, connect=False).close()
        except Exception as exc:  # whatever pymongo raises for this URI
            reported.append(str(exc))
        reported += [str(w.message) for w in caught]
    for text in reported:
        assert not any(secret in redact(text) for secret in secrets), redact(text)


def test_a_reader_that_goes_away_is_141_and_silent(tmp_path: Path) -> None:
    (tmp_path / "mongoshard.yaml").write_text("shards: 300\nshard_members: 3\nbase_port: 20000\nauth: false\n")  # a long file
    reader = subprocess.Popen(["head", "-c", "10"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    result = subprocess.run([sys.executable, "-m", "mongoshard", "compose", "-o", "-"], cwd=tmp_path, stdout=reader.stdin,
                            stderr=subprocess.PIPE, text=True, env={"PYTHONPATH": str(ROOT)})
    reader.stdin.close()
    reader.wait()
    assert result.returncode == 141 and result.stderr == ""


@pytest.mark.parametrize("environment", [{"PYTHONIOENCODING": "ascii"}, {"LC_ALL": "C", "PYTHONUTF8": "0"}])
def test_a_terminal_that_cannot_show_unicode_gets_escapes(environment: dict) -> None:
    result = run("keys", "examples.pokemon_storage.models", "-d", "été", env=environment)
    assert result.returncode == 0 and TRACEBACK not in result.stderr
    assert "t\\x" in result.stdout or "t\\udc" in result.stdout, "the accented database name is shown escaped"


@pytest.mark.mongod
def test_a_server_that_is_not_a_cluster_is_named_as_such(cluster) -> None:
    shard = cluster.topology.shards[0]
    result = run("status", "--uri", f"mongodb://127.0.0.1:{shard.ports[0]}/?directConnection=true")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "this server is a member of replica set shard0, not a mongos or a config server member" in result.stderr


def test_a_deleted_current_directory_is_one_sentence(tmp_path) -> None:
    """Issue 18: every command, --version included, gave a traceback when the shell's directory had been deleted."""
    gone = tmp_path / "gone"
    gone.mkdir()
    script = f"mkdir -p {gone} && cd {gone} && rmdir {gone} && exec {sys.executable} -m mongoshard"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    version = subprocess.run(["sh", "-c", script + " --version"], capture_output=True, text=True, env=env)
    assert version.returncode == 0 and version.stdout.startswith("mongoshard ")
    keys = subprocess.run(["sh", "-c", script + " keys examples.pokemon_storage.models"], capture_output=True, text=True, env=env)
    assert keys.returncode == 2 and keys.stderr == ("mongoshard: the current directory no longer exists; cd to an existing "
                                                    "directory and run it again\n")


def test_user_code_output_never_breaks_json(tmp_path) -> None:
    """Issue 18: a sample generator writing to file descriptors 1 and 2, to sys.__stdout__/__stderr__ and through a
    subprocess, and a module printing at import: stdout stays one JSON document and every stderr line is a JSON object."""
    (tmp_path / "noisy.py").write_text(
        "import os, subprocess, sys\n"
        "print('printed at import')\n"
        "def docs():\n"
        "    os.write(1, b'raw bytes on fd 1\\n')\n"
        "    os.write(2, b'raw bytes on fd 2\\n')\n"
        "    print('to sys.__stdout__', file=sys.__stdout__, flush=True)\n"
        "    print('to sys.__stderr__', file=sys.__stderr__, flush=True)\n"
        "    subprocess.run(['echo', 'from a subprocess'])\n"
        "    subprocess.run(['sh', '-c', 'echo from a subprocess on stderr >&2'])\n"
        "    print('a plain print')\n"
        "    for n in range(5):\n"
        "        yield {'a': n}\n"
        "def stops():\n"
        "    yield {'a': 1}\n"
        "    raise GeneratorExit('closing myself')\n")
    env = {"PYTHONPATH": f"{ROOT}:{tmp_path}"}
    result = run("simulate", "noisy:docs", "--key", '{"a": 1}', "--json", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["documents"] == 5
    lines = result.stderr.splitlines()
    assert lines and all(isinstance(json.loads(line), dict) for line in lines), result.stderr
    said = [json.loads(line).get("output") for line in lines]
    assert {"raw bytes on fd 1", "raw bytes on fd 2", "to sys.__stdout__", "to sys.__stderr__", "from a subprocess",
            "from a subprocess on stderr", "a plain print", "printed at import"} <= set(said)
    stopped = run("simulate", "noisy:stops", "--key", '{"a": 1}', cwd=tmp_path, env=env)
    assert stopped.returncode == 2 and "Traceback" not in stopped.stderr
    assert stopped.stderr.splitlines()[-1] == ("mongoshard: the sample 'noisy:stops' raised GeneratorExit after 1 "
                                               "document(s): closing myself")


def test_a_full_or_closed_stderr_keeps_the_exit_code(tmp_path) -> None:
    """Issue 18: stderr on /dev/full, or closed, changed the exit code."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for redirect in ("2>/dev/full", "2>&-"):
        for arguments, code in (("keys no_such_module", 2), ("keys examples.pokemon_storage.models", 0)):
            done = subprocess.run(["sh", "-c", f"exec {sys.executable} -m mongoshard {arguments} >/dev/null {redirect}"],
                                  cwd=ROOT, env=env)
            assert done.returncode == code, (redirect, arguments)


def test_an_undeliverable_result_is_a_failure() -> None:
    """Issue 18: with standard output closed the result was dropped with exit 0; on a full disk the sentence said
    'cannot access' without saying what."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = f"exec {sys.executable} -m mongoshard route examples.pokemon_storage.models:Creature '{{\"user_id\": 7}}'"
    for redirect, reason in ((">&-", "it is closed"), (">/dev/full", "No space left on device")):
        done = subprocess.run(["sh", "-c", f"{command} {redirect}"], cwd=ROOT, env=env, capture_output=True, text=True)
        assert done.returncode == 2 and TRACEBACK not in done.stderr, (redirect, done.stderr)
        assert done.stderr == (f"mongoshard: cannot write the result to standard output ({reason}); redirect it to a "
                               "place that takes it and run the command again\n")
