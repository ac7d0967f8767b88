"""balance() over real chunk metadata and real per-shard data, after chunk moves done by the server."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
from bson import MinKey, json_util
from commandline import run
from pymongo import MongoClient, monitoring

from mongoshard import ConfigDatabaseSource, SnapshotSource, balance, write_snapshot

pytestmark = pytest.mark.mongod


@pytest.fixture
def balancer_stopped(cluster):
    """The real config server runs its own (6.0) balancer: with a 1 MB chunk size it would split and move the chunks a
    test is arranging, under its feet ("preCondition failed").  Stopped for the test, started again after."""
    cluster.config_client.admin.command({"_configsvrBalancerStop": 1})
    yield
    cluster.config_client.admin.command({"_configsvrBalancerStart": 1})


@pytest.fixture(scope="module")
def ranged(cluster) -> str:
    """1,000 equal-sized documents ranged on k; the server moves k < 300 to the other shard."""
    namespace = "bal.items"
    if cluster.config_client.config.collections.find_one({"_id": namespace}) is None:
        items = cluster.primary_shard("bal").bal.items
        items.insert_many([{"k": i, "pad": "x" * 100} for i in range(1000)])
        items.create_index("k")  # a populated collection needs its shard key index first
        cluster.shard_collection(namespace, {"k": 1})
        owner = cluster.routing_table(namespace).shards[0]
        other = next(name for name in cluster.shard_names if name != owner)
        cluster.move_range(namespace, {"k": MinKey()}, {"k": 300}, other)
    return namespace


def _insert_where_routed(cluster, namespace: str, documents: list[dict]) -> None:
    """Write each document to the shard owning its chunk, as a router would."""
    table = cluster.routing_table(namespace)
    database, collection = namespace.split(".")
    for document in documents:
        cluster.shard_clients[table.shard_for(document)][database][collection].insert_one(document)


def test_figures_are_the_servers(cluster, ranged) -> None:
    report = balance(ConfigDatabaseSource(cluster.config_client), [ranged])
    (collection,) = report.collections
    by_shard = {s.shard: s for s in collection.shards}
    for name, client in cluster.shard_clients.items():
        assert by_shard[name].documents == client.bal.items.count_documents({})
        assert by_shard[name].chunks == cluster.config_client.config.chunks.count_documents(
            {"uuid": cluster.config_client.config.collections.find_one({"_id": ranged})["uuid"], "shard": name})
    assert sorted(s.documents for s in collection.shards) == [300, 700]
    assert collection.measure == "bytes" and all(s.bytes > 0 for s in collection.shards)
    assert collection.imbalance == pytest.approx(1.4, abs=0.02)
    assert collection.status == "compliant" and collection.balanced  # 70 KB apart: far below 3 x 128 MB
    assert "owns the top chunk" in collection.verdict and "70%" in collection.verdict
    assert not balance(ConfigDatabaseSource(cluster.config_client), [ranged], max_imbalance=1.2).balanced  # the gate


def test_chunks_are_counted_on_the_server(cluster, ranged) -> None:
    class Recorder(monitoring.CommandListener):
        def __init__(self) -> None:
            self.commands: list[tuple[str, str, int | None]] = []

        def started(self, event) -> None:
            self.commands.append((event.command_name, str(event.command.get(event.command_name)), event.command.get("limit")))

        def succeeded(self, event) -> None: ...

        def failed(self, event) -> None: ...

    recorder = Recorder()
    with MongoClient(cluster.config_uri, event_listeners=[recorder]) as client:
        ConfigDatabaseSource(client).chunk_summary([ranged])
    assert ("aggregate", "chunks", None) in recorder.commands
    finds = [command for command in recorder.commands if command[:2] == ("find", "chunks")]
    assert finds == [("find", "chunks", 1)], "only the top chunk, never the chunk documents"


def test_hashed_key_even_and_celebrity_uneven(cluster) -> None:
    cluster.shard_collection("bal.players", {"user_id": "hashed"})
    _insert_where_routed(cluster, "bal.players", [{"user_id": i} for i in range(2000)])
    cluster.shard_collection("bal.celebrity", {"user_id": "hashed"})
    _insert_where_routed(cluster, "bal.celebrity", [{"user_id": 42, "n": i} for i in range(500)] + [{"user_id": i} for i in range(20)])
    report = balance(ConfigDatabaseSource(cluster.config_client), ["bal.players", "bal.celebrity"], max_imbalance=1.5)
    players, celebrity = report.collections
    assert players.balanced and players.verdict == "even, as a hashed key promises"
    assert players.imbalance < 1.1 and not players.beyond_limit
    assert "celebrity" in celebrity.verdict and celebrity.imbalance > 1.8 and celebrity.beyond_limit
    # The 8.0 balancer waits for 3 x 128 MB between two shards: a few kilobytes apart is compliant
    assert celebrity.status == "compliant" and celebrity.balanced


def test_a_snapshot_reports_the_data_figures_it_carries(cluster, ranged, tmp_path: Path) -> None:
    """Third attacker F8: a format 2 snapshot said "no data figures" and "Balancer: unknown" while its verdict came
    from the data figures it carries.  It reports the bytes the live cluster gave, no document counts, and the
    balancer as the config server's settings say."""
    live = ConfigDatabaseSource(cluster.config_client)
    path = write_snapshot(live, tmp_path / "snap.json", [ranged])
    (collection,) = balance(SnapshotSource(path)).collections
    (on_cluster,) = balance(live, [ranged]).collections
    assert collection.measure == "bytes" and collection.chunks == 2
    assert [s.bytes for s in collection.shards] == [s.bytes for s in on_cluster.shards] and sum(s.bytes for s in collection.shards) > 0
    assert all(s.documents is None for s in collection.shards)
    assert collection.status == on_cluster.status == "compliant"
    assert balance(SnapshotSource(path)).balancer.enabled is True
    stopped = json.loads(path.read_text())
    stopped["balancing"]["balancer"] = {"_id": "balancer", "mode": "off"}
    (tmp_path / "off.json").write_text(json.dumps(stopped))
    assert balance(SnapshotSource(tmp_path / "off.json")).balancer.enabled is False
    shown = run("balance", "--snapshot", str(tmp_path / "off.json"))
    assert shown.stdout.startswith("Balancer: disabled") and "no data figures" not in shown.stdout


