"""`mongoshard up/status/down` with real mongod processes: health, restarts, failures, and no orphans."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
from pathlib import Path

import pytest
from commandline import run
from orphans import processes_mentioning
from pymongo import MongoClient
from pymongo.errors import OperationFailure

from mongoshard.deploy.processes import is_alive

pytestmark = pytest.mark.mongod


def _status(cwd: Path) -> dict:
    result = run("status", "--json", cwd=cwd)
    return {"rc": result.returncode, **json.loads(result.stdout)}


def _states(cwd: Path) -> dict[str, tuple[int | None, str]]:
    return {p["name"]: (p["pid"], p["state"]) for p in _status(cwd)["processes"]}


def test_up_secures_reports_restarts_and_stops(workdir: Path) -> None:
    first = run("up", cwd=workdir)
    assert first.returncode == 1, first.stderr  # no mongos on this machine: everything else runs
    assert first.stderr.count("\n") == 1 and "mongos" in first.stderr and "mongoshard down" in first.stderr
    states = _states(workdir)
    assert {name: state for name, (_, state) in states.items()} == {
        "cfgrs-0": "PRIMARY", "shard0-0": "PRIMARY", "shard1-0": "PRIMARY", "mongos-0": "not started"}

    state_dir = workdir / ".mongoshard"
    assert stat.S_IMODE((state_dir / "keyfile").stat().st_mode) == 0o400
    assert stat.S_IMODE((state_dir / "admin-password").stat().st_mode) == 0o600
    password = (state_dir / "admin-password").read_text().strip()
    assert password not in first.stdout + first.stderr
    port = json.loads(run("status", "--json", cwd=workdir).stdout)["processes"][0]["port"]
    with MongoClient(f"mongodb://127.0.0.1:{port}/?directConnection=true", serverSelectionTimeoutMS=5000) as anonymous:
        with pytest.raises(OperationFailure, match="requires authentication"):
            anonymous.admin.command("replSetGetStatus")
    with MongoClient(f"mongodb://127.0.0.1:{port}/?directConnection=true", username="admin", password=password) as admin:
        assert admin.admin.command("replSetGetStatus")["set"] == "cfgrs"

    again = run("up", cwd=workdir)
    assert "Already running: nothing started." in again.stdout
    assert _states(workdir) == states

    victim, (victim_pid, _) = "shard1-0", states["shard1-0"]
    os.kill(victim_pid, signal.SIGKILL)
    crashed = _status(workdir)
    assert crashed["rc"] == 1
    assert {p["name"]: p["state"] for p in crashed["processes"]}[victim] == "down"
    assert any(victim in problem for problem in crashed["problems"])

    restarted = run("up", cwd=workdir)
    assert f"Started {victim}" in restarted.stdout, restarted.stdout
    after = _states(workdir)
    assert after[victim][1] == "PRIMARY" and after[victim][0] != victim_pid
    assert {n: s for n, s in after.items() if n != victim} == {n: s for n, s in states.items() if n != victim}

    pids = [pid for pid, _ in after.values() if pid]
    stopped = run("down", cwd=workdir)
    assert stopped.returncode == 0 and "Stopped" in stopped.stdout
    assert not any(is_alive(pid) for pid in pids)
    assert (state_dir / "data").is_dir() and (state_dir / "keyfile").exists(), "down keeps data unless --purge"
    assert "Nothing was running." in run("down", cwd=workdir).stdout
    assert run("down", "--purge", cwd=workdir).returncode == 0 and not state_dir.exists()


def test_port_in_use_starts_nothing(workdir: Path) -> None:
    base = int((workdir / "mongoshard.yaml").read_text().split(":")[1])
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", base + 3))  # shard1-0's port
        squatter.listen()
        result = run("up", "--no-auth", cwd=workdir)
    assert result.returncode == 2
    assert result.stderr == f"mongoshard: port(s) {base + 3} (shard1-0) already in use by another program; " \
                            "stop it or set a different base_port in mongoshard.yaml\n"
    assert processes_mentioning(str(workdir)) == []


def _fake_bin(tmp_path: Path, mongod_path: Path, shard1_behaviour: str) -> Path:
    """A bin dir whose mongod is the real one, except for shard1's member, which does ``shard1_behaviour``."""
    directory = tmp_path / "fakebin"
    directory.mkdir()
    script = directory / "mongod"
    script.write_text(f"""#!/bin/sh
case "$*" in
  *"--replSet shard1 "*) {shard1_behaviour} ;;
esac
exec {mongod_path} "$@"
""")
    script.chmod(0o755)
    return directory


