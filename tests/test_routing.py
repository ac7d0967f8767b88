"""Routing tables and the router's targeting rules on tables built in code."""

from __future__ import annotations

import pytest
from bson import Int64, MaxKey, MinKey

from mongoshard import PredictedSource, RoutingError, RoutingTable, ShardSpec, SnapshotSource, hashed_value, write_snapshot
from mongoshard.routing.splitting import hashed_split_points


def ranged_table() -> RoutingTable:
    return RoutingTable("db.c", {"x": 1}, [
        {"min": {"x": MinKey()}, "max": {"x": 0}, "shard": "s0"},
        {"min": {"x": 0}, "max": {"x": 100}, "shard": "s1"},
        {"min": {"x": 100}, "max": {"x": MaxKey()}, "shard": "s2"},
    ])


@pytest.mark.parametrize(("query", "shards", "kind"), [
    ({"x": 5}, ("s1",), "single-shard"),
    ({"x": {"$eq": 150}}, ("s2",), "single-shard"),
    # The router treats a range's upper end as inclusive: $lt 0 also reaches the chunk starting at 0.
    ({"x": {"$lt": 0}}, ("s0", "s1"), "multi-shard"),
    ({"x": {"$gte": 0, "$lt": 100}}, ("s1", "s2"), "multi-shard"),
    ({"x": {"$gt": 0, "$lte": 50}}, ("s1",), "single-shard"),
    ({"x": {"$in": [5, 150]}}, ("s1", "s2"), "multi-shard"),
    ({"x": {"$in": [5, 6, 150, -1]}}, ("s0", "s1", "s2"), "scatter-gather"),
    # Ranges are bracketed by type: strings sort after every number.
    ({"x": {"$gt": "a"}}, ("s2",), "single-shard"),
    ({"x": {"$lt": "a"}}, ("s2",), "single-shard"),
    ({"$or": [{"x": 5}, {"x": 150}]}, ("s1", "s2"), "multi-shard"),
    ({"$or": [{"x": 5}, {"y": 1}]}, ("s0", "s1", "s2"), "scatter-gather"),
    ({"$and": [{"x": {"$gte": 10}}, {"x": {"$lte": 20}}]}, ("s1",), "single-shard"),
    ({"x": {"$gt": 10}, "$or": [{"x": 5}, {"x": 150}]}, ("s2",), "single-shard"),
    ({"x": {"$ne": 5}}, ("s0", "s1", "s2"), "scatter-gather"),
    # $not complements its operand, so missing and null values (chunk s0) match too.
    ({"x": {"$not": {"$lt": 100}}}, ("s0", "s2"), "multi-shard"),
    ({"y": 1}, ("s0", "s1", "s2"), "scatter-gather"),
    ({"x": None}, ("s0",), "single-shard"),
    ({"x": {"$exists": False}}, ("s0",), "single-shard"),
    ({"x": {"$regex": "^ab"}}, ("s2",), "single-shard"),
    ({"$where": "this.x == 1"}, ("s0", "s1", "s2"), "scatter-gather"),
])
def test_targeting_follows_the_router(query: dict, shards: tuple, kind: str) -> None:
    targeting = ranged_table().target(query)
    assert (targeting.shards, targeting.kind) == (shards, kind)


def test_a_filter_that_matches_nothing_still_goes_to_one_shard() -> None:
    targeting = ranged_table().target({"x": {"$in": []}})
    assert targeting.shards == ("s0",) and "can match no document" in targeting.reason


def test_id_lookup_on_another_key_is_broadcast_with_a_reason() -> None:
    targeting = ranged_table().target({"_id": 5})
    assert targeting.kind == "scatter-gather" and "_id lookup" in targeting.reason


def test_where_is_named_in_the_reason() -> None:
    assert "$where cannot be used" in ranged_table().target({"$where": "1"}).reason


def test_shard_for_uses_half_open_chunks_and_null_for_missing_fields() -> None:
    table = ranged_table()
    assert [table.shard_for({"x": v}) for v in (-1, 0, 99.5, 100, "text")] == ["s0", "s1", "s1", "s2", "s2"]
    assert table.shard_for({}) == "s0"  # missing -> null, which sorts before numbers
    with pytest.raises(RoutingError, match="array"):
        table.shard_for({"x": [1]})


def compound_table() -> RoutingTable:
    return RoutingTable("db.c", {"a": 1, "b": 1}, [
        {"min": {"a": MinKey(), "b": MinKey()}, "max": {"a": 5, "b": MinKey()}, "shard": "s0"},
        {"min": {"a": 5, "b": MinKey()}, "max": {"a": 5, "b": 10}, "shard": "s1"},
        {"min": {"a": 5, "b": 10}, "max": {"a": 6, "b": MinKey()}, "shard": "s2"},
        {"min": {"a": 6, "b": MinKey()}, "max": {"a": MaxKey(), "b": MaxKey()}, "shard": "s0"},
    ])