def test_cli_exit_code_json_and_plot(cluster, ranged, tmp_path: Path) -> None:
    strict = run("balance", ranged, "--uri", cluster.config_uri, "--max-imbalance", "1.2", "--json", "--plot", str(tmp_path / "b.svg"))
    assert strict.returncode == 3, strict.stderr
    document = json.loads(strict.stdout)
    assert document["balanced"] is False
    assert sorted(s["documents"] for s in document["collections"][0]["shards"]) == [300, 700]
    svg = ElementTree.parse(tmp_path / "b.svg").getroot()
    assert svg.tag.endswith("svg") and ranged in ElementTree.tostring(svg, encoding="unicode")
    relaxed = run("balance", ranged, "--uri", cluster.config_uri)
    assert relaxed.returncode == 0 and "imbalance 1.4" in relaxed.stdout and "█" in relaxed.stdout
    bad = run("balance", ranged, "--uri", cluster.config_uri, "--plot", str(tmp_path / "b.gif"))
    assert bad.returncode == 2 and bad.stderr.startswith("mongoshard: cannot plot to 'b.gif'")


def test_status_overview_of_the_cluster(cluster, ranged) -> None:
    result = run("status", "--uri", cluster.config_uri, "--json")
    assert result.returncode == 0, result.stderr
    overview = json.loads(result.stdout)["cluster"]
    assert overview["version"] == cluster.config_client.server_info()["version"]
    assert [s["name"] for s in overview["shards"]] == cluster.shard_names
    assert {d["name"]: d["primary"] for d in overview["databases"]}["bal"] in cluster.shard_names
    collections = {c["namespace"]: c for c in overview["collections"]}
    assert collections[ranged] == {"namespace": ranged, "key": {"k": 1}, "chunks": 2}
    table = run("status", "--uri", cluster.config_uri)
    assert "Sharded collections" in table.stdout and ranged in table.stdout and "MongoDB 6.0" in table.stdout


