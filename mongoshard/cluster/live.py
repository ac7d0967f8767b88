"""A live cluster's facts, read from its config database through a router or a config server member."""

from __future__ import annotations

import functools
from dataclasses import replace
from typing import Any
from collections.abc import Callable, Mapping, Sequence

from ..errors import brief
from ..parallel import in_parallel
from ..routing.balancer import BalancingState, ChunkState, CollectionState, ShardState
from ..routing.balancer_settings import BalancerSettings, chunk_size_bytes, in_window, read_balancer_settings
from ..routing.splitting import ZoneRange
from ..routing.table import RoutingTable
from .source import (BalancerState, ChunkCount, ChunkSummary, ClusterSource, DatabaseInfo, RouterInfo, ShardData, ShardInfo,
                     SourceError, balancer_state)

__all__ = ["ConfigDatabaseSource", "SHARDED_FILTER", "as_source"]

# What "sharded" means in config.collections: not dropped (before 5.0), and not one of 8.0's tracked unsharded
# collections (unsplittable: true, after moveCollection or unshardCollection; SERVER-84637), which the server's own
# code leaves out the same way when it means sharded collections.
SHARDED_FILTER = {"dropped": {"$ne": True}, "unsplittable": {"$ne": True}}
# Reads of the config server in flight at once for a summary: enough to keep a few of its cores busy, far below
# a connection pool's 100.
_PARALLEL_READS = 4


