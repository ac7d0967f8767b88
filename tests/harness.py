"""A real sharded cluster without a router, for tests.

Starts a config server replica set and two shard replica sets from the real
mongod, and does the router's part of the few commands tests need with the
servers' own internal sharding commands (what mongos itself sends), so every
piece of metadata the tests read is written by the server.  Never used on a
user's cluster.
"""

from __future__ import annotations

import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pymongo import MongoClient

START_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Member:
    """One single-member replica set, run as a child process."""

    mongod: Path
    root: Path
    replica_set: str
    role: str  # "configsvr" or "shardsvr" or "" for a plain replica set
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def connection_string(self) -> str:
        return f"{self.replica_set}/{self.address}"

    def start(self) -> None:
        dbpath = self.root / self.replica_set
        dbpath.mkdir(parents=True, exist_ok=True)
        arguments = [str(self.mongod), "--replSet", self.replica_set, "--port", str(self.port), "--bind_ip", "127.0.0.1",
                     "--dbpath", str(dbpath), "--wiredTigerCacheSizeGB", "0.25",
                     "--setParameter", "diagnosticDataCollectionEnabled=false",
                     "--logpath", str(self.root / f"{self.replica_set}.log")]
        if self.role:
            arguments.append(f"--{self.role}")
        self.process = subprocess.Popen(arguments, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def client(self, **options: Any) -> MongoClient:
        return MongoClient(f"mongodb://{self.address}/?directConnection=true", serverSelectionTimeoutMS=10_000, **options)

    def initiate(self) -> None:
        config: dict[str, Any] = {"_id": self.replica_set, "members": [{"_id": 0, "host": self.address}]}
        if self.role == "configsvr":
            config["configsvr"] = True
        with self.client() as client:
            _retry(lambda: client.admin.command("ping"))
            client.admin.command("replSetInitiate", config)
            _retry(lambda: client.admin.command("hello")["isWritablePrimary"] or None)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _retry(attempt: Any, timeout: float = START_TIMEOUT_S) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = attempt()
            if result:
                return result
        except Exception:
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise TimeoutError("the server did not become ready in time")
        time.sleep(0.1)


class RouterlessCluster:
    """Config server + shards, with just enough of a router's work done by hand."""

    def __init__(self, mongod: Path, root: Path, shard_count: int = 2) -> None:
        self.config = Member(mongod, root, "cfgrs", "configsvr")
        self.shards = [Member(mongod, root, f"shard{i}rs", "shardsvr") for i in range(shard_count)]
        self.members = [self.config, *self.shards]

    def start(self) -> None:
        try:
            for member in self.members:
                member.start()
            with ThreadPoolExecutor(len(self.members)) as pool:
                list(pool.map(Member.initiate, self.members))
            self.config_client = self.config.client()
            self.shard_clients = {m.replica_set: m.client() for m in self.shards}
            for shard in self.shards:
                self.admin_command(self.config_client, {"_configsvrAddShard": shard.connection_string})
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for client in [getattr(self, "config_client", None), *getattr(self, "shard_clients", {}).values()]:
            if client is not None:
                client.close()
        with ThreadPoolExecutor(len(self.members)) as pool:
            list(pool.map(Member.stop, self.members))

    @property
    def pids(self) -> list[int]:
        return [m.process.pid for m in self.members if m.process is not None]

    @staticmethod
    def admin_command(client: MongoClient, command: dict[str, Any], database: str = "admin") -> dict[str, Any]:
        return client[database].command({**command, "writeConcern": {"w": "majority"}})

    def create_database(self, name: str) -> dict[str, Any]:
        """What mongos does for enableSharding / the first write: returns config.databases' entry."""
        self.admin_command(self.config_client, {"_configsvrCreateDatabase": name})
        return self.config_client.config.databases.find_one({"_id": name})

    def shard_collection(self, namespace: str, key: dict[str, Any], *, unique: bool = False,
                         initial_chunks: int | None = None) -> None:
        """What mongos does for shardCollection: ask the database's primary shard to create it."""
        database, collection = namespace.split(".", 1)
        entry = self.create_database(database)
        command: dict[str, Any] = {"_shardsvrCreateCollection": collection, "shardKey": key, "unique": unique,
                                   "databaseVersion": entry["version"]}
        if initial_chunks:
            command["numInitialChunks"] = initial_chunks
        self.admin_command(self.shard_clients[entry["primary"]], command, database=database)

    def move_range(self, namespace: str, low: dict[str, Any], high: dict[str, Any], to_shard: str) -> None:
        """What mongos does for moveRange: the donor shard moves [low, high) and its documents."""
        entry = self.config_client.config.collections.find_one({"_id": namespace})
        chunks = self.config_client.config.chunks
        owner = chunks.find_one({"uuid": entry["uuid"], "min": {"$lte": low}}, sort=[("min", -1)])["shard"]
        self.admin_command(self.shard_clients[owner], {
            "_shardsvrMoveRange": namespace, "toShard": to_shard, "fromShard": owner, "min": low, "max": high,
            "waitForDelete": True, "epoch": entry["lastmodEpoch"], "maxChunkSizeBytes": 200 * 1024 * 1024,
            "forceJumbo": 0, "secondaryThrottle": False,
        })