@pytest.mark.parametrize("behaviour, message", [
    ("echo 'fake: cannot open the data directory' >&2; exit 1", "shard1-0 (port {port}, log {log}): fake: cannot open the data directory exited during start-up"),
    ('exec python3 -c "import time; time.sleep(600)" "$@"', "shard1-0 (port {port}, log {log}) did not answer on port {port} in time"),
])
def test_a_member_that_fails_is_reported_and_nothing_is_left_running(workdir: Path, mongod_path: Path,
                                                                    behaviour: str, message: str) -> None:
    fake = _fake_bin(workdir, mongod_path, behaviour)
    base = int((workdir / "mongoshard.yaml").read_text().split(":")[1])
    result = run("up", "--no-auth", "--bin-dir", str(fake), "--timeout", "8", cwd=workdir)
    assert result.returncode == 2
    log = (workdir / ".mongoshard" / "logs" / "shard1-0.log").resolve()
    assert result.stderr == "mongoshard: " + message.format(port=base + 3, log=log) + "\n"
    assert processes_mentioning(str(workdir)) == [], "up must stop what it started when it fails"
    assert json.loads(run("status", "--json", cwd=workdir).stdout)["processes"][0]["pid"] is None


def test_a_config_shard_needs_an_8_0_mongod_and_nothing_starts(workdir: Path, mongod_path: Path) -> None:
    version = subprocess.run([str(mongod_path), "--version"], capture_output=True, text=True).stdout.split()[2]  # the binary's own word
    (workdir / "mongoshard.yaml").write_text((workdir / "mongoshard.yaml").read_text() + "config_shard: true\nshards: 0\n")
    result = run("up", "--no-auth", cwd=workdir)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert f"config_shard needs mongod 8.0 or later, and {mongod_path} is {version.lstrip('v').rsplit('.', 1)[0]}" in result.stderr
    assert processes_mentioning(str(workdir)) == [] and not (workdir / ".mongoshard" / "state.json").exists()


@pytest.mark.parametrize("arguments, expected", [
    (("up", "--bin-dir", "/no/such/dir"), "mongoshard: No executable mongod in /no/such/dir (given with --bin-dir)"),
    (("up", "-f", "broken.yaml"), "mongoshard: broken.yaml is not valid YAML at line 2"),
    (("status", "-f", "unknown.yaml"), "mongoshard: unknown.yaml: unknown setting(s) shard; known settings are"),
])
def test_bad_input_is_one_sentence(tmp_path: Path, arguments: tuple[str, ...], expected: str) -> None:
    (tmp_path / "broken.yaml").write_text("shards: 2\n  routers: [\n")
    (tmp_path / "unknown.yaml").write_text("shard: 3\n")
    result = run(*arguments, cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(expected) and result.stderr.count("\n") == 1
    assert not (tmp_path / ".mongoshard" / "state.json").exists()


def test_status_shows_the_shards_the_config_server_knows(cluster) -> None:
    from mongoshard.deploy import health

    report = health.status(cluster.topology, state_dir=cluster.root)
    assert [(s.name, s.host) for s in report.shards] == [
        (rs.name, f"{rs.name}/127.0.0.1:{rs.ports[0]}") for rs in cluster.topology.shards]
    assert [p.state for p in report.processes if p.role != "mongos"] == ["PRIMARY"] * 3
    assert report.problems == ("mongos-0 is not started",) and not report.healthy