class ConfigDatabaseSource:
    """A live cluster, through a router or a config server member.

    Metadata comes from the config database.  Data per shard comes from the
    router's ``$shardedDataDistribution`` (6.0.3+), or, reached through a config
    server (no router), from each shard's own ``$collStats``, connecting to the
    shards recorded in ``config.shards`` with ``shard_options`` (credentials).
    """

    def __init__(self, client_or_config_db: Any, *, shard_options: Mapping[str, Any] | None = None) -> None:
        from pymongo.database import Database

        # A config database (of any name, e.g. a copy for benchmarks) or a client holding one.
        database = client_or_config_db
        if not isinstance(database, Database):
            database = client_or_config_db["config"]
        self._config = database
        self._shard_options = dict(shard_options or {})
        self._router: bool | None = None
        # Given a database, the caller says it holds config metadata (a copy, for benchmarks); a client is checked.
        self._checked = database is client_or_config_db

    @property
    def client(self) -> Any:
        """The pymongo client this source reads through (a router's or a config server's)."""
        return self._config.client

    @property
    def shard_options(self) -> dict[str, Any]:
        return dict(self._shard_options)

    def is_router(self) -> bool:
        if self._router is None:
            self._router = self._query(lambda: self.client.admin.command("hello")).get("msg") == "isdbgrid"
        return self._router

    def _check_cluster(self) -> None:
        """A mongos answers hello with msg "isdbgrid", a config server member with configsvr: 2; anything else (a
        standalone mongod, a shard) has no cluster metadata to read, and saying so beats reporting an empty cluster."""
        if self._checked:
            return
        hello = self._query(lambda: self.client.admin.command("hello"))
        self._router = hello.get("msg") == "isdbgrid"
        if not self._router and "configsvr" not in hello:
            kind = f"a member of replica set {hello['setName']}" if hello.get("setName") else "a standalone server"
            raise SourceError(f"this server is {kind}, not a mongos or a config server member, so it holds no cluster "
                              "metadata; give the URI of a mongos (or of a config server member)")
        self._checked = True

    def chunk_summary(self, namespaces: Sequence[str]) -> dict[str, ChunkSummary]:
        """Counted by the server: no chunk document but each top one reaches the client.  Chunks per shard are counts
        on the config server's {uuid: 1, shard: 1, min: 1} index (``ShardingCatalogManager`` creates it with
        uuid_1_min_1 and uuid_1_lastmod_1), jumbo chunks one pass of a {jumbo: true} match (no index has it), which is
        several times cheaper than one $group summing a $cond.  The reads go out a few at a time: nearly all of the
        time is the config server's, 200 counts at a million chunks (benchmarks/balance.py)."""
        query = {"_id": {"$in": list(namespaces)}, **SHARDED_FILTER}
        found = self._read(list, self._config.collections.find(query, {"uuid": 1, "key": 1}))
        collections = {doc["uuid"]: doc for doc in found}
        shard_names = self.shard_names()
        pairs = [(uuid, shard) for uuid in collections for shard in shard_names]
        reads: list[Callable[[], Any]] = [self._jumbo_counts]
        reads += [functools.partial(self._read, self._config.chunks.count_documents, {"uuid": uuid, "shard": shard})
                  for uuid, shard in pairs]
        reads += [functools.partial(self._top_shard, uuid) for uuid in collections]
        answers = in_parallel(lambda read: read(), reads, workers=_PARALLEL_READS)
        jumbo, counts, tops = answers[0], dict(zip(pairs, answers[1:1 + len(pairs)])), answers[1 + len(pairs):]
        return {doc["_id"]: ChunkSummary(dict(doc["key"]), {shard: ChunkCount(counts[uuid, shard], jumbo.get((uuid, shard), 0))
                                                            for shard in shard_names if counts[uuid, shard]}, top)
                for (uuid, doc), top in zip(collections.items(), tops)}

    def _jumbo_counts(self) -> dict[tuple[Any, str], int]:
        return {(row["_id"]["uuid"], row["_id"]["shard"]): row["jumbo"] for row in self._read(lambda: list(
            self._config.chunks.aggregate([{"$match": {"jumbo": True}},
                                           {"$group": {"_id": {"uuid": "$uuid", "shard": "$shard"}, "jumbo": {"$sum": 1}}}])))}

    def _top_shard(self, uuid: Any) -> str | None:
        # The config server's {uuid: 1, min: 1} index answers this without a scan.
        top = self._read(lambda: self._config.chunks.find_one({"uuid": uuid}, {"shard": 1}, sort=[("min", -1)]))
        return top["shard"] if top else None

    def data_distribution(self, namespaces: Sequence[str]) -> dict[str, dict[str, ShardData]]:
        if self.is_router():
            return self._read(lambda: self._router_distribution(namespaces))
        return self._read(lambda: self._shard_statistics(namespaces))

    def _router_distribution(self, namespaces: Sequence[str]) -> dict[str, dict[str, ShardData]]:
        from pymongo.errors import OperationFailure

        try:
            rows = list(self.client.admin.aggregate([{"$shardedDataDistribution": {}},
                                                      {"$match": {"ns": {"$in": list(namespaces)}}}]))
        except OperationFailure:  # before 6.0.3: each shard's statistics, gathered by the router
            return {ns: _collection_statistics(self.client, ns) for ns in namespaces}
        found = {row["ns"]: {s["shardName"]: ShardData(s["numOwnedDocuments"], s["ownedSizeBytes"], s.get("numOrphanedDocs", 0))
                             for s in row["shards"]} for row in rows}
        return {ns: found.get(ns, {}) for ns in namespaces}

    def _shard_statistics(self, namespaces: Sequence[str]) -> dict[str, dict[str, ShardData]]:
        from .connection import reading_shard, shard_client

        result: dict[str, dict[str, ShardData]] = {ns: {} for ns in namespaces}
        for shard in self.shards():
            with shard_client(shard.host or "", **self._shard_options) as client, reading_shard(shard.name, shard.host):
                for namespace in namespaces:
                    result[namespace].update(_collection_statistics(client, namespace, shard.name))
        return result

    def balancer(self) -> BalancerState:
        document = self._read(lambda: self._config.settings.find_one({"_id": "balancer"})) or {}
        settings = read_balancer_settings(document)
        window = isinstance(document.get("activeWindow"), dict)
        running = None
        if self.is_router():
            running = bool(self._read(lambda: self.client.admin.command("balancerStatus")).get("inBalancerRound"))
        # the window is compared with the config server primary's clock (Balancer runs there), not this machine's
        now = self._read(lambda: self.client.admin.command("hello").get("localTime")) if window else None
        inside = in_window(settings, now) if window and now is not None and settings.problem is None else None
        return balancer_state(document, running=running, inside=inside)

    def balancing_state(self, namespaces: Sequence[str]) -> BalancingState:
        """What the balancer decides from, read from the config database (shards' draining and zones, the
        collections' chunks with jumbo flags, zones, flags and maxChunkSizeBytes, the balancer and chunk size
        settings) and the data per shard (``data_distribution``), on the config server's clock."""
        shards, settings, collections = self._balancing_inputs(namespaces, None)
        projection = {"min": 1, "max": 1, "shard": 1, "jumbo": 1, "_id": 0}
        with_chunks = tuple(replace(collection, chunks=tuple(
            ChunkState(c["min"], c["max"], c["shard"], bool(c.get("jumbo")))
            for c in self._read(list, self._config.chunks.find(selector, projection, sort=[("min", 1)]))))
            for collection, selector in collections)
        now = self._read(lambda: self.client.admin.command("hello").get("localTime"))
        inside = in_window(settings, now) if now is not None and settings.problem is None else None
        return BalancingState(shards, with_chunks, settings, inside)

    def collection_statuses(self, namespaces: Sequence[str], data: Mapping[str, Mapping[str, ShardData]] | None = None,
                            summaries: Mapping[str, ChunkSummary] | None = None) -> dict[str, str]:
        """balancerCollectionStatus of each collection, decided on the config server's counts (``chunk_digest``)
        rather than on every chunk; ``data`` and ``summaries``: what the caller already read, if anything."""
        from .chunk_digest import digest_status

        shards, _, collections = self._balancing_inputs(namespaces, data)
        statuses = {}
        for collection, selector in collections:
            summary = (summaries or {}).get(collection.namespace)
            per_shard = {shard: count.chunks for shard, count in summary.per_shard.items()} if summary else None
            statuses[collection.namespace] = digest_status(self._config.chunks, self._read, shards, collection, selector,
                                                           per_shard)
        return statuses

    def _balancing_inputs(self, namespaces: Sequence[str], data: Mapping[str, Mapping[str, ShardData]] | None
                          ) -> tuple[tuple[ShardState, ...], BalancerSettings, list[tuple[CollectionState, dict[str, Any]]]]:
        """Shards, balancer settings, and each collection without its chunks, with the config.chunks selector of them."""
        from bson import MaxKey

        shards = tuple(ShardState(d["_id"], bool(d.get("draining")), frozenset(d.get("tags", ())))
                       for d in self._read(lambda: list(self._config.shards.find().sort("_id"))))
        documents = {d["_id"]: d for d in self._read(lambda: list(self._config.settings.find(
            {"_id": {"$in": ["balancer", "chunksize"]}})))}
        default_size = chunk_size_bytes(documents.get("chunksize"))
        query = {"_id": {"$in": list(namespaces)}, **SHARDED_FILTER}
        entries = self._read(lambda: list(self._config.collections.find(query)))
        if data is None:
            data = self.data_distribution([e["_id"] for e in entries])
        collections = []
        for entry in sorted(entries, key=lambda e: e["_id"]):
            tags = self._read(list, self._config.tags.find({"ns": entry["_id"]}, sort=[("min", 1)]))
            per_shard = data.get(entry["_id"], {})
            collections.append((CollectionState(
                entry["_id"], dict(entry["key"]), (),
                {shard.name: per_shard[shard.name].bytes if shard.name in per_shard else 0 for shard in shards},
                int(entry.get("maxChunkSizeBytes") or default_size),
                tuple(ZoneRange(t["tag"], dict(t["min"]), dict(t["max"]), ()) for t in tags
                      if not isinstance(t.get("min"), MaxKey)),
                {k: entry[k] for k in ("noBalance", "allowMigrations", "permitMigrations", "defragmentCollection") if k in entry},
            ), {"uuid": entry["uuid"]} if "uuid" in entry else {"ns": entry["_id"]}))
        return shards, read_balancer_settings(documents.get("balancer")), collections

    def collection_balancer_status(self, namespace: str) -> dict[str, Any] | None:
        if not self.is_router():
            return None
        reply = self._read(lambda: self.client.admin.command("balancerCollectionStatus", namespace))
        return {k: v for k, v in reply.items() if k in ("balancerCompliant", "firstComplianceViolation", "chunkSize")}

    def shards(self) -> list[ShardInfo]:
        found = self._read(lambda: list(self._config.shards.find().sort("_id")))
        return [ShardInfo(d["_id"], d.get("host"), d.get("state"), tuple(d.get("tags", ()))) for d in found]

    def routers(self) -> list[RouterInfo]:
        found = self._read(lambda: list(self._config.mongos.find().sort("_id")))
        return [RouterInfo(d["_id"], d.get("mongoVersion"), d.get("ping")) for d in found]

    def databases(self) -> list[DatabaseInfo]:
        found = self._read(lambda: list(self._config.databases.find().sort("_id")))
        return [DatabaseInfo(d["_id"], d.get("primary")) for d in found]

    def server_version(self) -> str | None:
        return self._read(lambda: self.client.server_info()).get("version")

    def shard_names(self) -> list[str]:
        return sorted(doc["_id"] for doc in self._read(lambda: list(self._config.shards.find({}, {"_id": 1}))))

    def sharded_namespaces(self) -> list[str]:
        query = {"_id": {"$ne": "config.system.sessions"}, **SHARDED_FILTER}
        return sorted(doc["_id"] for doc in self._read(lambda: list(self._config.collections.find(query, {"_id": 1}))))

    def routing_table(self, namespace: str) -> RoutingTable:
        collection = self._read(lambda: self._config.collections.find_one({"_id": namespace}))
        if collection is None or collection.get("dropped") or collection.get("unsplittable"):
            raise SourceError(f"{namespace} is not a sharded collection in this cluster; check the name or shard it first")
        # Since 5.0 chunks name their collection by uuid; before, by namespace.
        selector = {"uuid": collection["uuid"]} if "uuid" in collection else {"ns": namespace}
        projection = {"min": 1, "max": 1, "shard": 1, "_id": 0}
        chunks = self._read(lambda: list(self._config.chunks.find(selector, projection)))
        return RoutingTable(namespace, collection["key"], chunks, unique=bool(collection.get("unique")))

    def _read(self, query: Callable[..., Any], *arguments: Any, **options: Any) -> Any:
        """``query(*arguments, **options)``, on a cluster checked to hold metadata, with its errors in one sentence."""
        self._check_cluster()
        return self._query(query, *arguments, **options)

    def _query(self, query: Callable[..., Any], *arguments: Any, **options: Any) -> Any:
        from pymongo.errors import PyMongoError

        try:
            return query(*arguments, **options)
        except PyMongoError as exc:
            raise SourceError(
                f"Cannot read the config database: {brief(exc)}; "
                "check the address and that the cluster is up"
            ) from None


