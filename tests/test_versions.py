"""What changes with the server version: predictions, the commands apply sends, and 8.0's tracked unsharded collections.

Behaviour of versions the machine cannot run (7.2+, 8.0, 9.0) comes from the
server source and release notes cited in the code; here it is tested on
tables and metadata built the way those versions write them.
"""

from __future__ import annotations

import datetime
import json
import uuid
from typing import Any
from collections.abc import Mapping

import pytest
from bson import Binary, MaxKey, MinKey, ObjectId, Timestamp
from cli_runner import invoke
from harness import HarnessRouter

from mongoshard import ConfigDatabaseSource, ShardSpec, apply, balance, overview
from mongoshard.cluster.apply import version_notes
from mongoshard.cluster.source import SourceError

CREATURE = "examples.pokemon_storage.models:Creature"


@pytest.mark.parametrize("version, chunks", [("6.0", 8), ("7.0", 8), ("7.2", 3), ("8.0", 3), ("9.0", 3)])
def test_a_hashed_presplit_counts_until_7_2_then_one_chunk_per_shard(tmp_path, version: str, chunks: int) -> None:
    outcome = invoke(["route", CREATURE, '{"user_id": 7}', "--shards", "3", "--server-version", version, "--json"], cwd=tmp_path)
    routed = json.loads(outcome.stdout)
    assert routed["source"] == f"predicted: a new MongoDB {version} cluster of 3 shards"
    assert f"of {chunks} chunks" in routed["reason"]


def test_notes_say_what_the_version_does_with_a_declaration() -> None:
    spec = ShardSpec("db", "c", (("k", "hashed"),), initial_chunks=8)
    assert version_notes(spec, (6, 0)) == ()
    seven, eight = version_notes(spec, (7, 0)), version_notes(spec, (8, 0))
    assert len(seven) == 1 and "AutoMerger" in seven[0]
    assert any("presplit=8 is ignored from MongoDB 7.2" in note for note in eight) and any("AutoMerger" in n for n in eight)


class RecordingCluster:
    """An empty cluster of a given version, as a router would answer apply's reads; it records what apply sends."""

    def __init__(self, version: str) -> None:
        self.version = version
        self.sent: list[dict[str, Any]] = []

    def command(self, database: str, document: Mapping[str, Any]) -> dict[str, Any]:
        name = next(iter(document))
        self.sent.append(dict(document))
        if name == "buildInfo":
            return {"version": self.version}
        if name == "find":
            return {"cursor": {"firstBatch": [{"_id": "shard0"}, {"_id": "shard1"}] if document["find"] == "shards" else []}}
        if name == "listIndexes":
            return {"cursor": {"firstBatch": []}}
        if name == "count":
            return {"n": 0}
        raise AssertionError(f"a dry run sent {name}")


@pytest.mark.parametrize("version, count_sent", [("6.0.5", True), ("7.0.12", True), ("7.2.0", False), ("8.0.4", False), ("9.0.1", False)])
def test_apply_sends_a_chunk_count_only_to_servers_that_read_it(version: str, count_sent: bool) -> None:
    cluster = RecordingCluster(version)
    result = apply([ShardSpec("db", "c", (("k", "hashed"),), initial_chunks=8)], router=cluster, dry_run=True)
    (step,) = [s for s in result.collections[0].steps if s.action == "shard collection"]
    assert ("numInitialChunks" in step.command) == count_sent
    assert step.command["collation"] == {"locale": "simple"}, "a collection with another default collation needs it"


def test_apply_refuses_a_cluster_without_shards() -> None:
    from mongoshard.cluster.apply import ApplyError

    class NoShards(RecordingCluster):
        def command(self, database: str, document: Mapping[str, Any]) -> dict[str, Any]:
            if next(iter(document)) == "find":
                return {"cursor": {"firstBatch": []}}
            return super().command(database, document)

    with pytest.raises(ApplyError, match="the cluster has no shard yet"):
        apply([ShardSpec("db", "c", (("k", 1),))], router=NoShards("8.0.1"), dry_run=True)


@pytest.fixture
def tracked_unsharded(cluster):
    """A collection as 8.0 records it after moveCollection or unshardCollection: unsplittable, key {_id: 1}, one chunk."""
    config = cluster.config_client.config
    collection_uuid = Binary.from_uuid(uuid.uuid4())
    epoch, now = ObjectId(), Timestamp(int(datetime.datetime.now().timestamp()), 1)
    config.collections.insert_one({"_id": "tracked.orders", "uuid": collection_uuid, "key": {"_id": 1}, "unique": False,
                                   "lastmodEpoch": epoch, "lastmod": datetime.datetime.now(), "timestamp": now,
                                   "unsplittable": True})
    config.chunks.insert_one({"uuid": collection_uuid, "min": {"_id": MinKey()}, "max": {"_id": MaxKey()},
                              "shard": cluster.shard_names[0], "lastmod": Timestamp(1, 0), "history": []})
    yield "tracked.orders"
    config.collections.delete_one({"_id": "tracked.orders"})
    config.chunks.delete_many({"uuid": collection_uuid})


@pytest.mark.mongod
def test_tracked_unsharded_collections_are_not_sharded_anywhere(cluster, tracked_unsharded: str) -> None:
    source = ConfigDatabaseSource(cluster.config_client)
    assert tracked_unsharded not in source.sharded_namespaces()
    with pytest.raises(SourceError, match="is not a sharded collection"):
        source.routing_table(tracked_unsharded)
    assert tracked_unsharded not in {c.namespace for c in overview(source).collections}
    assert tracked_unsharded not in {c.namespace for c in balance(source).collections}
    planned = apply([ShardSpec("tracked", "orders", (("customer", 1),))], router=HarnessRouter(cluster), dry_run=True)
    assert planned.collections[0].outcome == "planned", "not drift: shardCollection takes a tracked unsharded collection"


def test_a_binary_printing_bytes_that_are_not_utf8_has_no_version(tmp_path) -> None:
    """Issue 18: a mongod whose --version output is not UTF-8 made config_shard's check exit 70."""
    from mongoshard.deploy.binaries import binary_version

    fake = tmp_path / "mongod"
    fake.write_bytes(b"#!/bin/sh\nprintf 'db version v8.0.1 \\377\\376 build\\n'\n")
    fake.chmod(0o755)
    assert binary_version(fake) == (8, 0)
    fake.write_bytes(b"#!/bin/sh\nprintf '\\377\\376'\n")
    assert binary_version(fake) == (0, 0)
