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

from pathlib import Path
from typing import Any, Iterable, Mapping, Protocol, Sequence, runtime_checkable

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
]

SNAPSHOT_FORMAT = "mongoshard-snapshot"
SNAPSHOT_VERSION = 1
DEFAULT_SHARDS = ("shard0", "shard1")


class SourceError(MongoshardError):
    """Cluster facts could not be read."""


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


class ConfigDatabaseSource:
    """A live config database: ``config.collections``, ``config.chunks``, ``config.shards``."""

    def __init__(self, client_or_config_db: Any) -> None:
        database = client_or_config_db
        if not hasattr(database, "list_collection_names") or getattr(database, "name", None) != "config":
            database = client_or_config_db["config"]
        self._config = database

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


class SnapshotSource:
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


class PredictedSource:
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
