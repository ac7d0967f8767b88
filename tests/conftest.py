"""Shared fixtures: the real mongod (required in CI) and a router-less sharded cluster."""

from __future__ import annotations

import os
from pathlib import Path
from collections.abc import Iterator

import pytest
from commandline import run
from harness import ReplicaSet, RouterlessCluster, topology_with_free_ports
from orphans import processes_mentioning

from mongoshard.deploy.binaries import BinaryNotFound, find_binary


@pytest.fixture(scope="session")
def mongod_path() -> Path:
    try:
        return find_binary("mongod")
    except BinaryNotFound as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the real-mongod tests: {exc}")
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def cluster(mongod_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RouterlessCluster]:
    """A config server and two shards, real processes, stopped by pid at the end of the session."""
    running = RouterlessCluster(mongod_path, tmp_path_factory.mktemp("cluster"))
    running.start()
    yield running
    running.stop()
    alive = [pid for pid in running.pids if _alive(pid)]
    assert not alive, f"mongod processes left running: {alive}"


@pytest.fixture(scope="session")
def replica_set(mongod_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReplicaSet]:
    """A real one-member replica set: what transactions (lookups) need."""
    running = ReplicaSet(mongod_path, tmp_path_factory.mktemp("replica_set"))
    running.start()
    yield running
    running.stop()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped) is not running.
    status = Path(f"/proc/{pid}/stat")
    return status.exists() and status.read_text().split()[2] != "Z"


@pytest.fixture
def workdir(tmp_path: Path, mongod_path: Path) -> Iterator[Path]:
    """A project directory with a mongoshard.yaml on free ports; whatever runs there is stopped and checked afterwards."""
    topology = topology_with_free_ports()
    (tmp_path / "mongoshard.yaml").write_text(f"base_port: {topology.base_port}\n")
    yield tmp_path
    run("down", cwd=tmp_path)
    assert processes_mentioning(str(tmp_path)) == []
