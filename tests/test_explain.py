"""Explain: documented shapes of 6.0/7.0/8.0, the real 6.0 mongod's own plans, predictions beside them."""

from __future__ import annotations

import json

import explain_shapes as shapes
import pytest
from commandline import run
from mongoengine import Document, IntField, StringField, connect, disconnect

from mongoshard import ConfigDatabaseSource, explain, explain_query, parse_explain
from mongoshard.reports.explain import ExplainError


def test_6_0_classic_single_shard() -> None:
    parsed = parse_explain(shapes.V6_SINGLE_SHARD)
    assert parsed.merge_stage == "SINGLE_SHARD" and parsed.shard_names == ("shard1",)
    (plan,) = parsed.shards
    assert plan.plan == 'index scan {user_id: "hashed"}' and plan.engine == "classic"
    assert plan.stages == ("FETCH", "SHARDING_FILTER", "IXSCAN")
    assert (plan.keys_examined, plan.docs_examined, plan.returned) == (4, 4, 4)
    assert parsed.plan_cache_hash == "6F1E7A22" and parsed.query_shape_hash is None


def test_7_0_slot_based_broadcast() -> None:
    parsed = parse_explain(shapes.V7_SBE_BROADCAST)
    assert parsed.merge_stage == "SHARD_MERGE" and parsed.shard_names == ("shard0", "shard1", "shard2")
    assert {p.plan for p in parsed.shards} == {"collection scan"} and {p.engine for p in parsed.shards} == {"sbe"}
    assert [p.returned for p in parsed.shards] == [2, 3, 4] and sum(p.docs_examined for p in parsed.shards) == 3000


def test_8_0_shape_hashes_merge_sort_and_express() -> None:
    parsed = parse_explain(shapes.V8_MERGE_SORT)
    assert parsed.merge_stage == "SHARD_MERGE_SORT" and parsed.shard_names == ("shard0", "shard1")
    assert parsed.query_shape_hash == shapes.V8_MERGE_SORT["queryShapeHash"] and parsed.plan_cache_hash == "7C1D2E3F"
    assert {p.plan for p in parsed.shards} == {"index scan {owner.pid: 1, box: 1}"}
    express = parse_explain(shapes.V8_EXPRESS)
    assert express.shards[0].plan == "index scan { user_id: 1 }" and express.shards[0].returned is None


def test_aggregation_explain_with_shards_by_name() -> None:
    parsed = parse_explain(shapes.AGGREGATE_SPLIT)
    assert parsed.merge_stage == "SHARD_MERGE" and parsed.shard_names == ("shard0", "shard1")
    assert {p.plan for p in parsed.shards} == {"collection scan"} and sum(p.returned for p in parsed.shards) == 10


def test_not_an_explain_document() -> None:
    with pytest.raises(ExplainError, match="no queryPlanner.winningPlan"):
        parse_explain({"ok": 1})


@pytest.fixture(scope="module")
def creatures(cluster) -> str:
    """game_x.creatures hashed on user_id, 4 chunks over both shards, documents on their owning shards."""
    namespace = "game_x.creatures"
    cluster.shard_collection(namespace, {"user_id": "hashed"})
    table = cluster.routing_table(namespace)
    for user in range(200):
        for species in ("bulbasaur", "pikachu"):
            document = {"user_id": user, "species": species}
            cluster.shard_clients[table.shard_for(document)].game_x.creatures.insert_one(document)
    return namespace


@pytest.mark.mongod
def test_plans_read_from_the_real_shards_agree_with_the_prediction(cluster, creatures) -> None:
    source = ConfigDatabaseSource(cluster.config_client)
    targeted = explain_query(creatures, {"user_id": 7}, source, client=cluster.config_client)
    assert targeted.live is None and targeted.predicted.kind == "single-shard"
    (plan,) = targeted.from_shards.shards
    assert targeted.from_shards.merge_stage == "SINGLE_SHARD" and plan.shard == targeted.predicted.shards[0]
    assert plan.plan == 'index scan {user_id: "hashed"}' and plan.returned == 2 and plan.docs_examined == 2

    broadcast = explain_query(creatures, {"species": "pikachu"}, source, client=cluster.config_client, sort=[("user_id", 1)])
    assert broadcast.predicted.kind == "scatter-gather" and broadcast.from_shards.merge_stage == "SHARD_MERGE_SORT"
    assert {p.plan for p in broadcast.from_shards.shards} == {"collection scan"}
    assert sum(p.returned for p in broadcast.from_shards.shards) == 200
    assert broadcast.disagreement is None


@pytest.mark.mongod
def test_explain_a_mongoengine_queryset(cluster, creatures) -> None:
    class Creature(Document):
        user_id = IntField()
        species = StringField()
        meta = {"collection": "creatures", "shard_key": ("user_id",), "auto_create_index": False}

    primary = cluster.config_client.config.databases.find_one({"_id": "game_x"})["primary"]
    port = next(rs.ports[0] for rs in cluster.topology.shards if rs.name == primary)
    connect(db="game_x", host=f"mongodb://127.0.0.1:{port}/?directConnection=true", alias="default", uuidRepresentation="standard")
    try:
        report = explain(Creature.objects(user_id=11, species="pikachu"), source=ConfigDatabaseSource(cluster.config_client))
    finally:
        disconnect(alias="default")
    assert report.filter == {"user_id": 11, "species": "pikachu"}
    assert report.predicted.kind == "single-shard" and report.from_shards.shards[0].returned == 1


@pytest.mark.mongod
def test_cli_explain_json_and_table(cluster, creatures, tmp_path) -> None:
    models = tmp_path / "xmodels.py"
    models.write_text("from mongoengine import Document, IntField, StringField\n"
                      "from mongoshard import sharded\n"
                      "@sharded(key='user_id', hashed=True, database='game_x')\n"
                      "class Creature(Document):\n"
                      "    user_id = IntField()\n    species = StringField()\n    meta = {'collection': 'creatures'}\n")
    result = run("explain", "xmodels:Creature", '{"species": "pikachu"}', "--uri", cluster.config_uri, "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["predicted"]["kind"] == "scatter-gather" and report["from_shards"]["merge_stage"] == "SHARD_MERGE"
    table = run("explain", "xmodels:Creature", '{"user_id": 3}', "--uri", cluster.config_uri, cwd=tmp_path)
    assert "SINGLE_SHARD" in table.stdout and "index scan" in table.stdout and "single-shard" in table.stdout
