"""The command line as a user runs it: real processes, real exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from commandline import run

import mongoshard

MODELS = "examples.pokemon_storage.models"


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"mongoshard {mongoshard.__version__}"


def test_keys_json_lists_every_declared_collection() -> None:
    result = run("keys", MODELS, "--json")
    assert result.returncode == 0, result.stderr
    specs = {s["namespace"]: s for s in json.loads(result.stdout)}
    assert set(specs) == {"game.creatures", "game.boxes", "game.trades"}
    assert specs["game.creatures"]["key"] == {"user_id": "hashed"} and specs["game.creatures"]["initial_chunks"] == 8
    assert specs["game.boxes"]["key"] == {"owner.pid": 1, "box": 1}
    assert [z["name"] for z in specs["game.trades"]["zones"]] == ["asia", "europe"]


def test_keys_table() -> None:
    result = run("keys", MODELS)
    assert result.returncode == 0 and "game.creatures" in result.stdout and "hashed" in result.stdout


def test_route_predicts_like_the_library() -> None:
    result = run("route", f"{MODELS}:Creature", '{"user_id": 7}', "--json", "--shards", "3")
    assert result.returncode == 0, result.stderr
    routed = json.loads(result.stdout)
    table = mongoshard.PredictedSource(mongoshard.discover(MODELS), ["shard0", "shard1", "shard2"]).routing_table("game.creatures")
    assert routed["kind"] == "single-shard" and routed["shards"] == [table.shard_for({"user_id": 7})]


def test_route_reads_a_routing_table_file(tmp_path: Path) -> None:
    spec = mongoshard.ShardSpec("game", "creatures", (("user_id", "hashed"),), initial_chunks=1)
    path = mongoshard.write_snapshot(mongoshard.PredictedSource([spec], ["only"]), tmp_path / "one.json")
    routed = json.loads(run("route", f"{MODELS}:Creature", '{"species": "x"}', "-t", str(path), "--json").stdout)
    assert routed["shards"] == ["only"] and routed["kind"] == "single-shard"


@pytest.mark.parametrize(("arguments", "message"), [
    (("keys", "no_such_module_here"), "Cannot import module 'no_such_module_here'"),
    (("route", f"{MODELS}:Owner", "{}"), "Owner is not a mongoengine Document class"),
    (("route", f"{MODELS}:Nope", "{}"), "has no class 'Nope'"),
    (("route", MODELS, "{}"), "must be MODULE:MODEL"),
    (("route", f"{MODELS}:Creature", "{user_id: 7"), "the filter is not valid (Extended) JSON"),
    (("route", f"{MODELS}:Creature", "[1]"), "must be a JSON object"),
    (("route", f"{MODELS}:Creature", "{}", "-t", "/nonexistent/file.json"), "the snapshot file /nonexistent/file.json does not exist"),
])
def test_bad_input_is_one_line_and_exit_code_2(arguments: tuple, message: str) -> None:
    result = run(*arguments)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_snapshot_of_an_unreachable_host_says_so_without_credentials(tmp_path: Path) -> None:
    result = run("snapshot", str(tmp_path / "x.json"), "--uri", "mongodb://admin:s3cret@127.0.0.1:1/?serverSelectionTimeoutMS=500")
    assert result.returncode == 2
    assert "Cannot reach" in result.stderr and "s3cret" not in result.stderr and "admin" not in result.stderr


@pytest.mark.mongod
def test_snapshot_then_route_offline(cluster, tmp_path: Path) -> None:
    cluster.shard_collection("game.creatures", {"user_id": "hashed"}, initial_chunks=8)
    path = tmp_path / "cluster.json"
    result = run("snapshot", str(path), "--uri", cluster.config_uri)
    assert result.returncode == 0, result.stderr
    live = cluster.routing_table("game.creatures")
    routed = json.loads(run("route", f"{MODELS}:Creature", '{"user_id": 42}', "-t", str(path), "--json").stdout)
    assert routed["shards"] == [live.shard_for({"user_id": 42})]


def test_apply_to_an_unreachable_router_is_one_sentence_without_credentials() -> None:
    result = run("apply", MODELS, "--uri", "mongodb://app:s3cret@127.0.0.1:9/?serverSelectionTimeoutMS=300")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("mongoshard: Cannot reach mongodb://***@127.0.0.1:9/") and result.stderr.count("\n") == 1
    assert "s3cret" not in result.stderr
