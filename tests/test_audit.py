"""audit: query shapes, their verdict under any key, capture from a mongoengine application, the pytest option."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from commandline import run
from mongoengine import connect, disconnect

from mongoshard.reports.audit import audit, classify, classify_write
from mongoshard.reports.capture import capture, read_log, shape_of

HASHED_USER = [("user_id", "hashed")]
RANGED_BOX = [("owner.pid", 1), ("box", 1)]


def test_shapes_keep_structure_and_drop_values() -> None:
    assert shape_of({"user_id": 7, "species": {"$in": ["a", "b"]}, "level": {"$gte": 3}}) == \
        {"user_id": "?int", "species": {"$in": ["?str", "..."]}, "level": {"$gte": "?int"}}
    assert shape_of({"user_id": {"$in": [7]}}) == {"user_id": {"$in": ["?int"]}}
    assert shape_of({"$or": [{"a": 1}, {"b": "x"}], "$where": "this.a > 1"}) == \
        {"$or": [{"a": "?int"}, {"b": "?str"}], "$where": "?code"}


@pytest.mark.parametrize("query, key, kind", [
    ({"user_id": 7}, HASHED_USER, "single-shard"),
    ({"user_id": {"$in": [1, 2, 3]}}, HASHED_USER, "multi-shard"),
    ({"user_id": {"$in": [1]}}, HASHED_USER, "single-shard"),
    ({"user_id": {"$gt": 5}}, HASHED_USER, "scatter-gather"),  # a range on a hashed key is broadcast
    ({"species": "pikachu"}, HASHED_USER, "scatter-gather"),
    ({"owner.pid": 5, "box": 2}, RANGED_BOX, "single-shard"),
    ({"owner.pid": 5}, RANGED_BOX, "multi-shard"),  # a prefix: the chunks owning it
    ({"owner.pid": {"$gte": 1, "$lt": 9}}, RANGED_BOX, "multi-shard"),
    ({"box": 2}, RANGED_BOX, "scatter-gather"),
    ({"$or": [{"user_id": 1}, {"user_id": 2}]}, HASHED_USER, "multi-shard"),
    ({"$or": [{"user_id": 1}, {"species": "x"}]}, HASHED_USER, "scatter-gather"),
])
def test_verdicts_follow_the_router(query, key, kind) -> None:
    assert classify(shape_of(query), key)[0] == kind


@pytest.mark.parametrize("query, key, collation, kind, reason", [
    # The router ignores $where for targeting (getIndexBoundsForQuery: not indexable), and its equality shortcut still
    # pins {user_id: 7}: one shard.
    ({"user_id": 7, "$where": "this.level > 3"}, HASHED_USER, None, "single-shard", "equality on the whole shard key"),
    ({"$where": "this.level > 3"}, HASHED_USER, None, "scatter-gather", "$where cannot be used"),
    # $expr: the router bounds the key by the comparisons inside, which a captured shape hides.
    ({"$expr": {"$eq": ["$user_id", 7]}}, HASHED_USER, None, "unknown", "$expr"),
    # SERVER-53335: a string compared under a non-simple collation cannot use the (simple) shard key.
    ({"name": "Ash"}, [("name", 1)], {"locale": "fr", "strength": 1}, "scatter-gather", "non-simple collation"),
])
def test_code_expressions_and_collations_follow_the_router(query, key, collation, kind, reason) -> None:
    found, why = classify(shape_of(query), key, collation)
    assert found == kind and reason in why


def test_a_collation_on_a_numeric_key_changes_nothing() -> None:
    assert classify(shape_of({"user_id": 7}), HASHED_USER, {"locale": "fr"})[0] == "single-shard"


@pytest.fixture
def shard_uri(cluster) -> str:
    return f"mongodb://127.0.0.1:{cluster.topology.shards[0].ports[0]}/?directConnection=true"


@pytest.mark.mongod
def test_capture_a_mongoengine_application_end_to_end(shard_uri: str, tmp_path: Path) -> None:
    from examples.pokemon_storage.models import Creature, Owner, StorageBox, Trade

    # A database of its own: the session's cluster is shared with other tests.
    log = tmp_path / "queries.jsonl"
    with capture(log) as recorder:
        connect(db="audit_game", host=shard_uri, alias="default", uuidRepresentation="standard")
        try:
            Creature(user_id=7, species="pikachu").save()
            for user in (7, 8, 9):
                list(Creature.objects(user_id=user))
            Creature.objects(species="pikachu").count()
            Creature.objects(user_id__in=[1, 2, 3]).update(set__level=5)
            StorageBox(owner=Owner(player_id=1200), box=1).save()
            StorageBox.objects(owner__player_id=1200, box=1).first()
            Trade.objects(region="EU").delete()
            list(Creature.objects(__raw__={"$where": "this.level > 3"}))
        finally:
            disconnect(alias="default")
    assert read_log(log) == recorder.records
    creatures = [r for r in recorder.records if r["namespace"] == "audit_game.creatures"]
    assert {"namespace": "audit_game.creatures", "operation": "find", "shape": {"user_id": "?int"}, "collation": None} in creatures

    report = audit(read_log(log), {
        "audit_game.creatures": {"declared": {"user_id": "hashed"}, "{species: 1}": {"species": 1}},
        "audit_game.boxes": {"declared": {"owner.pid": 1, "box": 1}},
        "audit_game.trades": {"declared": {"region": 1, "trade_id": 1}},
    })
    by_namespace = {c.namespace: c for c in report.collections}
    creature_audit = by_namespace["audit_game.creatures"]
    finds = sum(f.count for f in creature_audit.shapes if f.operation == "find" and f.shape == {"user_id": "?int"})
    assert finds == 3
    declared = creature_audit.distribution["declared"]
    total = creature_audit.total
    assert declared["single-shard"] == pytest.approx(finds / total)
    assert declared["unknown"] == 0  # the $where query is broadcast, as the router does
    assert declared["scatter-gather"] >= 2 / total and creature_audit.distribution["{species: 1}"]["single-shard"] > 0
    assert sum(declared.values()) == pytest.approx(1.0)
    assert by_namespace["audit_game.boxes"].distribution["declared"]["single-shard"] == 1.0
    assert by_namespace["audit_game.trades"].distribution["declared"]["multi-shard"] == 1.0


@pytest.mark.mongod
def test_pytest_option_records_a_suite(shard_uri: str, tmp_path: Path) -> None:
    (tmp_path / "test_app.py").write_text(
        "import os, pytest\nfrom pymongo import MongoClient\n"
        "@pytest.fixture\n"
        "def client():\n"
        "    client = MongoClient(os.environ['APP_URI'])\n"
        "    client.app.users.delete_many({})  # the fixture's clean-up, before and after\n"
        "    yield client\n"
        "    client.app.users.delete_many({})\n"
        "def test_reads(client):\n"
        "    for user in range(3):\n"
        "        client.app.users.find_one({'user_id': user})\n"
        "    client.app.users.delete_many({'email': 'x@example.com'})\n")
    log = tmp_path / "suite.jsonl"
    completed = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--mongoshard-audit={log}",
                                "test_app.py"], cwd=tmp_path, capture_output=True, text=True, env={**os.environ, "APP_URI": shard_uri})
    assert completed.returncode == 0, completed.stdout + completed.stderr
    operations = [(r["operation"], r["shape"], r.get("origin")) for r in read_log(log)]
    assert operations == [("delete", {}, "fixture"), *[("find", {"user_id": "?int"}, None)] * 3,
                          ("delete", {"email": "?str"}, None), ("delete", {}, "fixture")]
    report = audit(read_log(log), {"app.users": {"key": {"user_id": 1}}})
    assert report.fixtures == 2 and report.total == 4  # the clean-ups are not the application's scatter-gather


def test_cli_audit_with_declared_and_candidate_keys(tmp_path: Path) -> None:
    log = tmp_path / "q.jsonl"
    records = [{"namespace": "game.creatures", "operation": "find", "shape": {"user_id": "?int"}}] * 3 + \
              [{"namespace": "game.creatures", "operation": "find", "shape": {"species": "?str"}}]
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    result = run("audit", str(log), "examples.pokemon_storage.models", "--key", 'game.creatures={"species": 1}', "--json")
    assert result.returncode == 0, result.stderr
    (collection,) = json.loads(result.stdout)["collections"]
    assert collection["distribution"]["declared"]["single-shard"] == 0.75
    assert collection["distribution"]["{species: 1}"]["single-shard"] == 0.25
    table = run("audit", str(log), "examples.pokemon_storage.models")
    assert "75%" in table.stdout and "scatter-gather" in table.stdout
    bad = run("audit", str(log), "--key", "creatures=species")
    assert bad.returncode == 2 and "NAMESPACE=KEY_JSON" in bad.stderr
    (tmp_path / "broken.jsonl").write_text("{not json}\n")
    broken = run("audit", str(tmp_path / "broken.jsonl"))
    assert broken.returncode == 2 and "line 1: not a query record" in broken.stderr



@pytest.mark.mongod
def test_writes_are_recorded_as_writes_with_what_a_router_does_with_them(shard_uri) -> None:
    from mongoengine import Document, IntField, StringField

    class Ledger(Document):
        region = StringField()
        number = IntField()
        total = IntField()
        meta = {"db_alias": "audit_writes", "collection": "ledger"}

    with capture() as recorder:
        connect("audit_writes", alias="audit_writes", host=shard_uri, uuidRepresentation="standard")
        try:
            entry = Ledger(region="EU", number=1, total=0).save()
            Ledger.objects(region="EU", number=1).update_one(inc__total=1)  # the whole key: one shard
            Ledger.objects(region="EU").update_one(inc__total=1)  # one document, part of the key
            Ledger.objects(region="EU").update(inc__total=1)  # many: a broadcast, never refused
            Ledger.objects(pk=entry.pk).update_one(inc__total=1)  # one document by _id
            Ledger.objects(number=2).upsert_one(total=5)  # an upsert without the key
            Ledger.objects(region="EU").first().delete()
        finally:
            Ledger.drop_collection()
            disconnect("audit_writes")
    records = [r for r in recorder.records if r["namespace"] == "audit_writes.ledger"]
    key = [("region", 1), ("number", 1)]
    kinds = {(r["operation"], json.dumps(r["shape"], sort_keys=True), r.get("multi"), r.get("upsert")):
             tuple(classify_write(r, key, version)[0] for version in ((7, 0), (7, 1), (8, 0), (9, 0))) for r in records}
    # The whole key: one shard on every release
    assert kinds[("update", '{"number": "?int", "region": "?str"}', False, False)] == ("single-shard",) * 4
    # One document by part of the key (targetUpdate): refused before 7.1 unless it reaches one shard; two-phase from 7.1
    # (useTwoPhaseProtocol decides by the filter's shape); 9.0 sends it where it reaches one shard
    assert kinds[("update", '{"region": "?str"}', False, False)] == ("refused", "two-phase", "two-phase", "two-phase")
    # Many documents: one shard, or every shard (write_op.cpp), never refused
    assert kinds[("update", '{"region": "?str"}', True, False)] == ("multi-shard",) * 4
    # One document by _id: every shard until 9.0, where the shards its filter reaches (all of them) get it
    assert kinds[("update", '{"_id": "?objectId"}', False, False)] == ("scatter-gather",) * 4
    # An upsert without the key: refused on 7.0 (ShardKeyNotFound), two-phase from 7.1
    assert kinds[("update", '{"number": "?int"}', False, True)] == ("refused", "two-phase", "two-phase", "two-phase")
    report = audit(records, {"audit_writes.ledger": {"key": {"region": 1, "number": 1}}}, server_version=(7, 0))
    figures = {(f.operation, json.dumps(f.shape, sort_keys=True), f.multi, f.upsert): f for f in report.collections[0].shapes}
    upsert = figures[("update", '{"number": "?int"}', False, True)]
    assert upsert.kinds["key"][0] == "refused" and "ShardKeyNotFound" in upsert.kinds["key"][1]
    assert upsert.writes["key"] == "7.0: refused (ShardKeyNotFound); 7.1, 8.0, 9.0: two-phase"
    assert report.collections[0].distribution["key"]["refused"] > 0
    assert figures[("delete", '{"_id": "?objectId"}', True, False)].writes == {}  # mongoengine deletes with delete_many