def _collection_statistics(client: Any, namespace: str, shard: str | None = None) -> dict[str, ShardData]:
    """``$collStats`` of one collection: one row per shard through a router, one row on a shard itself."""
    from pymongo.errors import OperationFailure

    database, collection = namespace.split(".", 1)
    pipeline = [{"$collStats": {"storageStats": {}}},
                {"$project": {"shard": 1, "storageStats.count": 1, "storageStats.size": 1, "storageStats.numOrphanDocs": 1}}]
    try:
        rows = list(client[database][collection].aggregate(pipeline))
    except OperationFailure as exc:
        if exc.code == 26:  # NamespaceNotFound: the shard holds none of it
            return {shard: ShardData(0, 0)} if shard else {}
        raise
    result = {}
    for row in rows:
        stats = row["storageStats"]
        orphans = stats.get("numOrphanDocs", 0)
        owned = stats["count"] - orphans
        size = int(stats["size"] * owned / stats["count"]) if stats["count"] else 0
        result[shard or row["shard"]] = ShardData(owned, size, orphans)
    return result


def as_source(source: Any) -> ClusterSource:
    """``source`` itself, or a pymongo client (a mongos or a config server) read as a ConfigDatabaseSource.  Not by
    ``isinstance(source, ClusterSource)`` alone: a MongoClient answers every attribute with a Database, so it passes
    for any protocol."""
    from pymongo import MongoClient

    if isinstance(source, MongoClient) or not isinstance(source, ClusterSource):
        return ConfigDatabaseSource(source)
    return source
