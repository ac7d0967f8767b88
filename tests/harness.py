"""A real sharded cluster without a router, for tests.

The processes are started by mongoshard's own launcher (``mongoshard.deploy.local``):
a config server replica set and two shard replica sets from the real mongod.
Where a router would be needed, the harness does the router's part with the
servers' own internal sharding commands (what mongos itself sends), so every
piece of metadata, every index and every validation the tests see is the
server's.  Never used on a user's cluster.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any
from collections.abc import Mapping

from bson import SON
from pymongo import MongoClient
from pymongo.errors import OperationFailure

from mongoshard.cluster.live import ConfigDatabaseSource
from mongoshard.deploy import local
from mongoshard.deploy.credentials import load_credentials
from mongoshard.deploy.processes import port_in_use
from mongoshard.deploy.state import recorded_pids
from mongoshard.deploy.topology import Topology
from mongoshard.routing.table import RoutingTable

MAJORITY = {"w": "majority"}


def topology_with_free_ports(shard_count: int = 2, auth: bool = False) -> Topology:
    """A default topology on 1 + 1 + shard_count consecutive free ports.

    Chosen below the kernel's ephemeral range (32768+), where outgoing
    connections could take a port between this check and the server's start.
    """
    while True:
        base = random.randrange(20_000, 32_000)
        candidate = Topology(base_port=base, shard_count=shard_count, auth=auth)
        if candidate.all_ports[-1] <= 65535 and not any(port_in_use(p) for p in candidate.all_ports):
            return candidate


class RouterlessCluster:
    """Config server + shards, with just enough of a router's work done by hand."""

    def __init__(self, mongod: Path, root: Path, shard_count: int = 2, auth: bool = False) -> None:
        self.topology = topology_with_free_ports(shard_count, auth=auth)
        self.root = root
        self.bin_dir = mongod.parent
        self.options: dict[str, str] = {}

    def start(self) -> None:
        local.up(self.topology, state_dir=self.root, bin_dir=self.bin_dir)
        try:
            # A router logs in to the config server and the shards as __system with the keyfile; so does the harness.
            credentials = load_credentials(self.root)
            self.options = credentials.internal_options() if credentials else {}
            self.admin_password = credentials.password if credentials else None
            self.config_client = self._client(self.topology.config_server.ports[0])
            self.shard_clients = {rs.name: self._client(rs.ports[0]) for rs in self.topology.shards}
            for shard in self.topology.shards:
                self.admin_command(self.config_client, {"_configsvrAddShard": f"{shard.name}/127.0.0.1:{shard.ports[0]}"})
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for client in [getattr(self, "config_client", None), *getattr(self, "shard_clients", {}).values()]:
            if client is not None:
                client.close()
        self.pids = list(recorded_pids(self.topology, self.root).values())
        local.down(self.topology, state_dir=self.root)

    @property
    def shard_names(self) -> list[str]:
        return sorted(rs.name for rs in self.topology.shards)

    @property
    def config_uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.topology.config_server.ports[0]}/?directConnection=true"

    def _client(self, port: int) -> MongoClient:
        return MongoClient(f"mongodb://127.0.0.1:{port}/?directConnection=true", serverSelectionTimeoutMS=10_000, **self.options)

    @staticmethod
    def admin_command(client: MongoClient, command: Mapping[str, Any], database: str = "admin") -> dict[str, Any]:
        return client[database].command(SON({**command, "writeConcern": MAJORITY}))

    def create_database(self, name: str) -> dict[str, Any]:
        """What mongos does for enableSharding / the first write: returns config.databases' entry."""
        self.admin_command(self.config_client, {"_configsvrCreateDatabase": name})
        return self.config_client.config.databases.find_one({"_id": name})

    def primary_shard(self, database: str) -> MongoClient:
        return self.shard_clients[self.create_database(database)["primary"]]

    def shard_collection(self, namespace: str, key: Mapping[str, Any], *, unique: bool = False,
                         initial_chunks: int | None = None, collation: Mapping[str, Any] | None = None,
                         presplit_hashed_zones: bool = False) -> None:
        """What mongos does for shardCollection: ask the database's primary shard to create it.

        cluster_shard_collection_cmd.cpp builds ``_shardsvrCreateCollection`` from the request (shardKey,
        unique, numInitialChunks, presplitHashedZones, collation), and cluster_ddl.cpp ``createCollection``
        sends it to the database's primary shard with the database version, majority write concern.
        """
        database, collection = namespace.split(".", 1)
        entry = self.create_database(database)
        command: dict[str, Any] = {"_shardsvrCreateCollection": collection, "shardKey": dict(key), "unique": unique,
                                   "databaseVersion": entry["version"]}
        if initial_chunks:
            command["numInitialChunks"] = initial_chunks
        if presplit_hashed_zones:
            command["presplitHashedZones"] = True
        if collation is not None:
            command["collation"] = dict(collation)
        self.admin_command(self.shard_clients[entry["primary"]], command, database=database)

    def routing_table(self, namespace: str) -> RoutingTable:
        """The collection's routing table as the config server records it."""
        return ConfigDatabaseSource(self.config_client).routing_table(namespace)

    def _collection_entry(self, namespace: str) -> dict[str, Any]:
        return self.config_client.config.collections.find_one({"_id": namespace})

    def _owner(self, namespace: str, key: Mapping[str, Any]) -> dict[str, Any]:
        entry = self._collection_entry(namespace)
        return self.config_client.config.chunks.find_one({"uuid": entry["uuid"], "min": {"$lte": dict(key)}}, sort=[("min", -1)])

    def move_range(self, namespace: str, low: Mapping[str, Any], high: Mapping[str, Any], to_shard: str) -> None:
        """What mongos does for moveRange: ``_configsvrMoveRange`` to the config server, which splits at the
        bounds if it must and has the donor migrate [low, high) with its documents (cluster_move_range_cmd.cpp,
        ``ClusterMoveRangeCommand::typedRun``: no bounds check on mongos)."""
        self.admin_command(self.config_client, {"_configsvrMoveRange": namespace, "toShard": to_shard, "min": dict(low),
                                                "max": dict(high), "waitForDelete": True})

    def move_chunk(self, namespace: str, bounds: Any, to_shard: str) -> None:
        """What mongos does for moveChunk with ``bounds`` (cluster_move_chunk_cmd.cpp, ``ClusterMoveChunkCmd::run``).

        Before forwarding, mongos refuses bounds that are not exactly two shard key documents (InvalidOptions,
        uassert 656451 for fields not of the key) and bounds that are not exactly an existing chunk's
        (uassert 656452 "no chunk found with the shard key bounds"); only then does it send
        ``_configsvrMoveRange`` with the chunk's own bounds.  A stand-in that skipped these checks would let a
        test pass where a router refuses.
        """
        if not isinstance(bounds, (list, tuple)) or len(bounds) != 2:
            raise OperationFailure("bounds can only have exactly 2 elements", 72)
        low, high = (dict(bound) for bound in bounds)
        key = self._collection_entry(namespace)["key"]
        if list(low) != list(key) or list(high) != list(key):
            raise OperationFailure(f"shard key bounds [{low}, {high}) are not valid for shard key pattern {key}", 656451)
        chunk = self._owner(namespace, low)
        if chunk is None or chunk["min"] != low or chunk["max"] != high:
            raise OperationFailure(f"no chunk found with the shard key bounds [{low}, {high})", 656452)
        self.move_range(namespace, low, high, to_shard)

    def split(self, namespace: str, middle: Mapping[str, Any]) -> None:
        """What mongos does for split with ``middle`` (cluster_split_cmd.cpp, ``SplitCollectionCmd::errmsgRun``).

        mongos refuses a split key that is not a full shard key and one that is already a chunk boundary
        (errmsg without a code), then sends ``splitChunk`` to the owning shard, which itself refuses a hashed
        field that is not a NumberLong (split_chunk.cpp, CannotSplit).
        """
        entry = self._collection_entry(namespace)
        middle = dict(middle)
        if list(middle) != list(entry["key"]):
            raise OperationFailure(f"new split key {middle} is not valid for shard key pattern {entry['key']}")
        chunk = self._owner(namespace, middle)
        if chunk["min"] == middle or chunk["max"] == middle:
            raise OperationFailure(f"new split key {middle} is a boundary key of existing chunk [{chunk['min']},{chunk['max']})")
        self.shard_clients[chunk["shard"]].admin.command(SON({
            "splitChunk": namespace, "from": chunk["shard"], "keyPattern": entry["key"], "epoch": entry["lastmodEpoch"],
            "timestamp": entry["timestamp"], "min": chunk["min"], "max": chunk["max"], "splitKeys": [middle],
        }))