def test_the_verdict_is_the_8_0_balancers_on_a_real_config_server(cluster, balancer_stopped) -> None:
    """A collection with a 1 MB chunk size (the server's own configureCollectionBalancing), 4 MB on one shard: the
    balancer's threshold (3 x 1 MB) is passed, so chunksImbalance; then a zone that puts the data's range on the
    other shard: zoneViolation first; then the donor draining: draining first.  Everything read end to end."""
    from mongoshard.reports.plan import plan_balancing

    namespace, admin = "verdict.items", cluster.admin_command
    items = cluster.primary_shard("verdict").verdict.items
    items.insert_many([{"k": i, "pad": "x" * 10_000} for i in range(400)])
    items.create_index("k")
    cluster.shard_collection(namespace, {"k": 1})
    cluster.config_client.admin.command({"_configsvrConfigureCollectionBalancing": namespace, "chunkSize": 1})
    donor = cluster.routing_table(namespace).shards[0]
    other = next(name for name in cluster.shard_names if name != donor)
    cluster.split(namespace, {"k": 200})
    source = ConfigDatabaseSource(cluster.config_client)
    (collection,) = balance(source, [namespace]).collections
    assert collection.status == "chunksImbalance" and collection.balanced is False
    plan = plan_balancing(source, [namespace])
    first = plan.rounds[0].migrations[0]
    assert (first.from_shard, first.to_shard, first.reason) == (donor, other, "chunksImbalance")
    assert first.min == {"k": MinKey()} and plan.converged

    cluster.split(namespace, {"k": 400})  # the zone below covers the chunk [200, 400) exactly
    admin(cluster.config_client, {"_configsvrAddShardToZone": other, "zone": "right"})
    admin(cluster.config_client, {"_configsvrUpdateZoneKeyRange": namespace, "min": {"k": 200}, "max": {"k": 400},
                                  "zone": "right"})
    try:
        assert balance(source, [namespace]).collections[0].status == "zoneViolation"
        first = plan_balancing(source, [namespace]).rounds[0].migrations[0]
        assert (first.from_shard, first.to_shard, first.min, first.reason) == (donor, other, {"k": 200}, "zoneViolation")
        cluster.config_client.config.shards.update_one({"_id": donor}, {"$set": {"draining": True}})
        assert balance(source, [namespace]).collections[0].status == "draining"
    finally:
        cluster.config_client.config.shards.update_one({"_id": donor}, {"$unset": {"draining": ""}})
        admin(cluster.config_client, {"_configsvrUpdateZoneKeyRange": namespace, "min": {"k": 200}, "max": {"k": 400},
                                      "zone": None})
        admin(cluster.config_client, {"_configsvrRemoveShardFromZone": other, "zone": "right"})


