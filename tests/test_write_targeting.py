"""Write targeting as MongoDB's own unit tests state it, release by release.

Every expected value comes from a server test file (mongodb/mongo), transcribed as data in
``server_cases/write_targeting_units.json`` with its file, commit (or the index's file id) and test name:

* ``collection_routing_info_targeter_test.cpp`` (7.0 with featureFlagUpdateOneWithoutShardKey off as 7.0 ships;
  the 8.0 revision, whose fixture turns the flag off; the newest revision, which 9.0 ships) and its predecessor
  ``chunk_manager_targeter_test.cpp`` (5.1 to 6.x): what ``targetInsert``/``targetUpdate``/``targetDelete``
  answer (the endpoints; ``write_op.cpp`` then widens a multi-shard broadcast to every shard);
* ``write_without_shard_key_util_test.cpp`` (6.3/7.0-dev, 7.0, 8.0-era revisions, flag on as from 7.1):
  ``useTwoPhaseProtocol``.

Left out, and counted in the JSON's making: time-series collections (42), unsharded and untracked collections (15),
the 1,000-value hash loops whose expected shard the test computes (23), and the WithChunkRanges duplicates (81).
Their fixtures put chunk i, [split i, split i+1), on shard "i" (``makeChunkManager``), split points padded with MinKey.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from bson import Int64, MinKey, json_util

from mongoshard import RoutingTable
from mongoshard.routing.hashing import hashed_value
from mongoshard.routing.writes import Write, era_of, facts_of, target_write, uses_two_phase_protocol

CASES = json.loads((Path(__file__).parent / "server_cases" / "write_targeting_units.json").read_text())


def _bson(value: Any) -> Any:
    """Extended JSON to BSON values; ``{"$hashOf": 0}`` (a split point the test writes as hash64(0)) as that hash."""
    if isinstance(value, dict) and set(value) == {"$hashOf"}:
        return Int64(hashed_value(value["$hashOf"]))
    if isinstance(value, dict) and not any(k.startswith("$") for k in value):
        return {k: _bson(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_bson(v) for v in value]
    return json_util.loads(json.dumps(value)) if isinstance(value, dict) else value


def layout(case: dict) -> RoutingTable:
    fields = list(case["shard_key"])
    padded = [{name: _bson(point).get(name, MinKey()) for name in fields} for point in case["splits"]]
    low = {name: {"$minKey": 1} for name in fields}
    high = {name: {"$maxKey": 1} for name in fields}
    bounds = [_bson(low), *padded, _bson(high)]
    return RoutingTable("TestDB.TestColl", case["shard_key"],
                        [{"min": a, "max": b, "shard": case["shards"][i]} for i, (a, b) in enumerate(zip(bounds, bounds[1:]))])


def _version(case: dict) -> tuple[int, int]:
    major, minor = case["version"].split(".")
    return int(major), int(minor)


def _name(case: dict) -> str:
    source = case["source"]
    return f"{case['version']}:{source['test']}:{json.dumps(case.get('filter', case.get('document')), sort_keys=True)[:60]}"


TARGETER = [c for c in CASES if c["operation"] != "useTwoPhaseProtocol"]
TWO_PHASE = [c for c in CASES if c["operation"] == "useTwoPhaseProtocol"]


@pytest.mark.parametrize("case", TARGETER, ids=_name)
def test_the_targeter_answers_as_the_servers_unit_tests(case: dict) -> None:
    write = Write(case["operation"], filter=_bson(case.get("filter")), update=_bson(case.get("update")),
                  document=_bson(case.get("document")), upsert=bool(case.get("upsert")), multi=bool(case.get("multi")),
                  collation=case.get("collation"))
    got = target_write(layout(case), write, _version(case), without_shard_key_protocol=case["without_shard_key_protocol"])
    expected = case["expected"]
    if "error" in expected:
        assert (got.outcome, got.error) == ("refused", expected["error"]), got
    elif "first_shard" in expected:
        assert got.outcome != "refused" and sorted(got.endpoints)[0] == expected["first_shard"], got
    elif "shards" in expected:
        assert got.outcome != "refused", got
        assert sorted(got.endpoints) == sorted(expected["shards"]), got
    else:
        assert got.outcome != "refused" and len(got.endpoints) == expected["shards_count"], got


@pytest.mark.parametrize("case", TWO_PHASE, ids=_name)
def test_the_two_phase_protocol_is_chosen_as_the_servers_unit_tests(case: dict) -> None:
    operation = "update" if case.get("is_update_or_delete") else "findAndModify"
    write = Write(operation, filter=_bson(case["filter"]), update={"$set": {"x": 1}}, upsert=bool(case.get("upsert")),
                  collation=case.get("collation"))
    facts = facts_of(write, list(case["shard_key"].items()), default_collation=None, reach="several")
    chosen = case["without_shard_key_protocol"] and uses_two_phase_protocol(facts, era_of(_version(case)), update_or_delete=operation == "update")
    assert chosen == case["expected"]["two_phase"]


def test_the_transcription_covers_every_release() -> None:
    assert {c["version"] for c in TARGETER} == {"6.0", "7.0", "8.0", "9.0"}
    assert {c["operation"] for c in TARGETER} == {"insert", "update", "delete"}
    assert len(CASES) >= 200


# The jstests: what a real cluster did, per release --------------------------------------------------------------
# server_cases/write_targeting_jstests.json: collation_targeting.js and collation_targeting_inherited.js (a
# case-insensitive default collation), update_compound_shard_key.js, updateOne/deleteOne_without_shard_key_basic.js,
# delete_without_two_phase.js and find_and_modify_without_two_phase.js (the flag off on an 8.0 cluster),
# multi_write_target.js and collation_shard_targeting_hashed_shard_key.js, each case with its file and commit and
# the releases its revision and feature-flag branch represent.  Left out: setup writes, shard key value changes
# (error 31025, a shard's rule, not the router's), cases gated on other feature flags or accepting either outcome.
# Whether a write ran two-phase is not asserted by these tests (their explain predates it), so it is not checked here.
JSTESTS = json.loads((Path(__file__).parent / "server_cases" / "write_targeting_jstests.json").read_text())
JSTEST_RUNS = [(case, version, flag) for case in JSTESTS for version, flag in case["versions"]]


def _jstest_name(run: tuple) -> str:
    case, version, _ = run
    return f"{version}:{case['source']['path'].split('/')[-1]}:{json.dumps(case['write'], sort_keys=True)[:90]}"


@pytest.mark.parametrize("run", JSTEST_RUNS, ids=_jstest_name)
def test_writes_go_where_the_servers_jstests_saw_them_go(run: tuple) -> None:
    case, version, flag = run
    write = case["write"]
    table = RoutingTable("test.coll", case["shard_key"], [{k: _bson(v) for k, v in chunk.items()} for chunk in case["chunks"]],
                         collation=case["default_collation"])
    got = target_write(table, Write(write["operation"], filter=_bson(write["filter"]), update=_bson(write["update"]),
                                    upsert=write["upsert"], multi=write["multi"], collation=write["collation"]),
                       _version({"version": version}), without_shard_key_protocol=flag)
    expected = case["expected"]
    assert (got.outcome == "refused") == expected["refused"], got
    if "error" in expected:
        assert got.error == expected["error"], got
    if "shards_written" in expected:  # the shards where the test found the write done: all reached
        assert set(expected["shards_written"]) <= set(got.shards), got
    if "shard" in expected:
        assert got.endpoints == (expected["shard"],), got


# The outside check's findings (issue 17), release by release, on small layouts ------------------------------------
# Expected values are the server's behaviour as the findings state it from the sources above; each row names its rule.
RANGES = RoutingTable("db.c", {"a": 1}, [
    {"min": {"a": MinKey()}, "max": {"a": 0}, "shard": "s0"},
    {"min": {"a": 0}, "max": {"a": 100}, "shard": "s1"},
    {"min": {"a": 100}, "max": {"a": _bson({"$maxKey": 1})}, "shard": "s2"},
])
UNIT_LAYOUT = layout({"shard_key": {"a.b": 1, "c.d": "hashed"}, "splits": [{"a.b": None}, {"a.b": -100}, {"a.b": 0}, {"a.b": 100}],
                      "shards": ["0", "1", "2", "3", "4"]})
CASE_INSENSITIVE = RoutingTable("db.ci", {"a": 1}, RANGES.chunks, collation={"locale": "en_US", "strength": 2})
HASHED = RoutingTable("db.h", {"h": "hashed"}, [
    {"min": {"h": MinKey()}, "max": {"h": Int64(0)}, "shard": "s0"},
    {"min": {"h": Int64(0)}, "max": {"h": _bson({"$maxKey": 1})}, "shard": "s1"},
])
ID_KEY = RoutingTable("db.i", {"_id": 1, "a": 1}, [
    {"min": {"_id": MinKey(), "a": MinKey()}, "max": {"_id": 0, "a": MinKey()}, "shard": "s0"},
    {"min": {"_id": 0, "a": MinKey()}, "max": {"_id": _bson({"$maxKey": 1}), "a": _bson({"$maxKey": 1})}, "shard": "s1"},
])
V70, V71, V80, V90 = (7, 0), (7, 1), (8, 0), (9, 0)
FINDINGS = [
    # 1. targetUpdate, flag off: an upsert needs the whole key even when its filter reaches one shard
    ("upsert, partial key, one shard", UNIT_LAYOUT, Write("update", {"a.b": 100, "c.d": {"$exists": False}}, {"$set": {"x": 1}}, upsert=True),
     {V70: ("refused", "ShardKeyNotFound"), V71: ("two-phase", None), V80: ("two-phase", None), V90: ("targeted", ("4",))}),
    # 2. a multi upsert whose key cannot be extracted
    ("multi upsert without the key", RANGES, Write("update", {"b": 1}, {"$set": {"x": 1}}, upsert=True, multi=True),
     dict.fromkeys((V70, V71, V80, V90), ("refused", "ShardKeyNotFound"))),
    # 3. getUpdateExprForTargeting: a replacement by exact _id goes to the replacement's chunk (a: null -> s0)
    ("replacement by _id", RANGES, Write("update", {"_id": 7}, {"b": 1}),
     {V70: ("targeted", ("s0",)), V71: ("targeted", ("s0",)), V80: ("targeted", ("s0",)), V90: ("targeted", ("s0", "s1", "s2"))}),
    # 4. ... and, before 7.1, a replacement whose filter reaches several shards
    ("replacement, non-key filter", RANGES, Write("update", {"b": 1}, {"a": 150, "b": 2}),
     {V70: ("targeted", ("s2",)), V71: ("two-phase", None), V90: ("two-phase", None)}),
    # 5. isExactIdQuery: a string _id under a collation other than the collection's is not exact
    ("string _id, another collation", RANGES, Write("delete", {"_id": "x"}, collation={"locale": "fr"}),
     {V70: ("refused", "ShardKeyNotFound"), V71: ("two-phase", None), V80: ("two-phase", None)}),
    ("numeric _id, another collation", RANGES, Write("delete", {"_id": 5}, collation={"locale": "fr"}),
     {V70: ("broadcast", ("s0", "s1", "s2", "s3")), V71: ("broadcast", ("s0", "s1", "s2", "s3"))}),
    # 6. the collection's default collation counts when the command gives none
    ("deleteOne on a case-insensitive collection", CASE_INSENSITIVE, Write("delete", {"a": "foo"}),
     {V70: ("refused", "ShardKeyNotFound"), V71: ("two-phase", None), V80: ("two-phase", None)}),
    # 7. findAndModify skips the hashed-field check: the hash of the literal value decides
    ("findAndModify, hashed key, collation", HASHED, Write("findAndModify", {"h": "Foo"}, {"$set": {"x": 1}}, collation={"locale": "en", "strength": 2}),
     {V70: ("targeted", None), V71: ("targeted", None), V80: ("targeted", None)}),
    # 8. 8.0: a single delete and a findAndModify reaching one shard go there; an update still runs two-phase
    ("deleteOne, range on one shard", RANGES, Write("delete", {"a": {"$gt": 10, "$lt": 20}}),
     {V70: ("refused", "ShardKeyNotFound"), V71: ("two-phase", None), V80: ("targeted", ("s1",)), V90: ("targeted", ("s1",))}),
    ("findAndModify, range on one shard", RANGES, Write("findAndModify", {"a": {"$gt": 10, "$lt": 20}}, {"$set": {"x": 1}}),
     {V70: ("refused", "ShardKeyNotFound"), V71: ("two-phase", None), V80: ("targeted", ("s1",)), V90: ("targeted", ("s1",))}),
    ("updateOne, range on one shard", RANGES, Write("update", {"a": {"$gt": 10, "$lt": 20}}, {"$set": {"x": 1}}),
     {V70: ("targeted", ("s1",)), V71: ("two-phase", None), V80: ("two-phase", None), V90: ("targeted", ("s1",))}),
    # 9. _id and a key prefix that reaches one shard: that shard
    ("_id and a key value", RANGES, Write("update", {"_id": 3, "a": {"$gte": 0, "$lt": 50}}, {"$set": {"x": 1}}),
     {V70: ("targeted", ("s1",)), V71: ("targeted", ("s1",)), V80: ("targeted", ("s1",)), V90: ("targeted", ("s1",))}),
    # 10. write_op.cpp: a multi write reaching several shards goes to every shard, also those holding no chunk
    ("multi update on two shards", RANGES, Write("update", {"a": {"$gte": 50}}, {"$set": {"x": 1}}, multi=True),
     dict.fromkeys((V70, V71, V80, V90), ("broadcast", ("s0", "s1", "s2", "s3")))),
    # 11. targetInsert (8.0+): _id in the key and no _id
    ("insert without _id, _id in the key", ID_KEY, Write("insert", document={"a": 1}),
     {V70: ("targeted", ("s0",)), V80: ("refused", "InvalidIdField"), V90: ("refused", "InvalidIdField")}),
]


@pytest.mark.parametrize("name, table, write, expected", FINDINGS, ids=[row[0] for row in FINDINGS])
def test_the_outside_findings_per_release(name: str, table: RoutingTable, write: Write, expected: dict) -> None:
    for version, (outcome, detail) in expected.items():
        got = target_write(table, write, version, cluster_shards=["s3"])
        assert got.outcome == outcome, (version, got)
        if outcome == "refused":
            assert got.error == detail, (version, got)
        elif detail is not None:
            assert got.shards == detail, (version, got)


def test_a_hashed_find_and_modify_under_a_collation_names_what_it_misses() -> None:
    got = target_write(HASHED, Write("findAndModify", {"h": "Foo"}, {"$set": {"x": 1}}, collation={"locale": "en", "strength": 2}), V70)
    assert got.shards == (HASHED.shard_for({"h": "Foo"}),)
    assert any("missed" in note for note in got.notes)


@pytest.mark.parametrize("build, says", [
    (lambda: Write("upsert", {}), "unknown write operation 'upsert'"),
    (lambda: Write("update", {"a": 1}), "an update needs its update"),
    (lambda: Write("update", {"a": 1}, []), "a pipeline update is a non-empty list of stages"),
    (lambda: Write("update", {"a": 1}, [1, 2]), "a pipeline update is a non-empty list of stages"),
    (lambda: Write("insert"), "an insert needs its document"),
    (lambda: Write("insert", document="x"), "an insert needs its document"),
    (lambda: Write("delete", {"a": 1}, upsert="no"), "Write.upsert must be True or False"),
    (lambda: Write("delete", {"a": 1}, collation="fr"), "a collation is a document such as"),
    (lambda: Write("delete", "a=1"), "a write's filter must be a document"),
    (lambda: target_write(RANGES, Write("delete", {"a": 1}), "8.0"), "a server version is (major, minor) integers"),
])
def test_a_write_the_driver_would_not_send_is_one_sentence(build, says: str) -> None:
    from mongoshard import MongoshardError

    with pytest.raises(MongoshardError, match=re.escape(says)):
        build()
