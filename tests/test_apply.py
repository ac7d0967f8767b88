"""apply() against real servers: the harness does a router's part, the servers decide everything else."""

from __future__ import annotations

import hashlib

import bson
import pytest
from bson import Int64
from harness import HarnessRouter

from mongoshard import ApplyError, PredictedSource, ShardSpec, apply, discover

pytestmark = pytest.mark.mongod

EXAMPLE = "examples.pokemon_storage.models"


def _collection_entry(cluster, namespace):
    return cluster.config_client.config.collections.find_one({"_id": namespace})


def test_apply_shards_every_example_collection_as_predicted(cluster) -> None:
    specs = discover(EXAMPLE, database="apply_fresh")
    result = apply(specs, router=HarnessRouter(cluster))
    assert [c.outcome for c in result.collections] == ["sharded"] * len(specs)
    prediction = PredictedSource(specs, cluster.shard_names, server_version=(6, 0))
    for spec in specs:
        entry = _collection_entry(cluster, spec.namespace)
        assert list(entry["key"].items()) == list(spec.key_pattern.items())
        server = cluster.routing_table(spec.namespace)
        assert server.chunks == prediction.routing_table(spec.namespace).chunks, spec.namespace
    zones = {(doc["tag"], doc["ns"]) for doc in cluster.config_client.config.tags.find({"ns": {"$regex": "^apply_fresh"}})}
    assert zones == {("asia", "apply_fresh.trades"), ("europe", "apply_fresh.trades")}


def test_second_apply_changes_nothing_and_says_so(cluster) -> None:
    specs = discover(EXAMPLE, database="apply_twice")
    apply(specs, router=HarnessRouter(cluster))
    chunks_before = list(cluster.config_client.config.chunks.find({}, {"_id": 1, "lastmod": 1}).sort("_id"))
    router = HarnessRouter(cluster)
    again = apply(specs, router=router)
    assert [c.outcome for c in again.collections] == ["already sharded with the declared key"] * len(specs)
    assert not any(c.changed for c in again.collections)
    assert {next(iter(command)) for _, command in router.sent} == {"find", "buildInfo"}, "a second run only reads"
    assert list(cluster.config_client.config.chunks.find({}, {"_id": 1, "lastmod": 1}).sort("_id")) == chunks_before


def test_dry_run_lists_commands_and_changes_nothing(cluster) -> None:
    specs = discover(EXAMPLE, database="apply_dry")
    result = apply(specs, router=HarnessRouter(cluster), dry_run=True)
    assert {c.outcome for c in result.collections} == {"planned"}
    commands = [next(iter(step.command)) for c in result.collections for step in c.steps]
    assert {"enableSharding", "createIndexes", "shardCollection", "split", "addShardToZone", "updateZoneKeyRange"} <= set(commands)
    assert cluster.config_client.config.databases.find_one({"_id": "apply_dry"}) is None
    assert cluster.config_client.config.collections.count_documents({"_id": {"$regex": "^apply_dry"}}) == 0


@pytest.mark.parametrize("declared, remedy", [
    ((("a", 1), ("b", 1)), "refineCollectionShardKey"),
    ((("b", "hashed"),), "reshardCollection"),
    ((("a", "hashed"),), "reshardCollection"),
])
def test_drift_names_both_keys_and_the_remedy_and_touches_nothing(cluster, declared, remedy) -> None:
    namespace = "apply_drift.things"
    if _collection_entry(cluster, namespace) is None:
        cluster.shard_collection(namespace, {"a": 1})
    before = _collection_entry(cluster, namespace)
    result = apply([ShardSpec("apply_drift", "things", declared)], router=HarnessRouter(cluster))
    (outcome,) = result.drifted
    assert "{a: 1}" in outcome.message and remedy in outcome.message
    assert outcome.steps == ()
    assert _collection_entry(cluster, namespace) == before


def _checksum(documents) -> tuple[int, str]:
    ordered = sorted(documents, key=lambda d: d["_id"])
    return len(ordered), hashlib.sha256(b"".join(bson.encode(d) for d in ordered)).hexdigest()


def _all_documents(cluster, database, collection):
    return [doc for client in cluster.shard_clients.values() for doc in client[database][collection].find()]


def test_populated_collection_is_sharded_in_place_without_losing_or_changing_a_document(cluster) -> None:
    primary = cluster.primary_shard("apply_full")
    primary.apply_full.players.insert_many(
        [{"_id": i, "user_id": i % 97, "name": f"player {i}", "score": i * 1.5, "tags": ["x"] * (i % 3)} for i in range(500)])
    before = _checksum(_all_documents(cluster, "apply_full", "players"))
    result = apply([ShardSpec("apply_full", "players", (("user_id", "hashed"),), initial_chunks=8)], router=HarnessRouter(cluster))
    (outcome,) = result.collections
    assert outcome.outcome == "sharded" and "500 documents kept" in outcome.message
    shard_command = next(s.command for s in outcome.steps if s.action == "shard collection")
    assert "numInitialChunks" not in shard_command, "pre-splitting applies to empty collections only"
    table = cluster.routing_table("apply_full.players")
    other = next(name for name in cluster.shard_names if name not in table.shards)
    (chunk,) = table.chunks
    # The server splits at hash 0 and moves the lower half's documents to the other shard.
    cluster.move_range("apply_full.players", chunk.min, {"user_id": Int64(0)}, other)
    assert len(cluster.routing_table("apply_full.players").shards) == 2
    assert 0 < cluster.shard_clients[other].apply_full.players.count_documents({}) < 500
    assert _checksum(_all_documents(cluster, "apply_full", "players")) == before


def test_a_refused_step_is_one_sentence_and_leaves_the_data_alone(cluster) -> None:
    primary = cluster.primary_shard("apply_dupes")
    primary.apply_dupes.accounts.insert_many([{"email": "same@example.com"}, {"email": "same@example.com"}])
    before = _checksum(_all_documents(cluster, "apply_dupes", "accounts"))
    with pytest.raises(ApplyError, match=r"apply_dupes.accounts: the cluster refused to create the shard key index .*duplicate key"):
        apply([ShardSpec("apply_dupes", "accounts", (("email", 1),), unique=True)], router=HarnessRouter(cluster))
    assert _collection_entry(cluster, "apply_dupes.accounts") is None
    assert _checksum(_all_documents(cluster, "apply_dupes", "accounts")) == before
