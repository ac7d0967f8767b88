"""The balance verdict decided on the config server's counts (chunk_digest) equals the one over every chunk.

The verdict over every chunk is the 8.0 policy held to the server's own balancer tests (test_balancer_policy.py); the
digest path moves the reading of chunks to the server: zone membership and bound comparisons are the real mongod's
BSON comparisons of key documents, paging reads a donor's chunks, and each zone bound is one index lookup.  Generated
config databases (mixed BSON types in the bounds, jumbo runs longer than a page, zones straddling chunks, draining
shards, flags) are written to a real mongod and both paths must say the same for each collection.
"""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import pytest
from bson import Binary, MaxKey, MinKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mongoshard.cluster.chunk_digest import PAGE
from mongoshard.cluster.live import ConfigDatabaseSource
from mongoshard.cluster.source import ShardData
from mongoshard.routing.balancer import collection_status
from mongoshard.routing.ordering import sort_key

pytestmark = pytest.mark.mongod

MB = 1024 * 1024
SHARDS = ("s0", "s1", "s2")
# Bounds of several BSON types, so that the server's document comparison has to agree with key order across types.
POINTS = sorted({*range(-40, 200, 3), 2.5, 77.25, "a", "apple", "m", "zz", "\u00e9t\u00e9"}, key=sort_key)


class GivenData(ConfigDatabaseSource):
    """A config database copy on a real mongod, with the data per shard the test chose (there are no real shards)."""

    def __init__(self, database: Any, data: dict[str, dict[str, ShardData]]) -> None:
        super().__init__(database)
        self._data = data

    def data_distribution(self, namespaces: list[str]) -> dict[str, dict[str, ShardData]]:
        return {ns: self._data.get(ns, {}) for ns in namespaces}


@st.composite
def collections(draw: st.DrawFn, number: int) -> dict[str, Any]:
    compound = draw(st.booleans())
    points = sorted(draw(st.sets(st.sampled_from(POINTS), min_size=1, max_size=45)), key=sort_key)
    key = {"k": 1, "j": 1} if compound else {"k": 1}

    def bound(value: Any) -> dict[str, Any]:
        return {"k": value, "j": MinKey()} if compound else {"k": value}

    bounds = [bound(MinKey()), *(bound(p) for p in points), {name: MaxKey() for name in key}]
    jumbo_rate = draw(st.sampled_from([0.0, 0.2, 0.95]))
    run_on = draw(st.sampled_from(SHARDS))
    chunks = []
    for low, high in zip(bounds, bounds[1:]):
        # runs of one shard, so that a donor's first movable chunk can sit behind more jumbo chunks than a page
        shard = run_on if draw(st.integers(0, 9)) < 7 else draw(st.sampled_from(SHARDS))
        chunks.append({"min": low, "max": high, "shard": shard, "jumbo": draw(st.floats(0, 1)) < jumbo_rate})
    zones = []
    for name in draw(st.lists(st.sampled_from(["east", "west"]), unique=True, max_size=2)):
        # mostly on chunk bounds (a zone the server already split for), else anywhere (a split pends: zoneViolation)
        candidates = points if len(points) > 1 and draw(st.integers(0, 4)) else POINTS
        low, high = sorted(draw(st.lists(st.sampled_from(candidates), min_size=2, max_size=2, unique=True)), key=sort_key)
        if zones and not (sort_key(high) <= sort_key(zones[0]["min"]["k"]) or sort_key(low) >= sort_key(zones[0]["max"]["k"])):
            continue  # zones never overlap (the server refuses it)
        # a zone bound given on the prefix only: the server and the digest extend it with MinKey
        zones.append({"tag": name, "min": {"k": low}, "max": {"k": high}})
    flags = draw(st.sampled_from([{}, {}, {}, {"noBalance": True}, {"defragmentCollection": True}]))
    data = {shard: draw(st.integers(0, 40)) * MB for shard in SHARDS}
    return {"namespace": f"app.c{number}", "key": key, "chunks": chunks, "zones": zones, "flags": flags, "data": data,
            "chunk_size": draw(st.sampled_from([1, 4, 64])) * MB}