class HarnessRouter:
    """A ``mongoshard.apply.Router`` that does a mongos's part with the servers' internal commands."""

    def __init__(self, cluster: RouterlessCluster) -> None:
        self.cluster = cluster
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def command(self, database: str, document: Mapping[str, Any]) -> dict[str, Any]:
        name = next(iter(document))
        self.sent.append((database, dict(document)))
        cluster, config = self.cluster, self.cluster.config_client
        if database == "config":
            return config.config.command(SON(document))
        if name == "buildInfo":  # any server of the cluster answers it, as mongos does
            return config.admin.command("buildInfo")
        if name == "enableSharding":
            cluster.create_database(document[name])
            return {"ok": 1}
        if name in ("addShardToZone", "updateZoneKeyRange"):
            internal = {"addShardToZone": "_configsvrAddShardToZone", "updateZoneKeyRange": "_configsvrUpdateZoneKeyRange"}[name]
            return cluster.admin_command(config, {internal: document[name], **{k: v for k, v in document.items() if k != name}})
        if name == "shardCollection":
            cluster.shard_collection(document[name], document["key"], unique=document.get("unique", False),
                                     initial_chunks=document.get("numInitialChunks"), collation=document.get("collation"),
                                     presplit_hashed_zones=document.get("presplitHashedZones", False))
            return {"ok": 1}
        if name == "split":
            cluster.split(document[name], document["middle"])
            return {"ok": 1}
        if name == "moveChunk":
            cluster.move_chunk(document[name], document["bounds"], document["to"])
            return {"ok": 1}
        return self._on_primary_shard(database, document)

    def _on_primary_shard(self, database: str, document: Mapping[str, Any]) -> dict[str, Any]:
        """An unsharded collection lives on its database's primary shard; a missing database has nothing."""
        exists = self.cluster.config_client.config.databases.find_one({"_id": database}) is not None
        if not exists and "createIndexes" not in document:
            if "count" in document:
                return {"n": 0, "ok": 1}
            raise OperationFailure(f"database {database} does not exist", 26)
        return self.cluster.primary_shard(database)[database].command(SON(document))


