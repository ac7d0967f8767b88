"""The compose init script, run for real: real mongosh (npm) against real mongods in the compose layout.

The mongods are started with the arguments the rendered compose file gives
each service (its replica set, port, --bind_ip_all, the keyfile), under the
compose host names (cfgrs-0, shard0-0, ... mapped to 127.0.0.1, as .ci/run
does), with auth on and the secrets at their generated modes (0400, 0600).
The script is the packaged ``deploy/compose/init-cluster.js`` with the plan
compose renders; only the secrets' paths (/run/secrets in a container) and the
retry time differ.  Without a mongos, the router step is the one it cannot
finish: the test checks it gets there with the exact addShard commands.
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from commandline import ROOT
from harness import topology_with_free_ports
from pymongo import MongoClient

from mongoshard.deploy.compose import compose_document, filled_script, init_plan
from mongoshard.deploy.credentials import ensure_credentials
from mongoshard.deploy.processes import Deadline, spawn, stop, wait_answering

pytestmark = pytest.mark.mongod


def find_mongosh() -> str:
    found = os.environ.get("MONGOSHARD_MONGOSH") or shutil.which("mongosh")
    local = ROOT / ".tools" / "node_modules" / ".bin" / "mongosh"
    if found:
        return found
    if local.exists():
        return str(local)
    message = "no mongosh: run 'npm install --prefix .tools mongosh@2' (make test does when npm exists)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _resolves_locally(names: list[str]) -> bool:
    try:
        return all(socket.gethostbyname(name) == "127.0.0.1" for name in names)
    except OSError:
        return False


@pytest.fixture
def compose_layout(mongod_path: Path, tmp_path: Path):
    """The compose servers of a 1 + 2 topology as real processes; yields (topology, secrets, mongosh)."""
    mongosh = find_mongosh()
    topology = topology_with_free_ports(auth=True)
    names = [p.name for p in topology.processes()]
    if not _resolves_locally(names):
        message = f"the compose host names {names} must resolve to 127.0.0.1 (.ci/run adds them to /etc/hosts)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    credentials = ensure_credentials(tmp_path / "secrets")
    services = compose_document(topology)["services"]
    started = []
    try:
        for process in topology.processes():
            if process.role == "mongos":
                continue
            wrapped = services[process.name]["command"][-1]  # "install ... && exec docker-entrypoint.sh mongod ..."
            arguments = shlex.split(wrapped.split("docker-entrypoint.sh", 1)[1])
            data = tmp_path / process.name
            data.mkdir()
            arguments = [str(credentials.keyfile) if a == "/etc/mongo-keyfile" else str(data) if a == "/data/db" else a
                         for a in arguments]
            log = tmp_path / f"{process.name}.log"
            command = [str(mongod_path), *arguments[1:], "--logpath", str(log), "--wiredTigerCacheSizeGB", "0.25",
                       "--setParameter", "diagnosticDataCollectionEnabled=false"]
            pid = spawn(command, log.with_suffix(".out"))
            started.append((pid, str(log)))
            wait_answering(process.port, pid, Deadline(60), lambda name=process.name: name)
        yield topology, credentials, mongosh
    finally:
        for pid, marker in started:
            stop(pid, marker)


def _run_script(topology, credentials, mongosh: str) -> subprocess.CompletedProcess:
    plan = init_plan(topology, secrets={"keyfile": str(credentials.keyfile), "password": str(credentials.password_file)})
    plan["retrySeconds"] = 6  # no router exists here: the last step gives up quickly
    return subprocess.run([mongosh, "--nodb", "--quiet", "--eval", filled_script(plan)], capture_output=True, text=True,
                          timeout=180, env={**os.environ, "HOME": str(credentials.keyfile.parent)})


def _admin(port: int, credentials) -> MongoClient:
    return MongoClient(f"mongodb://127.0.0.1:{port}/?directConnection=true", username="admin",
                       password=credentials.password, serverSelectionTimeoutMS=5000)


def test_the_init_script_sets_up_every_replica_set_once_and_stops_at_the_router(compose_layout) -> None:
    topology, credentials, mongosh = compose_layout
    first = _run_script(topology, credentials, mongosh)
    output = first.stdout + first.stderr
    for replica_set in topology.replica_sets:
        assert f"initiated {replica_set.name}" in output, output
        assert f"created the admin user on {replica_set.name}" in output, output
    expected = [f'to send through the router: {{"addShard":"{rs.name}/{rs.name}-0:{rs.ports[0]}","name":"{rs.name}"}}'
                for rs in topology.shards]
    assert [line for line in first.stdout.splitlines() if line.startswith("to send")] == expected
    router = f"mongos-0:{topology.router_ports[0]}"
    assert f"waiting for the router {router}" in output
    assert first.returncode != 0 and f"reach the router {router} did not succeed" in output, output

    for replica_set in topology.replica_sets:
        with _admin(replica_set.ports[0], credentials) as client:
            status = client.admin.command("replSetGetStatus")
            assert status["set"] == replica_set.name and status["members"][0]["name"] == f"{replica_set.name}-0:{replica_set.ports[0]}"
            assert client.admin.command("hello")["isWritablePrimary"]
            assert [user["user"] for user in client.admin.command("usersInfo")["users"]] == ["admin"]
            assert client.admin.command("hello").get("setName") == replica_set.name
    with _admin(topology.config_server.ports[0], credentials) as client:
        assert client.admin.command("replSetGetConfig")["config"].get("configsvr") is True

    second = _run_script(topology, credentials, mongosh)
    again = second.stdout + second.stderr
    for replica_set in topology.replica_sets:
        assert f"{replica_set.name} is already initiated" in again and f"the admin user exists on {replica_set.name}" in again
    assert "created the admin user" not in again and "initiated cfgrs\n" not in again
    for replica_set in topology.replica_sets:
        with _admin(replica_set.ports[0], credentials) as client:
            assert len(client.admin.command("usersInfo")["users"]) == 1


def test_the_init_script_refuses_wrong_credentials_by_name(compose_layout, tmp_path: Path) -> None:
    topology, credentials, mongosh = compose_layout
    wrong = tmp_path / "other-keyfile"
    wrong.write_text("A" * 64)
    plan = init_plan(topology, secrets={"keyfile": str(wrong), "password": str(credentials.password_file)})
    plan["retrySeconds"] = 3
    result = subprocess.run([mongosh, "--nodb", "--quiet", "--eval", filled_script(plan)], capture_output=True, text=True,
                            timeout=120, env={**os.environ, "HOME": str(tmp_path)})
    first = topology.replica_sets[0]
    assert result.returncode != 0
    assert f"reach {first.name}-0:{first.ports[0]} did not succeed" in result.stdout + result.stderr
    assert "Authentication failed" in result.stdout + result.stderr
