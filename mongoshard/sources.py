"""Where cluster facts come from: one small interface, several transports.

Routing, reports and advice ask a ``ClusterSource`` for shards and routing
tables and never learn which one they got:

* ``ConfigDatabaseSource`` reads a live config database (through a router or a
  config server member);
* ``SnapshotSource`` reads a saved snapshot file, for offline work;
* ``PredictedSource`` derives the tables a fresh cluster would create from the
  declared specs, for predictions before anything is sharded.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Protocol, Sequence, runtime_checkable

from bson import json_util

from .declaration import ShardSpec
from .errors import MongoshardError, redact_uri
from .routing import RoutingError, RoutingTable
from .splitting import initial_chunks

__all__ = [
    "ClusterSource",
    "ConfigDatabaseSource",
    "SnapshotSource",
    "PredictedSource",
    "SourceError",
    "write_snapshot",
    "DEFAULT_SHARDS",
    "ChunkCount",
    "ChunkSummary",
    "ShardData",
    "BalancerState",
    "ShardInfo",
    "RouterInfo",
]

SNAPSHOT_FORMAT = "mongoshard-snapshot"
SNAPSHOT_VERSION = 1
DEFAULT_SHARDS = ("shard0", "shard1")


class SourceError(MongoshardError):
    """Cluster facts could not be read."""


@dataclass(frozen=True)
class ChunkCount:
    chunks: int
    jumbo: int = 0


@dataclass(frozen=True)
class ChunkSummary:
    """A collection's chunks in figures: enough for reports, without its routing table."""

    key: dict[str, Any]
    per_shard: dict[str, ChunkCount]
    top_shard: str | None  # owner of the chunk that ends at MaxKey, where increasing keys land


@dataclass(frozen=True)
class ShardData:
    """A collection's documents and bytes owned by one shard (orphans excluded where the server tells them apart)."""

    documents: int
    bytes: int
    orphans: int = 0


@dataclass(frozen=True)
class BalancerState:
    """What is known about the balancer; None where the source cannot tell."""

    enabled: bool | None = None
    running: bool | None = None
    window: tuple[str, str] | None = None
    in_window: bool | None = None


@dataclass(frozen=True)
class ShardInfo:
    name: str
    host: str | None = None
    state: int | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class RouterInfo:
    name: str
    version: str | None = None
    last_ping: datetime.datetime | None = None


@dataclass(frozen=True)
class DatabaseInfo:
    name: str
    primary: str | None = None


@runtime_checkable
class ClusterSource(Protocol):
    """Facts about a sharded cluster, wherever they are read from."""

    def shard_names(self) -> list[str]:
        """Every shard of the cluster, sorted."""
        ...

    def sharded_namespaces(self) -> list[str]:
        """Every sharded collection, sorted."""
        ...

    def routing_table(self, namespace: str) -> RoutingTable:
        """The collection's routing table; SourceError when it is not sharded."""
        ...

    def chunk_summary(self, namespaces: Sequence[str]) -> dict[str, ChunkSummary]:
        """Key, chunks (and jumbo chunks) per shard, and the top chunk's shard, for each sharded collection."""
        ...

    def data_distribution(self, namespaces: Sequence[str]) -> dict[str, dict[str, ShardData]]:
        """Documents and bytes per shard for each collection; empty where the source has no data."""
        ...

    def balancer(self) -> BalancerState:
        ...

    def collection_balancer_status(self, namespace: str) -> dict[str, Any] | None:
        """The server's ``balancerCollectionStatus`` (a router only), else None."""
        ...

    def shards(self) -> list[ShardInfo]:
        ...

    def routers(self) -> list[RouterInfo]:
        ...

    def databases(self) -> list[DatabaseInfo]:
        ...

    def server_version(self) -> str | None:
        ...