def test_a_snapshot_plans_offline_as_the_live_cluster_does(cluster, balancer_stopped, tmp_path: Path) -> None:
    """Snapshot format 2 carries what the balancer decides from; it validates against the published JSON Schema and
    gives the same verdict and plan offline as the live cluster (issue 19)."""
    import jsonschema

    from mongoshard.reports.plan import plan_balancing

    namespace = "offline.items"
    items = cluster.primary_shard("offline").offline.items
    items.insert_many([{"k": i, "pad": "x" * 10_000} for i in range(400)])
    items.create_index("k")
    cluster.shard_collection(namespace, {"k": 1})
    cluster.config_client.admin.command({"_configsvrConfigureCollectionBalancing": namespace, "chunkSize": 1})
    cluster.split(namespace, {"k": 100})
    live = ConfigDatabaseSource(cluster.config_client)
    path = write_snapshot(live, tmp_path / "snap.json", [namespace])
    schema = json.loads((Path(__import__("mongoshard").__file__).parent / "cluster" / "snapshot.schema.json").read_text())
    jsonschema.validate(json_util.loads(path.read_text()), schema)  # the decoded document: {"$numberInt"} is a number
    offline = SnapshotSource(path)
    assert balance(offline, [namespace]).collections[0].status == balance(live, [namespace]).collections[0].status == "chunksImbalance"
    on_file, on_cluster = plan_balancing(offline, [namespace]), plan_balancing(live, [namespace])
    assert [(m.from_shard, m.to_shard, m.min) for r in on_file.rounds for m in r.migrations] == \
        [(m.from_shard, m.to_shard, m.min) for r in on_cluster.rounds for m in r.migrations]
    version_1 = json.loads(path.read_text())
    del version_1["balancing"]
    version_1["version"] = 1
    (tmp_path / "v1.json").write_text(json.dumps(version_1))
    assert balance(SnapshotSource(tmp_path / "v1.json"), [namespace]).collections[0].balanced is None
    refused = run("balance", "--plan", "--snapshot", str(tmp_path / "v1.json"))
    assert refused.returncode == 2 and "has no data figures" in refused.stderr


def _hand_written(balancing: dict, version: int = 2) -> dict:
    bounds = [{"$minKey": 1}, 10, 20, {"$maxKey": 1}]
    return {"format": "mongoshard-snapshot", "version": version, "shards": ["s0", "s1"],
            "collections": [{"namespace": "db.c", "key": {"k": 1}, "chunks": [
                {"min": {"k": low}, "max": {"k": high}, "shard": "s0"} for low, high in zip(bounds, bounds[1:])]}],
            "balancing": balancing}


def _entry(**changes) -> dict:
    return {"shards": [{"name": "s0"}, {"name": "s1"}],
            "collections": {"db.c": {"data_bytes": {"s0": 2**30, "s1": 0}, "max_chunk_size_bytes": 2**27, **changes}}}


@pytest.mark.parametrize("balancing, version, says", [
    ({**_entry(), "shards": [{"name": "s0"}, {"name": "s1"}, {"name": "s1", "draining": True}]}, 2, "'shards' names s1 twice"),
    (_entry(max_chunk_size_bytes=0), 2, "'max_chunk_size_bytes' must be a whole number of bytes, at least 1"),
    (_entry(max_chunk_size_bytes="128"), 2, "'max_chunk_size_bytes' must be a whole number"),
    (_entry(data_bytes={"s0": -5, "s1": 0}), 2, "'data_bytes' must map shard names to whole numbers of bytes, 0 or more"),
    (_entry(data_bytes={"s0": "1024", "s1": 0}), 2, "'data_bytes' must map"),
    (_entry(data_bytes={"s0": 1, "s9": 0}), 2, "'data_bytes' names s9, which 'shards' does not list"),
    (_entry(flags={"noBalance": "yes"}), 2, "'flags' must map each flag to true or false"),
    (_entry(), 3, "is snapshot format version 3; this mongoshard reads versions 1 and 2"),
])
def test_a_hand_written_snapshot_is_held_to_its_schema(tmp_path: Path, balancing: dict, version: int, says: str) -> None:
    """Fourth attacker: a shard named twice planned s1 -> s1 for 10,000 rounds; sizes of the wrong sign or type planned
    nonsense.  The published schema refuses each of these, and so does the reader, in one sentence."""
    import jsonschema

    path = tmp_path / "snap.json"
    path.write_text(json.dumps(_hand_written(balancing, version)))
    schema = json.loads((Path(__import__("mongoshard").__file__).parent / "cluster" / "snapshot.schema.json").read_text())
    if "twice" not in says and "s9" not in says:  # uniqueness and cross-references are beyond JSON Schema
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(json_util.loads(path.read_text()), schema)
    result = run("balance", "--plan", "--snapshot", str(path))
    assert result.returncode == 2 and says in result.stderr and result.stderr.count("\n") == 1, result.stderr
    twice = _hand_written(_entry())
    twice["collections"].append(twice["collections"][0])
    (tmp_path / "twice.json").write_text(json.dumps(twice))
    refused = run("balance", "--plan", "--snapshot", str(tmp_path / "twice.json"))
    assert refused.returncode == 2 and "holds two routing tables for db.c" in refused.stderr
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_hand_written(_entry())))
    assert run("balance", "--plan", "--snapshot", str(good)).returncode == 3  # 1 GB to spread: migrations planned


