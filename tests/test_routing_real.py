"""Routing against what a real server decides: its chunk layouts, its moves, its sort order, its matches."""

from __future__ import annotations

import datetime

import pytest
from bson import Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mongoshard import PredictedSource, RoutingTable, ShardSpec
from mongoshard.routing.ordering import sort_key

pytestmark = pytest.mark.mongod


@pytest.mark.parametrize("initial_chunks", [None, 3, 5, 8])
def test_predicted_hashed_layout_equals_the_servers(cluster, initial_chunks) -> None:
    namespace = f"layout.hashed_{initial_chunks or 'default'}"
    cluster.shard_collection(namespace, {"k": "hashed"}, initial_chunks=initial_chunks)
    server = cluster.routing_table(namespace)
    shards = list(cluster.shard_names)
    spec = ShardSpec(*namespace.split("."), key=(("k", "hashed"),), initial_chunks=initial_chunks)
    predicted = PredictedSource([spec], shards, server_version=(6, 0)).routing_table(namespace)
    assert predicted.chunks == server.chunks


def test_ranged_and_compound_hashed_layouts_equal_the_servers(cluster) -> None:
    shards = list(cluster.shard_names)
    for collection, key in [("ranged", (("a", 1), ("b", 1))), ("prefix", (("a", "hashed"), ("b", 1)))]:
        namespace = f"layout.{collection}"
        cluster.shard_collection(namespace, dict(key))
        server = cluster.routing_table(namespace)
        primary = cluster.config_client.config.databases.find_one({"_id": "layout"})["primary"]
        predicted = PredictedSource([ShardSpec("layout", collection, key)], shards, server_version=(6, 0)).routing_table(namespace)
        if key[0][1] == 1:  # one chunk, on the database's primary shard
            assert [(c.min, c.max) for c in server.chunks] == [(c.min, c.max) for c in predicted.chunks]
            assert server.shards == (primary,)
        else:
            assert predicted.chunks == server.chunks


def _documents_by_shard(cluster, namespace: str) -> dict[str, list[dict]]:
    database, collection = namespace.split(".", 1)
    return {name: list(client[database][collection].find()) for name, client in cluster.shard_clients.items()}


MIXED_VALUES = [None, -5, 0, 7, 41.5, 99, 100, 1e9, "", "apple", "zebra", {"n": 1}, ObjectId(b"\x00" * 12),
                True, datetime.datetime(2020, 1, 1), Decimal128("55.5"), Int64(250)]


def test_documents_live_where_shard_for_says_after_server_moves(cluster) -> None:
    namespace = "moves.ranged"
    cluster.shard_collection(namespace, {"x": 1})
    primary = cluster.config_client.config.databases.find_one({"_id": "moves"})["primary"]
    other = next(name for name in cluster.shard_names if name != primary)
    documents = [{"_id": i, "x": v} for i, v in enumerate(MIXED_VALUES)] + [{"_id": 1000}]
    cluster.shard_clients[primary].moves.ranged.insert_many(documents)
    cluster.move_range(namespace, {"x": 0}, {"x": 100}, other)        # numbers in [0, 100)
    cluster.move_range(namespace, {"x": "m"}, {"x": MaxKey()}, other)  # strings from "m" on, and every later type
    table = cluster.routing_table(namespace)
    assert len(table.chunks) == 4
    placed = _documents_by_shard(cluster, namespace)
    assert sum(len(docs) for docs in placed.values()) == len(documents)
    for shard, docs in placed.items():
        assert all(table.shard_for(doc) == shard for doc in docs), shard


def test_hashed_documents_live_where_shard_for_says(cluster) -> None:
    namespace = "moves.hashed"
    cluster.shard_collection(namespace, {"k": "hashed"}, initial_chunks=1)
    primary = cluster.config_client.config.databases.find_one({"_id": "moves"})["primary"]
    other = next(name for name in cluster.shard_names if name != primary)
    documents = [{"_id": i, "k": v} for i, v in enumerate([*MIXED_VALUES, *range(200), *(f"user{i}" for i in range(200))])]
    cluster.shard_clients[primary].moves.hashed.insert_many(documents)
    cluster.move_range(namespace, {"k": Int64(-(2**62))}, {"k": Int64(2**61)}, other)
    table = cluster.routing_table(namespace)
    placed = _documents_by_shard(cluster, namespace)
    assert min(len(docs) for docs in placed.values()) > 50  # both shards really hold data
    for shard, docs in placed.items():
        assert all(table.shard_for(doc) == shard for doc in docs), shard