class _TableFacts:
    """Facts derived from routing tables alone, for sources without a live cluster behind them."""

    shard_names: Callable[[], list[str]]
    sharded_namespaces: Callable[[], list[str]]
    routing_table: Callable[[str], RoutingTable]

    def chunk_summary(self, namespaces: Sequence[str]) -> dict[str, ChunkSummary]:
        summaries = {}
        for namespace in namespaces:
            table = self.routing_table(namespace)
            per_shard: dict[str, int] = {}
            for chunk in table.chunks:
                per_shard[chunk.shard] = per_shard.get(chunk.shard, 0) + 1
            summaries[namespace] = ChunkSummary(dict(table.key), {shard: ChunkCount(n) for shard, n in per_shard.items()},
                                                table.chunks[-1].shard)
        return summaries

    def data_distribution(self, namespaces: Sequence[str]) -> dict[str, dict[str, ShardData]]:
        return {}

    def balancer(self) -> BalancerState:
        return BalancerState()

    def collection_balancer_status(self, namespace: str) -> dict[str, Any] | None:
        return None

    def shards(self) -> list[ShardInfo]:
        return [ShardInfo(name) for name in self.shard_names()]

    def routers(self) -> list[RouterInfo]:
        return []

    def databases(self) -> list[DatabaseInfo]:
        return [DatabaseInfo(name) for name in sorted({ns.split(".", 1)[0] for ns in self.sharded_namespaces()})]

    def server_version(self) -> str | None:
        return None


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

    @property
    def client(self) -> Any:
        """The pymongo client this source reads through (a router's or a config server's)."""
        return self._config.client

    @property
    def shard_options(self) -> dict[str, Any]:
        return dict(self._shard_options)

    def is_router(self) -> bool:
        if self._router is None:
            self._router = self._read(lambda: self.client.admin.command("hello")).get("msg") == "isdbgrid"
        return self._router

    def chunk_summary(self, namespaces: Sequence[str]) -> dict[str, ChunkSummary]:
        """Counted by the server in one aggregation: no chunk document but each top one reaches the client."""
        query = {"_id": {"$in": list(namespaces)}, "dropped": {"$ne": True}}
        collections = {doc["uuid"]: doc for doc in self._read(lambda: list(self._config.collections.find(query, {"uuid": 1, "key": 1})))}
        pipeline = [
            {"$match": {"uuid": {"$in": list(collections)}}},
            {"$group": {"_id": {"uuid": "$uuid", "shard": "$shard"}, "chunks": {"$sum": 1},
                        "jumbo": {"$sum": {"$cond": [{"$eq": ["$jumbo", True]}, 1, 0]}}}},
        ]
        counts: dict[Any, dict[str, ChunkCount]] = {uuid: {} for uuid in collections}
        for row in self._read(lambda: list(self._config.chunks.aggregate(pipeline))):
            counts[row["_id"]["uuid"]][row["_id"]["shard"]] = ChunkCount(row["chunks"], row["jumbo"])
        return {doc["_id"]: ChunkSummary(dict(doc["key"]), counts[uuid], self._top_shard(uuid))
                for uuid, doc in collections.items()}

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
        from .connection import shard_client

        result: dict[str, dict[str, ShardData]] = {ns: {} for ns in namespaces}
        for shard in self.shards():
            with shard_client(shard.host or "", **self._shard_options) as client:
                for namespace in namespaces:
                    result[namespace].update(_collection_statistics(client, namespace, shard.name))
        return result

    def balancer(self) -> BalancerState:
        settings = self._read(lambda: self._config.settings.find_one({"_id": "balancer"})) or {}
        enabled = settings.get("mode", "full") != "off" and not settings.get("stopped", False)
        window_document = settings.get("activeWindow")
        window = (window_document["start"], window_document["stop"]) if window_document else None
        running = None
        if self.is_router():
            running = bool(self._read(lambda: self.client.admin.command("balancerStatus")).get("inBalancerRound"))
        return BalancerState(enabled, running, window, _inside(window) if window else None)

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
        query = {"_id": {"$ne": "config.system.sessions"}, "dropped": {"$ne": True}}
        return sorted(doc["_id"] for doc in self._read(lambda: list(self._config.collections.find(query, {"_id": 1}))))

    def routing_table(self, namespace: str) -> RoutingTable:
        collection = self._read(lambda: self._config.collections.find_one({"_id": namespace}))
        if collection is None or collection.get("dropped"):
            raise SourceError(f"{namespace} is not a sharded collection in this cluster; check the name or shard it first")
        # Since 5.0 chunks name their collection by uuid; before, by namespace.
        selector = {"uuid": collection["uuid"]} if "uuid" in collection else {"ns": namespace}
        projection = {"min": 1, "max": 1, "shard": 1, "_id": 0}
        chunks = self._read(lambda: list(self._config.chunks.find(selector, projection)))
        return RoutingTable(namespace, collection["key"], chunks, unique=bool(collection.get("unique")))

    def _read(self, query: Any) -> Any:
        from pymongo.errors import PyMongoError

        try:
            return query()
        except PyMongoError as exc:
            raise SourceError(
                f"Cannot read the config database: {redact_uri(str(exc)).splitlines()[0]}; "
                "check the address and that the cluster is up"
            ) from None


