"""The full path through a real mongos: up, apply, queries.  Runs only where a mongos binary exists.

No mongos can be installed on the machine the project is developed on, so
these tests skip there with that reason; every step they take is also covered
without a router by the real-mongod harness (test_apply, test_local).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from commandline import run
from harness import topology_with_free_ports
from pymongo import MongoClient

pytestmark = pytest.mark.mongos

MODELS = "examples.pokemon_storage.models"


@pytest.fixture(scope="module")
def mongos_path() -> str:
    found = os.environ.get("MONGOSHARD_MONGOS") or shutil.which("mongos")
    if not found:
        pytest.skip("no mongos binary: set MONGOSHARD_MONGOS to one, or put mongos on PATH")
    return found


@pytest.fixture(scope="module")
def project(mongos_path: str, mongod_path: Path, tmp_path_factory: pytest.TempPathFactory):
    """A running local cluster with a router, in a project directory; stopped and checked afterwards."""
    directory = tmp_path_factory.mktemp("routed")
    topology = topology_with_free_ports()
    (directory / "mongoshard.yaml").write_text(f"base_port: {topology.base_port}\n")
    environment = {"MONGOSHARD_MONGOS": mongos_path, "MONGOSHARD_MONGOD": str(mongod_path)}
    started = run("up", cwd=directory, env=environment)
    try:
        assert started.returncode == 0, started.stderr
        yield directory, topology, environment
    finally:
        stopped = run("down", cwd=directory, env=environment)
        assert stopped.returncode == 0, stopped.stderr


def _router(directory: Path, topology) -> MongoClient:
    password = (directory / ".mongoshard" / "admin-password").read_text().strip()
    return MongoClient(f"mongodb://127.0.0.1:{topology.router_ports[0]}/", username="admin", password=password)


def test_status_is_healthy_with_every_shard_and_the_router(project) -> None:
    directory, topology, environment = project
    result = run("status", "--json", cwd=directory, env=environment)
    assert result.returncode == 0, result.stdout
    report = json.loads(result.stdout)
    assert [s["name"] for s in report["shards"]] == ["shard0", "shard1"]
    assert len(report["routers"]) == 1 and report["problems"] == []


def test_apply_through_the_router_twice(project) -> None:
    directory, topology, environment = project
    first = run("apply", MODELS, "--json", cwd=directory, env=environment)
    assert first.returncode == 0, first.stderr
    assert [c["outcome"] for c in json.loads(first.stdout)["collections"]] == ["sharded"] * 3
    second = run("apply", MODELS, cwd=directory, env=environment)
    assert second.returncode == 0 and second.stdout.count("already sharded with the declared key") == 3
    with _router(directory, topology) as client:
        keys = {doc["_id"]: doc["key"] for doc in client.config.collections.find({"_id": {"$regex": "^game\\."}})}
    assert keys == {"game.creatures": {"user_id": "hashed"}, "game.boxes": {"owner.pid": 1, "box": 1},
                    "game.trades": {"region": 1, "trade_id": 1}}


def test_queries_with_the_key_are_targeted_and_others_broadcast(project) -> None:
    directory, topology, environment = project
    assert run("apply", MODELS, cwd=directory, env=environment).returncode == 0
    with _router(directory, topology) as client:
        creatures = client.game.creatures
        creatures.insert_many([{"user_id": i, "species": f"s{i % 5}"} for i in range(200)])
        targeted = creatures.find({"user_id": 7}).explain()["queryPlanner"]["winningPlan"]
        broadcast = creatures.find({"species": "s1"}).explain()["queryPlanner"]["winningPlan"]
    assert targeted["stage"] == "SINGLE_SHARD" and len(targeted["shards"]) == 1
    assert broadcast["stage"] == "SHARD_MERGE" and len(broadcast["shards"]) == 2


def test_live_explain_agrees_with_the_prediction(project) -> None:
    from mongoshard import ConfigDatabaseSource, explain_query

    directory, topology, environment = project
    assert run("apply", MODELS, cwd=directory, env=environment).returncode == 0
    with _router(directory, topology) as client:
        client.game.creatures.insert_many([{"user_id": i, "species": "s"} for i in range(50)])
        report = explain_query("game.creatures", {"user_id": 7}, ConfigDatabaseSource(client), client=client)
    assert report.live.merge_stage == "SINGLE_SHARD" and report.disagreement is None
    assert report.live.shard_names == report.predicted.shards