@pytest.mark.parametrize("balancing, says", [
    ({"shards": [{"name": "s0"}], "collections": {"db.c": {"data_bytes": {"s0": 2**30}, "max_chunk_size_bytes": 2**27}}},
     "a chunk is on s1, which 'balancing.shards' does not list"),
    ({**_entry(), "shards": [{"name": "s0"}, {"name": "s1"}, {"name": "ghost", "zones": ["Z"]}]},
     "'balancing.shards' lists ghost, s0, s1, but the snapshot's 'shards' lists s0, s1"),
    (_entry(jumbo=[{"k": 15}]), "the jumbo bound {\"k\": 15} is not the lower bound of any chunk"),
    (_entry(zones=[{"name": "Z", "min": {"k": {"$minKey": 1}}, "max": {"k": 15}}, {"name": "Y", "min": {"k": 12}, "max": {"k": {"$maxKey": 1}}}]),
     "zones Z and Y overlap, which the server refuses (RangeOverlapConflict)"),
    (_entry(zones=[{"name": "Z", "min": {"k": 15}, "max": {"k": 15}}]), "zone Z has a min that is not below its max"),
])
def test_a_snapshot_that_contradicts_its_routing_tables_is_refused(tmp_path: Path, balancing: dict, says: str) -> None:
    """Third attacker F9: what the config server's own metadata guarantees (chunks on listed shards, jumbo flags on
    chunks, zones that do not overlap: ``RangeOverlapConflict`` in ``ShardingCatalogManager::assignKeyRangeToZone``)
    was not checked in a hand-written file, and the plan moved by overlapping zones."""
    document = _hand_written(balancing)
    document["collections"][0]["chunks"][1]["shard"] = "s1"
    path = tmp_path / "snap.json"
    path.write_text(json.dumps(document))
    result = run("balance", "--plan", "--snapshot", str(path))
    assert result.returncode == 2 and says in result.stderr and result.stderr.count("\n") == 1, result.stderr


def test_the_plan_says_why_nothing_moves_where_the_headline_would_mislead(tmp_path: Path) -> None:
    """Third attacker F3: a collection without data figures, and zone chunks whose only zone shard drains, printed
    "every collection is compliant" with no reason."""
    no_figures = _hand_written({"shards": [{"name": "s0"}, {"name": "s1"}], "collections": {}})
    (tmp_path / "none.json").write_text(json.dumps(no_figures))
    result = run("balance", "--plan", "--snapshot", str(tmp_path / "none.json"))
    assert "compliant" not in result.stdout and "db.c: no data figures for this collection" in result.stdout
    drained = _hand_written({**_entry(zones=[{"name": "Z", "min": {"k": {"$minKey": 1}}, "max": {"k": 20}}]),
                             "shards": [{"name": "s0"}, {"name": "s1", "draining": True, "zones": ["Z"]}]})
    (tmp_path / "drained.json").write_text(json.dumps(drained))
    result = run("balance", "--plan", "--snapshot", str(tmp_path / "drained.json"))
    assert "compliant" not in result.stdout and result.stdout.count("no shard of the zone can take them") == 1, result.stdout
