"""Cluster facts without a live cluster: a snapshot file, or the tables a fresh cluster would create."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from collections.abc import Callable, Iterable, Mapping, Sequence

import bson
from bson import json_util

from ..errors import brief
from ..files import InvalidJson, parse_json_object, read_text, write_text
from ..model.declaration import ShardSpec
from ..routing.balancer import collection_status
from ..routing.balancing_state import BalancingState, ChunkState, CollectionState, ShardState, bound_position
from ..routing.balancer_settings import read_balancer_settings
from ..routing.splitting import ZoneRange, initial_chunks
from ..routing.table import RoutingError, RoutingTable
from ..routing.writes import check_server_version
from .source import (
    BalancerState,
    ChunkCount,
    ChunkSummary,
    ClusterSource,
    DatabaseInfo,
    RouterInfo,
    ShardData,
    ShardInfo,
    SourceError,
    balancer_state,
)

__all__ = ["SnapshotSource", "PredictedSource", "write_snapshot", "snapshot_text", "is_snapshot", "DEFAULT_SHARDS",
           "DEFAULT_SERVER_VERSION"]

SNAPSHOT_FORMAT = "mongoshard-snapshot"
# 2 adds "balancing": what the balancer decides from (settings, shards' draining and zones, per collection the data
# per shard, chunk size, zones, flags, jumbo chunks), so that 'balance' and 'balance --plan' work offline.  The JSON
# Schema ships as mongoshard/cluster/snapshot.schema.json.  Version 1 files still read (no verdict, no plan).
SNAPSHOT_VERSION = 2
DEFAULT_SHARDS = ("shard0", "shard1")
# Predictions are for the version a new cluster runs (8.0, the LTS release compose renders) unless told otherwise.
DEFAULT_SERVER_VERSION = (8, 0)


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

    def collection_statuses(self, namespaces: Sequence[str], data: Mapping[str, Mapping[str, ShardData]] | None = None,
                            summaries: Mapping[str, ChunkSummary] | None = None) -> dict[str, str]:
        """Decided on the balancing state the source holds (a snapshot's), whose data figures it already carries."""
        state = self.balancing_state(namespaces)
        return {c.namespace: collection_status(state.shards, c) for c in state.collections} if state else {}

    def balancer(self) -> BalancerState:
        return BalancerState()

    def balancing_state(self, namespaces: Sequence[str]) -> BalancingState | None:
        """No data figures offline: the balancer's decision cannot be predicted from chunks alone."""
        return None

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


class SnapshotSource(_TableFacts):
    """A snapshot file written by ``write_snapshot`` (or a single routing table document)."""

    def __init__(self, path: str | Path) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise SourceError(f"a snapshot is read from a file path, not {path!r:.60}")
        self.path = Path(path)
        document = _load_json(self.path)
        if "namespace" in document:  # a single table
            document = {"shards": None, "collections": [document]}
        if not isinstance(document.get("collections"), list):
            raise SourceError(f"{self.path} is not a mongoshard snapshot: it has no 'collections' list")
        shards = document.get("shards")
        if shards is not None and not (isinstance(shards, list) and all(isinstance(s, str) for s in shards)):
            raise SourceError(f"{self.path} is not a mongoshard snapshot: 'shards' must be a list of shard names")
        try:
            tables = [RoutingTable.from_document(c) for c in document["collections"]]
        except RoutingError as exc:
            raise SourceError(f"{self.path}: {exc}") from None
        except (TypeError, ValueError, AttributeError) as exc:  # values of the wrong types where tables need documents
            raise SourceError(f"{self.path} is not a mongoshard snapshot ({brief(exc)}); "
                              "write it with 'mongoshard snapshot'") from None
        self._tables = {t.namespace: t for t in tables}
        if len(self._tables) != len(tables):
            twice = next(t.namespace for t in tables if sum(u.namespace == t.namespace for u in tables) > 1)
            raise SourceError(f"{self.path} holds two routing tables for {twice}; keep one (write it with 'mongoshard snapshot')")
        self._shards = sorted(shards or {s for t in tables for s in t.shards})
        if document.get("version", 1) not in (1, 2) or isinstance(document.get("version"), bool):
            raise SourceError(f"{self.path} is snapshot format version {document.get('version')!r:.20}; this mongoshard "
                              "reads versions 1 and 2: upgrade mongoshard or write the file again")
        self._balancing = document.get("balancing")
        if self._balancing is not None:
            try:
                self.balancing_state(self.sharded_namespaces())
                listed = sorted(shard["name"] for shard in self._balancing["shards"])
                if shards is not None and listed != sorted(shards):
                    raise SourceError(f"'balancing.shards' lists {', '.join(listed) or 'no shard'}, but the snapshot's "
                                      f"'shards' lists {', '.join(sorted(shards)) or 'no shard'}")
            except SourceError as exc:
                raise SourceError(f"{self.path}: {exc}; see mongoshard/cluster/snapshot.schema.json") from None
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise SourceError(f"{self.path}: its 'balancing' section does not fit the snapshot schema ({brief(exc)}); "
                                  "see mongoshard/cluster/snapshot.schema.json") from None

    def balancing_state(self, namespaces: Sequence[str]) -> BalancingState | None:
        """The balancing section of a version 2 snapshot; None for version 1 (no data figures)."""
        if self._balancing is None:
            return None
        return state_from_document(self._balancing, {ns: self._tables[ns] for ns in namespaces if ns in self._tables})

    def data_distribution(self, namespaces: Sequence[str]) -> dict[str, dict[str, ShardData]]:
        """The bytes per shard a version 2 snapshot recorded (no document counts)."""
        entries = (self._balancing or {}).get("collections", {})
        return {ns: {shard: ShardData(None, size) for shard, size in entries[ns]["data_bytes"].items()}
                for ns in namespaces if ns in entries}

    def balancer(self) -> BalancerState:
        if self._balancing is None:
            return BalancerState()
        return balancer_state(self._balancing.get("balancer"), inside=self._balancing.get("in_window"))

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

    def __init__(self, specs: Iterable[ShardSpec], shards: Sequence[str] = DEFAULT_SHARDS, *,
                 server_version: tuple[int, int] = DEFAULT_SERVER_VERSION) -> None:
        if isinstance(shards, (str, bytes)) or not all(isinstance(name, str) and name for name in shards):
            # a string would be read one character at a time: one shard per letter
            raise SourceError(f"the shards of a predicted cluster are a list of names such as ['shard0', 'shard1'], "
                              f"not {shards!r:.60}")
        if not shards:
            raise SourceError("a predicted cluster needs at least one shard")
        check_server_version(server_version)
        if isinstance(specs, (str, bytes, Mapping)) or not isinstance(specs, Iterable):
            raise SourceError("a predicted cluster is built from ShardSpecs, such as discover('myapp.models') returns")
        specs = list(specs)
        if not all(isinstance(spec, ShardSpec) for spec in specs):
            raise SourceError("a predicted cluster is built from ShardSpecs, such as discover('myapp.models') returns")
        if twice := sorted({name for name in shards if list(shards).count(name) > 1}):
            raise SourceError(f"a predicted cluster names each shard once; {twice[0]} is listed twice")
        self._specs = {spec.namespace: spec for spec in specs}
        if len(self._specs) != len(specs):
            again = next(spec.namespace for spec in specs if sum(s.namespace == spec.namespace for s in specs) > 1)
            raise SourceError(f"a predicted cluster takes one ShardSpec per namespace; {again} is declared twice")
        self._shards = list(shards)
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


def snapshot_text(source: ClusterSource, namespaces: Sequence[str] | None = None) -> str:
    """Shards and routing tables as a snapshot file's text (MongoDB Extended JSON, types kept)."""
    chosen = namespaces or source.sharded_namespaces()
    document = {
        "format": SNAPSHOT_FORMAT,
        "version": SNAPSHOT_VERSION,
        "shards": source.shard_names(),
        "collections": [source.routing_table(ns).to_document() for ns in chosen],
    }
    state = source.balancing_state(chosen)
    if state is not None:
        document["balancing"] = balancing_document(state)
    return json_util.dumps(document, json_options=json_util.CANONICAL_JSON_OPTIONS, indent=1) + "\n"


def write_snapshot(source: ClusterSource, path: str | Path, namespaces: Sequence[str] | None = None, *,
                   force: bool = False) -> Path:
    """Save shards and routing tables to a snapshot file; an earlier snapshot is replaced, any other file only with ``force``."""
    return write_text(path, snapshot_text(source, namespaces), "the snapshot", ours=is_snapshot, force=force)


def is_snapshot(existing: str) -> bool:
    """Whether an existing file is a snapshot mongoshard wrote (and may therefore replace)."""
    return f'"format": "{SNAPSHOT_FORMAT}"' in existing[:200]


def _load_json(path: Path) -> Mapping[str, Any]:
    text = read_text(path, "the snapshot file", hint="write one with 'mongoshard snapshot'")
    try:
        document = parse_json_object(text)
    except InvalidJson as exc:
        raise SourceError(f"{path} {exc}; write it with 'mongoshard snapshot'") from None
    try:
        bson.encode(document)  # chunk bounds must be values a config server could hold
    except Exception as exc:
        raise SourceError(f"{path} holds values no cluster could ({brief(exc)}); write it with 'mongoshard snapshot'") from None
    return document


def balancing_document(state: BalancingState) -> dict[str, Any]:
    """A BalancingState as a snapshot's "balancing" section (chunks themselves are the routing tables')."""
    settings = state.settings
    window = None if settings.window is None else {"start": f"{settings.window[0] // 60}:{settings.window[0] % 60:02d}",
                                                   "stop": f"{settings.window[1] // 60}:{settings.window[1] % 60:02d}"}
    return {
        "balancer": {"mode": settings.mode, **({"activeWindow": window} if window else {})},
        "in_window": state.in_window,
        "shards": [{"name": s.name, "draining": s.draining, "zones": sorted(s.zones)} for s in state.shards],
        "collections": {c.namespace: {
            "data_bytes": dict(c.data_bytes),
            "max_chunk_size_bytes": c.max_chunk_size_bytes,
            "zones": [{"name": z.name, "min": z.min, "max": z.max} for z in c.zones],
            "flags": dict(c.flags),
            "jumbo": [chunk.min for chunk in c.chunks if chunk.jumbo],
        } for c in state.collections},
    }


def _check_balancing(document: Any) -> None:
    """What snapshot.schema.json says of the "balancing" section, checked as strictly (a wrong type or a negative size
    would plan nonsense): one sentence naming the field."""
    def refuse(where: str, what: str) -> None:
        raise SourceError(f"its 'balancing' section does not fit the snapshot schema: {where} {what}")

    def whole(value: Any, low: int) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= low

    if not isinstance(document, Mapping) or not isinstance(document.get("shards"), list) \
            or not isinstance(document.get("collections"), Mapping):
        refuse("the section", "needs 'shards' (a list) and 'collections' (a document by namespace)")
    names = []
    for shard in document["shards"]:
        if not isinstance(shard, Mapping) or not isinstance(shard.get("name"), str) or not shard["name"]:
            refuse("each shard", "needs a 'name'")
        if not isinstance(shard.get("draining", False), bool):
            refuse(f"shard {shard['name']}:", "'draining' must be true or false")
        if not isinstance(shard.get("zones", []), list) or not all(isinstance(z, str) for z in shard.get("zones", [])):
            refuse(f"shard {shard['name']}:", "'zones' must be a list of zone names")
        names.append(shard["name"])
    if len(set(names)) != len(names):
        refuse("'shards'", f"names {next(n for n in names if names.count(n) > 1)} twice")
    for namespace, entry in document["collections"].items():
        if not isinstance(entry, Mapping) or not isinstance(entry.get("data_bytes"), Mapping):
            refuse(f"{namespace}:", "needs 'data_bytes', the bytes per shard")
        if not all(isinstance(k, str) and whole(v, 0) for k, v in entry["data_bytes"].items()):
            refuse(f"{namespace}:", "'data_bytes' must map shard names to whole numbers of bytes, 0 or more")
        if unknown := sorted(set(entry["data_bytes"]) - set(names)):
            refuse(f"{namespace}:", f"'data_bytes' names {unknown[0]}, which 'shards' does not list")
        if not whole(entry.get("max_chunk_size_bytes"), 1):
            refuse(f"{namespace}:", "'max_chunk_size_bytes' must be a whole number of bytes, at least 1")
        zones = entry.get("zones", [])
        if not isinstance(zones, list) or not all(isinstance(z, Mapping) and isinstance(z.get("name"), str) and z["name"]
                                                  and isinstance(z.get("min"), Mapping) and isinstance(z.get("max"), Mapping)
                                                  for z in zones):
            refuse(f"{namespace}:", "'zones' must be a list of {name, min, max} with documents for min and max")
        flags = entry.get("flags", {})
        if not isinstance(flags, Mapping) or not all(isinstance(v, bool) for v in flags.values()):
            refuse(f"{namespace}:", "'flags' must map each flag to true or false")
    if not isinstance(document.get("in_window"), (bool, type(None))):
        refuse("'in_window'", "must be true, false or null")


def _check_against_tables(document: Mapping[str, Any], tables: Mapping[str, RoutingTable]) -> None:
    """What the server's own metadata guarantees and a hand-written file may break: every chunk on a listed shard,
    jumbo bounds that start a chunk, and zones that do not overlap (``RangeOverlapConflict``: the server refuses
    ``updateZoneKeyRange`` for a range that overlaps another zone's)."""
    def refuse(where: str, what: str) -> None:
        raise SourceError(f"its 'balancing' section does not fit the routing tables: {where} {what}")

    names = {shard["name"] for shard in document["shards"]}
    for namespace, table in sorted(tables.items()):
        entry = document["collections"].get(namespace)
        if entry is None:
            continue
        if unknown := sorted({chunk.shard for chunk in table.chunks} - names):
            refuse(f"{namespace}:", f"a chunk is on {unknown[0]}, which 'balancing.shards' does not list")
        starts = {repr(sorted(chunk.min.items())) for chunk in table.chunks}
        for bound in entry.get("jumbo", ()):
            if repr(sorted(dict(bound).items())) not in starts:
                refuse(f"{namespace}:", f"the jumbo bound {json_util.dumps(bound)} is not the lower bound of any chunk")
        key = list(table.key)
        zones = sorted(((bound_position(z["min"], key), bound_position(z["max"], key), z["name"])
                        for z in entry.get("zones", ())),
                       key=lambda zone: zone[:2])
        for low, high, name in zones:
            if not low < high:
                refuse(f"{namespace}:", f"zone {name} has a min that is not below its max")
        for (_, high, name), (low, _, following) in zip(zones, zones[1:]):
            if low < high:
                refuse(f"{namespace}:", f"zones {name} and {following} overlap, which the server refuses (RangeOverlapConflict)")


def state_from_document(document: Mapping[str, Any], tables: Mapping[str, RoutingTable]) -> BalancingState:
    """A snapshot's "balancing" section, with the routing tables' chunks, as the balancer's input."""
    _check_balancing(document)
    _check_against_tables(document, tables)
    shards = tuple(ShardState(str(s["name"]), bool(s.get("draining", False)), frozenset(str(z) for z in s.get("zones", ())))
                   for s in document["shards"])
    collections = []
    for namespace, table in sorted(tables.items()):
        entry = document["collections"].get(namespace)
        if entry is None:
            continue
        jumbo = {repr(sorted(dict(bound).items())) for bound in entry.get("jumbo", ())}
        chunks = tuple(ChunkState(c.min, c.max, c.shard, repr(sorted(c.min.items())) in jumbo) for c in table.chunks)
        collections.append(CollectionState(
            namespace, dict(table.key), chunks, {str(k): int(v) for k, v in entry["data_bytes"].items()},
            int(entry["max_chunk_size_bytes"]),
            tuple(ZoneRange(str(z["name"]), dict(z["min"]), dict(z["max"]), ()) for z in entry.get("zones", ())),
            dict(entry.get("flags", {})),
        ))
    balancer = document.get("balancer") or {}
    return BalancingState(shards, tuple(collections), read_balancer_settings(balancer), document.get("in_window"))