@pytest.mark.parametrize(("query", "shards"), [
    ({"a": 5, "b": 3}, ("s1",)),
    ({"a": 5, "b": 30}, ("s2",)),
    ({"a": 5}, ("s1", "s2")),                        # a prefix reaches every chunk of that prefix
    ({"a": 5, "b": {"$gte": 10}}, ("s2",)),
    ({"b": 3}, ("s0", "s1", "s2")),                  # no leading field: broadcast
    ({"a": {"$in": [4, 7]}, "b": 3}, ("s0",)),
])
def test_compound_keys_and_prefixes(query: dict, shards: tuple) -> None:
    assert compound_table().target(query).shards == shards


def hashed_table() -> RoutingTable:
    spec = ShardSpec("db", "h", (("h", "hashed"),))
    return PredictedSource([spec], ["s0", "s1"]).routing_table("db.h")


def test_hashed_equality_is_targeted_ranges_are_not() -> None:
    table = hashed_table()
    one = table.target({"h": 7})
    assert one.kind == "single-shard" and one.shards == (table.shard_for({"h": 7}),)
    spread = table.target({"h": {"$gt": 7}})
    assert spread.kind == "scatter-gather" and "hashed" in spread.reason


def test_hashed_shard_for_uses_the_hashed_value() -> None:
    table = hashed_table()
    for value in range(50):
        hashed = hashed_value(value)
        owner = next(c.shard for c in table.chunks
                     if (isinstance(c.min["h"], MinKey) or c.min["h"] <= hashed) and (isinstance(c.max["h"], MaxKey) or hashed < c.max["h"]))
        assert table.shard_for({"h": value}) == owner


def test_hashed_split_points_are_even_and_symmetric() -> None:
    for count in range(1, 12):
        points = hashed_split_points(count)
        assert len(points) == count - 1 and points == sorted(points)
        assert sorted(-p for p in points) == points
        gaps = [b - a for a, b in zip([-(2**63), *points], [*points, 2**63])]
        assert max(gaps) - min(gaps) <= 2 * (2**63 // count) // 100 + 4


def test_tables_with_gaps_are_refused() -> None:
    with pytest.raises(RoutingError, match="gap or overlap"):
        RoutingTable("db.c", {"x": 1}, [
            {"min": {"x": MinKey()}, "max": {"x": 0}, "shard": "s0"},
            {"min": {"x": 1}, "max": {"x": MaxKey()}, "shard": "s1"},
        ])
    with pytest.raises(RoutingError, match="does not match the key"):
        RoutingTable("db.c", {"x": 1}, [{"min": {"y": MinKey()}, "max": {"y": MaxKey()}, "shard": "s0"}])


def test_snapshot_round_trip_keeps_types_and_routing(tmp_path) -> None:
    source = PredictedSource([ShardSpec("db", "h", (("h", "hashed"),), initial_chunks=6)], ["a", "b", "c"])
    path = write_snapshot(source, tmp_path / "snap.json")
    loaded = SnapshotSource(path)
    original, restored = source.routing_table("db.h"), loaded.routing_table("db.h")
    assert restored.chunks == original.chunks
    assert isinstance(restored.chunks[1].min["h"], Int64)
    assert loaded.shard_names() == ["a", "b", "c"]
    assert [restored.shard_for({"h": i}) for i in range(100)] == [original.shard_for({"h": i}) for i in range(100)]


def test_snapshot_errors_are_one_sentence(tmp_path) -> None:
    from mongoshard.cluster.source import SourceError
    from mongoshard.files import FileProblem

    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(SourceError, match=r"is not valid \(Extended\) JSON"):
        SnapshotSource(bad)
    with pytest.raises(FileProblem, match="missing.json does not exist"):
        SnapshotSource(tmp_path / "missing.json")


def test_predicted_zones_pin_their_ranges_to_their_shards() -> None:
    specs = {s.collection: s for s in mongoshard_discover()}
    table = PredictedSource([specs["trades"]], ["shard0", "shard1"]).routing_table("game.trades")
    assert table.shard_for({"region": "ASIA", "trade_id": 5}) == "shard0"
    assert table.shard_for({"region": "EU", "trade_id": 5}) == "shard1"
    assert table.target({"region": "EU"}).shards == ("shard1",)
    assert [(c.min["region"], c.max["region"]) for c in table.chunks][1:3] == [("ASIA", "ASIA\x00"), ("ASIA\x00", "EU")]


def test_predicted_split_points_make_contiguous_runs() -> None:
    specs = {s.collection: s for s in mongoshard_discover()}
    table = PredictedSource([specs["boxes"]], ["a", "b"]).routing_table("game.boxes")
    assert [c.min["owner.pid"] for c in table.chunks[1:]] == [1000, 2000, 3000]
    assert [c.shard for c in table.chunks] == ["a", "a", "b", "b"]
    assert table.target({"owner.pid": 1500, "box": 2}).shards == ("a",)


def mongoshard_discover():
    from mongoshard import discover

    return discover("examples.pokemon_storage.models")
