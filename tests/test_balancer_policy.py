"""The 8.0 balancer's decisions as MongoDB's own unit tests state them, and properties any plan must keep.

Every expected value comes from the server's tests, transcribed as data in ``server_cases/balancer_policy.json``
with the file, the index file id of the 8.0-era revision read, and the test name:

* ``balancer_policy_test.cpp``: ``BalancerPolicy::balance`` on built clusters (47 cases: data-size balancing, the
  threshold, parallel rounds, jumbo chunks, draining, zones), and ``ZoneInfo`` (overlaps, the zone of a range);
* ``balancer_chunk_selection_policy_test.cpp``: ``selectChunksToSplit`` (zone boundaries inside chunks),
  ``selectChunksToMove`` where it is expressible as a state and its migrations (one collection, and rounds over
  several: flagged collections skipped, selection stopping when shards run out), and ``ZoneRangesOverlap``.  Not
  expressible, listed in the file's ``meta.not_transcribed``: the tests of the server's random collection order,
  its cache of imbalanced collections and its selection time limit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from bson import MaxKey, MinKey, json_util
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mongoshard.errors import DeclarationError
from mongoshard.model.server_rules import check_declaration
from mongoshard.routing.balancer import (ChunkState, CollectionState, ShardState, balance_round, zone_of,
                                         zone_splits)
from mongoshard.routing.balancer_settings import read_balancer_settings
from mongoshard.routing.splitting import ZoneRange

DATA = json.loads((Path(__file__).parent / "server_cases" / "balancer_policy.json").read_text())["cases"]


def _bound(value: Any, key: list[str]) -> dict[str, Any]:
    value = json_util.loads(json.dumps(value))
    if isinstance(value, (MinKey, MaxKey)):
        return dict.fromkeys(key, value)
    return {name: value.get(name, MinKey()) for name in key}


def _state(case: dict) -> tuple[list[ShardState], CollectionState]:
    key = list(case["key"])
    shards = [ShardState(s["name"], s.get("draining", False), frozenset(s.get("zones", []))) for s in case["shards"]]
    chunks = tuple(ChunkState(_bound(c["min"], key), _bound(c["max"], key), c["shard"], c.get("jumbo", False))
                   for c in case["chunks"])
    zones = tuple(ZoneRange(z["name"], _bound(z["min"], key), _bound(z["max"], key), ()) for z in case.get("zones", []))
    collection = case.get("collection", {})
    sizes = collection.get("data_size_per_shard") or {s["name"]: s["data_bytes"] for s in case["shards"]
                                                      if s.get("data_bytes") is not None}
    return shards, CollectionState(collection.get("ns", "TestDB.TestColl"), case["key"], chunks, sizes,
                                   collection.get("max_chunk_size_bytes") or 128 * 1024 * 1024, zones)


def _name(case: dict) -> str:
    return case["name"]


MOVES = [c for c in DATA if c["kind"] in ("balance", "select_chunks_to_move")]


@pytest.mark.parametrize("case", MOVES, ids=_name)
def test_a_round_schedules_the_servers_migrations(case: dict) -> None:
    shards, collection = _state(case)
    available = set(case.get("call", {}).get("available_shards") or [s.name for s in shards])
    found = balance_round(shards, [collection], available=available).migrations
    expected = case["expected"]["migrations"]
    assert len(found) == len(expected), found
    key = list(case["key"])
    for migration, wanted in zip(found, expected):
        assert migration.from_shard == wanted["from"]
        if "to" in wanted:
            assert migration.to_shard == wanted["to"]
        if "to_one_of" in wanted:
            assert migration.to_shard in wanted["to_one_of"]
        if "min" in wanted:
            assert dict(migration.min) == _bound(wanted["min"], key)
        if "reason" in wanted:
            assert migration.reason == wanted["reason"]


@pytest.mark.parametrize("case", [c for c in DATA if c["kind"] == "select_chunks_to_split"], ids=_name)
def test_zone_boundaries_inside_chunks_are_split_first(case: dict) -> None:
    _, collection = _state(case)
    key = list(case["key"])
    found = [(dict(chunk.min), points) for chunk, points in zone_splits(collection)]
    expected = [(_bound(s["chunk_min"], key), [_bound(p, key) for p in s["split_keys"]])
                for s in case["expected"][f"splits_for_{collection.namespace}"]]
    assert found == expected


@pytest.mark.parametrize("case", [c for c in DATA if c["kind"] == "zone_info"], ids=_name)
def test_the_zone_of_a_range_and_overlaps(case: dict) -> None:
    key = list(case["key"])
    zones = [ZoneRange(z["name"], _bound(z["min"], key), _bound(z["max"], key), ("s",)) for z in case["zones"]]
    for row in case["expected"].get("getZoneForRange", []):
        chunk = ChunkState(_bound(row["min"], key), _bound(row["max"], key), "s")
        assert zone_of(chunk, zones, key) == row["zone"], row
    for row in case["expected"].get("addRangeToZone_conflicts", []):  # RangeOverlapConflict, refused when declared
        added = ZoneRange(row["name"], _bound(row["min"], key), _bound(row["max"], key), ("s",))
        with pytest.raises(DeclarationError, match="overlap"):
            check_declaration("M", [(k, 1) for k in key], unique=False, initial_chunks=None, split_points=(),
                              zones=[*zones, added])


@pytest.mark.parametrize("case", [c for c in DATA if c["kind"] == "select_chunks_to_move_multi"], ids=_name)
def test_a_round_over_several_collections_selects_what_the_server_selects(case: dict) -> None:
    """selectChunksToMove over many collections: flagged ones skipped, a shard used once, stop when shards run out."""
    key = list(case["key"])
    shards = [ShardState(s["name"]) for s in case["shards"]]
    collections = [CollectionState(c["ns"], case["key"], tuple(ChunkState(_bound(k["min"], key), _bound(k["max"], key), k["shard"])
                                                               for k in c["chunks"]),
                                   c["data_size_per_shard"], 128 * 1024 * 1024, (), c["flags"]) for c in case["collections"]]
    found = balance_round(shards, collections).migrations
    assert len(found) == case["expected"]["count"]
    assert [(m.namespace, m.from_shard, m.to_shard) for m in found] == \
        [(m["ns"], m["from"], m["to"]) for m in case["expected"]["migrations"]]


@pytest.mark.parametrize("case", [c for c in DATA if c["kind"] == "zone_ranges_overlap"], ids=_name)
def test_overlapping_zones_are_refused_where_they_are_declared_and_read(case: dict, tmp_path: Path) -> None:
    """RangeOverlapConflict: a declaration with these zones, and a snapshot file holding them, are both refused."""
    from commandline import run

    key = list(case["key"])
    zones = [ZoneRange(z["name"], _bound(z["min"], key), _bound(z["max"], key), ("s0",)) for z in case["zones"]]
    with pytest.raises(DeclarationError, match="overlap"):
        check_declaration("M", [(k, 1) for k in key], unique=False, initial_chunks=None, split_points=(), zones=zones)
    snapshot = {"format": "mongoshard-snapshot", "version": 2, "shards": ["s0"],
                "collections": [{"namespace": "db.c", "key": case["key"], "chunks": [
                    {"min": {"_id": {"$minKey": 1}}, "max": {"_id": {"$maxKey": 1}}, "shard": "s0"}]}],
                "balancing": {"shards": [{"name": "s0", "zones": ["A", "B"]}], "collections": {"db.c": {
                    "data_bytes": {"s0": 0}, "max_chunk_size_bytes": 128 * 1024 * 1024,
                    "zones": [{"name": z.name, "min": z.min, "max": z.max} for z in zones]}}}}
    (tmp_path / "snap.json").write_text(json_util.dumps(snapshot))
    refused = run("balance", "--plan", "--snapshot", str(tmp_path / "snap.json"))
    assert refused.returncode == 2 and "RangeOverlapConflict" in refused.stderr, refused.stderr


# Properties of any plan, on generated clusters -------------------------------------------------------------------

CHUNK = 4 * 1024 * 1024
clusters = st.integers(2, 5).flatmap(lambda shard_count: st.tuples(
    st.lists(st.booleans(), min_size=shard_count, max_size=shard_count),  # draining
    st.lists(st.booleans(), min_size=shard_count, max_size=shard_count),  # in zone "z"
    st.lists(st.tuples(st.integers(0, shard_count - 1), st.booleans(), st.integers(0, 6 * CHUNK)), min_size=1, max_size=12),
    st.booleans(),  # a zone over the lower half
))


def _cluster(draining, in_zone, chunk_rows, zoned) -> tuple[list[ShardState], CollectionState]:
    shards = [ShardState(f"s{i}", d, frozenset({"z"}) if z else frozenset()) for i, (d, z) in enumerate(zip(draining, in_zone))]
    bounds = [MinKey(), *range(1, len(chunk_rows)), MaxKey()]
    chunks = tuple(ChunkState({"k": bounds[i]}, {"k": bounds[i + 1]}, f"s{owner}", jumbo)
                   for i, (owner, jumbo, _) in enumerate(chunk_rows))
    sizes = {s.name: 0 for s in shards}
    for (owner, _, size) in chunk_rows:
        sizes[f"s{owner}"] += size
    half = len(chunk_rows) // 2
    zones = (ZoneRange("z", {"k": MinKey()}, {"k": bounds[half]}, ()),) if zoned and half else ()
    return shards, CollectionState("db.c", {"k": 1}, chunks, sizes, CHUNK, zones)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(cluster=clusters)
def test_a_plan_never_moves_jumbo_never_feeds_a_draining_shard_never_breaks_a_zone_and_ends(cluster) -> None:
    from mongoshard.reports.plan import plan_from_state
    from mongoshard.routing.balancer import BalancingState

    shards, collection = _cluster(*cluster)
    jumbo = {repr(dict(c.min)) for c in collection.chunks if c.jumbo}
    draining = {s.name for s in shards if s.draining}
    zoned_shards = {s.name for s in shards if "z" in s.zones}
    state = BalancingState(tuple(shards), (collection,), read_balancer_settings({}))
    plan = plan_from_state(state, max_rounds=500)
    assert plan.converged, "the balancer settles"
    for planned_round in plan.rounds:
        used = [m.from_shard for m in planned_round.migrations] + [m.to_shard for m in planned_round.migrations]
        assert len(used) == len(set(used)), "a shard takes part in one migration per round"
        for migration in planned_round.migrations:
            assert repr(migration.min) not in jumbo
            assert migration.to_shard not in draining
            chunk = next(c for c in collection.chunks if dict(c.min) == migration.min)
            if zone_of(chunk, collection.zones, ["k"]) == "z":
                assert migration.to_shard in zoned_shards