def test_sort_key_orders_like_the_server(cluster) -> None:
    values = [*MIXED_VALUES, MinKey(), MaxKey(), float("nan"), float("-inf"), float("inf"), -0.0, 2**62, "a\u00e9", "ab",
              {"n": 1, "m": 0}, {"m": 0}, {}, b"\x00\x01", ObjectId(), False, datetime.datetime(1960, 5, 5),
              Regex("a", "i"), Decimal128("-1E+400"), Decimal128("NaN")]
    collection = cluster.shard_clients["shard0"].ordering.values
    collection.drop()
    collection.insert_many([{"_id": i, "v": v} for i, v in enumerate(values)])
    server_order = [doc["_id"] for doc in collection.find().sort([("v", 1), ("_id", 1)])]
    keys = [sort_key(values[i]) for i in server_order]
    assert keys == sorted(keys)
    ours = sorted(range(len(values)), key=lambda i: (sort_key(values[i]), i))
    assert ours == server_order


field_values = st.one_of(st.integers(-50, 150), st.floats(-50, 150, allow_nan=False), st.sampled_from(["", "a", "m", "zz"]),
                         st.none(), st.booleans())
operators = st.sampled_from(["$gt", "$gte", "$lt", "$lte", "$eq", "$ne"])
conditions = st.one_of(
    field_values,
    st.dictionaries(operators, field_values, min_size=1, max_size=2),
    st.builds(lambda vs: {"$in": vs}, st.lists(field_values, max_size=4)),
    st.builds(lambda vs: {"$nin": vs}, st.lists(field_values, max_size=3)),
    st.builds(lambda c: {"$not": c}, st.dictionaries(operators, field_values, min_size=1, max_size=1)),
    st.builds(lambda flag: {"$exists": flag}, st.booleans()),
)
leaf = st.builds(lambda c: {"x": c}, conditions) | st.builds(lambda c: {"y": c}, conditions)
filters = st.recursive(leaf, lambda inner: st.one_of(
    st.builds(lambda xs: {"$or": xs}, st.lists(inner, min_size=1, max_size=3)),
    st.builds(lambda xs: {"$and": xs}, st.lists(inner, min_size=1, max_size=3)),
), max_leaves=5)


@pytest.fixture(scope="module")
def matching_collection(cluster):
    """Documents of every value type; the server decides which ones a filter matches."""
    collection = cluster.shard_clients["shard0"].soundness.docs
    collection.drop()
    values = [*MIXED_VALUES, *range(-10, 130, 7), 0.5, "b", "n", False]
    collection.insert_many([{"_id": i, "x": v, "y": i % 3} for i, v in enumerate(values)] + [{"_id": 999, "y": 1}])
    return collection


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=filters)
def test_every_matching_document_lives_on_a_targeted_shard(matching_collection, query) -> None:
    table = RoutingTable("soundness.docs", {"x": 1}, [
        {"min": {"x": MinKey()}, "max": {"x": None}, "shard": "s0"},
        {"min": {"x": None}, "max": {"x": 0}, "shard": "s1"},
        {"min": {"x": 0}, "max": {"x": 50}, "shard": "s2"},
        {"min": {"x": 50}, "max": {"x": 100}, "shard": "s3"},
        {"min": {"x": 100}, "max": {"x": "m"}, "shard": "s4"},
        {"min": {"x": "m"}, "max": {"x": {}}, "shard": "s5"},
        {"min": {"x": {}}, "max": {"x": MaxKey()}, "shard": "s6"},
    ])
    targeted = set(table.target(query).shards)
    owners = {table.shard_for(doc) for doc in matching_collection.find(query)}
    assert owners <= targeted, (query, owners - targeted)