class SnapshotSource(_TableFacts):
    """A snapshot file written by ``write_snapshot`` (or a single routing table document)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        document = _load_json(self.path)
        if "namespace" in document:  # a single table
            document = {"shards": None, "collections": [document]}
        if not isinstance(document.get("collections"), list):
            raise SourceError(f"{self.path} is not a mongoshard snapshot: it has no 'collections' list")
        try:
            tables = [RoutingTable.from_document(c) for c in document["collections"]]
        except RoutingError as exc:
            raise SourceError(f"{self.path}: {exc}") from None
        self._tables = {t.namespace: t for t in tables}
        self._shards = sorted(document.get("shards") or {s for t in tables for s in t.shards})

    def shard_names(self) -> list[str]:
        return list(self._shards)

    def sharded_namespaces(self) -> list[str]:
        return sorted(self._tables)

    def routing_table(self, namespace: str) -> RoutingTable:
        try:
            return self._tables[namespace]
        except KeyError:
            known = ", ".join(sorted(self._tables)) or "none"
            raise SourceError(f"{self.path} has no routing table for {namespace} (it has: {known})") from None


class PredictedSource(_TableFacts):
    """The routing tables a fresh cluster would create for the declared specs."""

    def __init__(self, specs: Iterable[ShardSpec], shards: Sequence[str] = DEFAULT_SHARDS, *, server_version: tuple[int, int] = (6, 0)) -> None:
        if not shards:
            raise SourceError("a predicted cluster needs at least one shard")
        self._shards = list(shards)
        self._specs = {spec.namespace: spec for spec in specs}
        self._server_version = server_version

    def shard_names(self) -> list[str]:
        return sorted(self._shards)

    def sharded_namespaces(self) -> list[str]:
        return sorted(self._specs)

    def routing_table(self, namespace: str) -> RoutingTable:
        spec = self._specs.get(namespace)
        if spec is None:
            raise SourceError(f"no declared shard key for {namespace}; declare one on its Document")
        chunks = initial_chunks(
            spec.key,
            self._shards,
            initial_chunk_count=spec.initial_chunks,
            split_points=spec.split_points,
            zones=spec.zone_ranges(),
            server_version=self._server_version,
        )
        return RoutingTable(namespace, spec.key_pattern, chunks, unique=spec.unique)


def write_snapshot(source: ClusterSource, path: str | Path, namespaces: Sequence[str] | None = None) -> Path:
    """Save shards and routing tables to a JSON file (MongoDB Extended JSON, types kept)."""
    chosen = namespaces or source.sharded_namespaces()
    document = {
        "format": SNAPSHOT_FORMAT,
        "version": SNAPSHOT_VERSION,
        "shards": source.shard_names(),
        "collections": [source.routing_table(ns).to_document() for ns in chosen],
    }
    target = Path(path)
    target.write_text(json_util.dumps(document, json_options=json_util.CANONICAL_JSON_OPTIONS, indent=1) + "\n")
    return target


def _load_json(path: Path) -> Mapping[str, Any]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise SourceError(f"Cannot read {path}: {exc.strerror}; check the path") from None
    try:
        document = json_util.loads(text)
    except (ValueError, TypeError) as exc:
        raise SourceError(f"{path} is not valid JSON ({exc}); write it with 'mongoshard snapshot'") from None
    if not isinstance(document, Mapping):
        raise SourceError(f"{path} must hold a JSON object, not {type(document).__name__}")
    return document


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


def _inside(window: tuple[str, str], now: datetime.datetime | None = None) -> bool:
    """Whether the local time is inside a balancer window "HH:MM"-"HH:MM" (which may wrap midnight)."""
    current = (now or datetime.datetime.now()).strftime("%H:%M")
    start, stop = window
    return start <= current < stop if start <= stop else current >= start or current < stop