class ReplicaSet:
    """A real one-member replica set (transactions need one), started by the test and stopped by pid."""

    def __init__(self, mongod: Path, root: Path) -> None:
        import subprocess

        from mongoshard.deploy.processes import free_port

        self.port = free_port()
        (root / "data").mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen([str(mongod), "--replSet", "rs0", "--port", str(self.port), "--bind_ip", "127.0.0.1",
                                         "--dbpath", str(root / "data"), "--wiredTigerCacheSizeGB", "0.25",
                                         "--logpath", str(root / "mongod.log"),
                                         # the server's own failCommand fail point, to make a transaction fail on cue
                                         "--setParameter", "enableTestCommands=1"])
        self.uri = f"mongodb://127.0.0.1:{self.port}/?replicaSet=rs0"

    def start(self) -> None:
        import time

        deadline = time.monotonic() + 60
        while True:
            try:
                with MongoClient(port=self.port, directConnection=True, serverSelectionTimeoutMS=500) as client:
                    client.admin.command("replSetInitiate", {"_id": "rs0", "members": [{"_id": 0, "host": f"127.0.0.1:{self.port}"}]})
                break
            except OperationFailure as exc:
                if "already initialized" in str(exc):
                    break
                raise
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        with MongoClient(self.uri, serverSelectionTimeoutMS=30_000) as client:
            client.admin.command("ping")  # a primary was elected

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(60)