@st.composite
def clusters(draw: st.DrawFn) -> dict[str, Any]:
    zone_names = ["east", "west"]
    shards = [{"_id": name, "host": f"{name}/h:1", "draining": draw(st.integers(0, 5)) == 0,
               "tags": draw(st.lists(st.sampled_from(zone_names), unique=True))} for name in SHARDS]
    return {"shards": shards, "collections": [draw(collections(n)) for n in range(draw(st.integers(1, 3)))]}


def _write(database: Any, cluster: dict[str, Any]) -> dict[str, dict[str, ShardData]]:
    for name in ("shards", "collections", "chunks", "tags", "settings"):
        database[name].drop()
    database.shards.insert_many(cluster["shards"])
    database.chunks.create_index([("uuid", 1), ("min", 1)], unique=True)  # the config server's own indexes
    database.chunks.create_index([("uuid", 1), ("shard", 1), ("min", 1)], unique=True)
    data = {}
    for collection in cluster["collections"]:
        collection_uuid = Binary.from_uuid(uuid.uuid4())
        database.collections.insert_one({"_id": collection["namespace"], "uuid": collection_uuid, "key": collection["key"],
                                         "maxChunkSizeBytes": collection["chunk_size"], **collection["flags"]})
        database.chunks.insert_many([{"uuid": collection_uuid, **chunk} for chunk in collection["chunks"]])
        if collection["zones"]:
            database.tags.insert_many([{"ns": collection["namespace"], **zone} for zone in collection["zones"]])
        data[collection["namespace"]] = {shard: ShardData(None, size) for shard, size in collection["data"].items()}
    return data


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow, HealthCheck.data_too_large])
@given(generated=clusters())
def test_the_digest_verdict_is_the_verdict_over_every_chunk(cluster, generated) -> None:
    database = cluster.shard_clients["shard0"].digest_config
    source = GivenData(database, _write(database, generated))
    namespaces = [c["namespace"] for c in generated["collections"]]
    state = source.balancing_state(namespaces)
    over_every_chunk = {c.namespace: collection_status(state.shards, c) for c in state.collections}
    assert source.collection_statuses(namespaces) == over_every_chunk
    summaries = source.chunk_summary(namespaces)  # counted on the server: equal to the chunks written
    for collection in generated["collections"]:
        written = Counter((c["shard"], c["jumbo"]) for c in collection["chunks"])
        assert {shard: (n.chunks, n.jumbo) for shard, n in summaries[collection["namespace"]].per_shard.items()} == {
            shard: (written[shard, False] + written[shard, True], written[shard, True])
            for shard in SHARDS if written[shard, False] + written[shard, True]}
    assert source.collection_statuses(namespaces, summaries=summaries) == over_every_chunk


def test_a_donor_behind_more_jumbo_chunks_than_a_page(cluster) -> None:
    """The first movable chunk of the donor comes after two pages of jumbo chunks: the digest pages to it."""
    database = cluster.shard_clients["shard0"].digest_config
    bounds = [{"k": MinKey()}, *({"k": i} for i in range(1, 3 * PAGE)), {"k": MaxKey()}]
    chunks = [{"min": low, "max": high, "shard": "s0", "jumbo": i < 2 * PAGE + 3} for i, (low, high) in
              enumerate(zip(bounds, bounds[1:]))]
    generated = {"shards": [{"_id": name, "host": f"{name}/h:1"} for name in SHARDS],
                 "collections": [{"namespace": "app.jumbo", "key": {"k": 1}, "chunks": chunks, "zones": [], "flags": {},
                                  "data": {"s0": 500 * MB, "s1": 0, "s2": 0}, "chunk_size": 64 * MB}]}
    source = GivenData(database, _write(database, generated))
    assert source.collection_statuses(["app.jumbo"]) == {"app.jumbo": "chunksImbalance"}
    database.chunks.update_many({}, {"$set": {"jumbo": True}})  # every chunk jumbo: nothing can move
    state = source.balancing_state(["app.jumbo"])
    assert source.collection_statuses(["app.jumbo"]) == {"app.jumbo": collection_status(state.shards, state.collections[0])}
