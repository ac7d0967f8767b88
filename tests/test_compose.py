"""compose.yaml rendering: the repository's copy, validity for docker compose, and what every service must have."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml
from commandline import ROOT, run

from mongoshard.deploy.compose import ComposeError, filled_script, render_compose
from mongoshard.deploy.topology import Topology, load_topology

TOPOLOGIES = {
    "default": Topology(),
    "replicated": Topology(config_members=3, shard_count=3, shard_members=3, router_count=2, base_port=40000, version="9.0"),
    "no-auth": Topology(auth=False),
    "past end of life": Topology(version="7.0"),
    "config shard": Topology(config_members=3, shard_count=0, config_shard=True),
}


def _unescaped(text: str) -> str:
    """What compose makes of the file: $$ is a literal dollar."""
    return text.replace("$$", "$")


def startup(services: dict) -> tuple[list[str], set[str]]:
    """A static model of ``docker compose up``: the order services start in, and what never starts.

    A service starts once every ``depends_on`` condition holds.  A mongod is
    healthy once started.  A mongos is healthy only once its config server
    replica set is initiated (it does not listen before: mongos_main.cpp), and
    only the init job initiates it, as soon as it starts.  The init job
    completes once the router it adds shards through is healthy.
    """
    started: list[str] = []
    healthy: set[str] = set()
    completed: set[str] = set()
    initiated = False
    routers = {name for name, service in services.items() if "mongos" in " ".join(service.get("command", []))}
    changed = True
    while changed:
        changed = False
        for name, service in services.items():
            if name in started:
                continue
            holds = {"service_started": set(started), "service_healthy": healthy, "service_completed_successfully": completed}
            if all(dep in holds[rule["condition"]] for dep, rule in service.get("depends_on", {}).items()):
                started.append(name)
                changed = True
                if name == "init":
                    initiated = True
                elif name not in routers:
                    healthy.add(name)
        for name in routers & set(started):
            if initiated and name not in healthy:
                healthy.add(name)
                changed = True
        if "init" in started and "init" not in completed and routers <= healthy:
            completed.add("init")
            changed = True
    return started, set(services) - set(started) | ({"init"} - completed)


def test_repository_compose_file_is_the_default_rendering() -> None:
    assert (ROOT / "compose.yaml").read_text() == render_compose(Topology()), "run 'mongoshard compose' and commit compose.yaml"


@pytest.mark.parametrize("name", TOPOLOGIES)
def test_docker_compose_accepts_it(name: str, tmp_path: Path) -> None:
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.skip("docker-compose (Debian package docker-compose) is not installed")
    (tmp_path / "compose.yaml").write_text(render_compose(TOPOLOGIES[name]))
    result = subprocess.run([tool, "-f", "compose.yaml", "config", "-q"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", TOPOLOGIES)
def test_every_service_follows_the_rules(name: str) -> None:
    topology = TOPOLOGIES[name]
    text = render_compose(topology)
    assert "$" not in text.replace("$$", ""), "every dollar is escaped, or compose would interpolate it"
    document = yaml.safe_load(_unescaped(text))
    services = document["services"]
    servers = {p.name: p for p in topology.processes()}
    assert set(services) == {*servers, "init"}
    for service_name, process in servers.items():
        service = services[service_name]
        assert service["image"] == f"mongo:{topology.version}"
        assert service["ports"] == [f"127.0.0.1:{process.port}:{process.port}"]
        assert str(process.port) in service["healthcheck"]["test"]
        command = " ".join(service["command"])
        assert f"--port {process.port}" in command
        assert ("--keyFile" in command) == topology.auth
        if process.role != "mongos":
            volume = service["volumes"][0].split(":")[0]
            assert volume in document["volumes"] and f"--replSet {process.replica_set}" in command
    init = services["init"]
    assert init["restart"] == "no" and init["command"][0] == "bash", "as root: the secrets are host-owned 0400/0600"
    assert init["depends_on"] == {name: {"condition": "service_healthy"} for name, p in servers.items() if p.role != "mongos"}
    assert ("secrets" in document) == topology.auth
    script = init["environment"]["MONGOSHARD_INIT_SCRIPT"]
    plan = json.loads(script.split("const plan = ", 1)[1].split(";\n", 1)[0])
    assert script == filled_script(plan) and plan["configShard"] == topology.config_shard
    assert [rs["name"] for rs in plan["replicaSets"]] == [rs.name for rs in topology.replica_sets]
    assert plan["shards"] == [{"name": rs.name, "connection": f"{rs.name}/" + ",".join(f"{rs.name}-{i}:{port}" for i, port in enumerate(rs.ports))}
                              for rs in topology.shards]


def test_init_writes_a_commented_topology_and_secrets_and_refuses_to_overwrite(tmp_path: Path) -> None:
    result = run("init", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "mongoshard.yaml").read_text()
    assert text.count("\n# ") >= 9 and load_topology(tmp_path / "mongoshard.yaml") == Topology()
    assert stat.S_IMODE((tmp_path / ".mongoshard" / "keyfile").stat().st_mode) == 0o400
    assert stat.S_IMODE((tmp_path / ".mongoshard" / "admin-password").stat().st_mode) == 0o600
    password = (tmp_path / ".mongoshard" / "admin-password").read_text().strip()
    assert password not in result.stdout

    (tmp_path / "mongoshard.yaml").write_text("shards: 3\n")
    refused = run("init", cwd=tmp_path)
    assert refused.returncode == 2 and "already exists" in refused.stderr
    assert (tmp_path / "mongoshard.yaml").read_text() == "shards: 3\n"
    assert (tmp_path / ".mongoshard" / "admin-password").read_text().strip() == password

    rendered = run("compose", "-o", "-", cwd=tmp_path)
    assert rendered.stdout == render_compose(Topology(shard_count=3))
    assert run("init", "--force", "--no-auth", cwd=tmp_path).returncode == 0
    assert load_topology(tmp_path / "mongoshard.yaml").auth is False


def test_up_with_compose_and_no_docker_engine_is_one_sentence(tmp_path: Path) -> None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "info"], capture_output=True).returncode == 0:
        pytest.skip("a Docker engine runs here: this test is about its absence")
    result = run("up", "--compose", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "docker" in result.stderr.lower() and "Traceback" not in result.stderr
    assert (tmp_path / "compose.yaml").read_text() == render_compose(Topology())


@pytest.mark.parametrize("name", TOPOLOGIES)
def test_compose_up_has_no_deadlock(name: str) -> None:
    services = yaml.safe_load(_unescaped(render_compose(TOPOLOGIES[name])))["services"]
    order, stuck = startup(services)
    assert stuck == set(), f"never start or finish: {stuck}"
    assert all(order.index(dep) < order.index("init") for dep in services["init"]["depends_on"])


def test_the_model_finds_the_deadlock_of_waiting_for_a_healthy_router() -> None:
    services = yaml.safe_load(_unescaped(render_compose(Topology())))["services"]
    services["init"]["depends_on"]["mongos-0"] = {"condition": "service_healthy"}  # what compose.yaml did before
    order, stuck = startup(services)
    assert stuck == {"init"} and "mongos-0" in order  # the router runs, never healthy; init never starts


@pytest.mark.parametrize("version", ["6.0", "5.0", "4.4"])
def test_versions_past_their_end_of_life_are_refused_for_compose(version: str) -> None:
    with pytest.raises(ComposeError, match=f"MongoDB {version} is past its end of life"):
        render_compose(Topology(version=version))


def test_seven_is_rendered_with_a_warning_and_the_default_is_eight() -> None:
    from mongoshard.deploy.topology import parse_topology

    assert Topology().version == "8.0" and "image: mongo:8.0" in render_compose(Topology())
    assert "past its end of life" in parse_topology({"version": "7.0"}).warnings[0]
    assert parse_topology({"version": "9.0"}).warnings == ()
