"""A collection's routing table and the router's targeting rules, offline.

Like Vitess' vindexes, this module is pure: it knows nothing of where the
chunks came from (a config server, a snapshot file, a prediction), so the
same code answers "which shard owns this document" and "which shards will
this query reach" live or offline.

Targeting follows ``ChunkManager::getShardIdsForQuery``: compute the filter's
index bounds on the shard key (``bounds``), flatten them into key ranges
(``ShardKeyPattern::flattenBounds``), and collect every chunk overlapping each
range with the range's upper end treated as inclusive
(``getShardIdsForRange`` -> ``forEachOverlappingChunk(min, max, true)``).  A
filter that can match nothing still goes to one shard (SERVER-4914).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any, Iterable, Literal, Mapping, Sequence

from ..errors import MongoshardError
from .bounds import HASHED, FieldBounds, QueryBounds, bounds_for_filter
from .filters import validate_filter
from .hashing import hashed_value
from .ordering import MAX_KEY, MIN_KEY, SortKey, sort_key

__all__ = ["Chunk", "RoutingTable", "Targeting", "RoutingError", "TargetKind", "key_text"]

TargetKind = Literal["single-shard", "multi-shard", "scatter-gather"]
# The server refuses to flatten more $in combinations than this (error 17439).
MAX_FLATTENED_COMBINATIONS = 4_000_000


class RoutingError(MongoshardError, ValueError):
    """A routing table or a document that routing cannot work with."""


@dataclass(frozen=True)
class Chunk:
    """[min, max) of full shard key values, as in config.chunks, and the shard owning it."""

    min: dict[str, Any]
    max: dict[str, Any]
    shard: str


@dataclass(frozen=True)
class Targeting:
    """Where the router sends a query, and why."""

    shards: tuple[str, ...]
    kind: TargetKind
    reason: str
    chunks: int = 0


KeyPattern = Mapping[str, Any]


class RoutingTable:
    """One sharded collection: its key pattern and its ordered chunks."""

    def __init__(self, namespace: str, key: KeyPattern, chunks: Iterable[Chunk | Mapping[str, Any]], *, unique: bool = False) -> None:
        self.namespace = namespace
        self.key: dict[str, Any] = dict(key)
        if not self.key:
            raise RoutingError(f"{namespace}: the shard key pattern is empty")
        for name, kind in self.key.items():
            if kind != HASHED and not (isinstance(kind, (int, float)) and not isinstance(kind, bool) and kind == 1):
                raise RoutingError(f"{namespace}: key field {name!r} is {kind!r}; a shard key field is 1 or \"hashed\"")
        self.unique = unique
        self._fields = list(self.key)
        self._paths = [(tuple(name.split(".")), kind == HASHED) for name, kind in self.key.items()]
        ordered = sorted((_as_chunk(c) for c in chunks), key=lambda c: self._key_of(c.min))
        if not ordered:
            raise RoutingError(f"{namespace}: a routing table needs at least one chunk")
        self.chunks: tuple[Chunk, ...] = tuple(ordered)
        self._mins = [self._key_of(c.min) for c in ordered]
        self._maxes = [self._key_of(c.max) for c in ordered]
        self._check_coverage()
        self.shards: tuple[str, ...] = tuple(sorted({c.shard for c in ordered}))

    def _key_of(self, bound: Mapping[str, Any]) -> tuple[SortKey, ...]:
        missing = [name for name in self._fields if name not in bound]
        if missing or len(bound) != len(self._fields):
            raise RoutingError(f"{self.namespace}: chunk bound {dict(bound)} does not match the key {self.key}")
        return tuple(sort_key(bound[name]) for name in self._fields)

    def _check_coverage(self) -> None:
        """Chunks must tile [MinKey, MaxKey) with no gap or overlap, as the server keeps them."""
        lowest = tuple(MIN_KEY for _ in self._fields)
        highest = tuple(MAX_KEY for _ in self._fields)
        if self._mins[0] != lowest or self._maxes[-1] != highest:
            raise RoutingError(f"{self.namespace}: chunks must start at MinKey and end at MaxKey")
        for previous_max, next_min in zip(self._maxes, self._mins[1:]):
            if previous_max != next_min:
                raise RoutingError(f"{self.namespace}: chunks leave a gap or overlap at {previous_max}")

    # Documents --------------------------------------------------------------------

    def shard_key_of(self, document: Mapping[str, Any]) -> tuple[SortKey, ...]:
        """The document's position in key order; a missing key field counts as null."""
        key = []
        for path, hashed in self._paths:
            value = document.get(path[0]) if len(path) == 1 else _lookup(document, path)
            if hashed:
                key.append((10, 1, hashed_value(value)))
            elif isinstance(value, (list, tuple)):
                raise RoutingError(f"{self.namespace}: shard key field '{'.'.join(path)}' holds an array, which MongoDB does not allow")
            else:
                key.append(sort_key(value))
        return tuple(key)

    def chunk_for(self, document: Mapping[str, Any] | Any) -> Chunk:
        if not isinstance(document, Mapping) and hasattr(document, "to_mongo"):
            document = document.to_mongo()
        position = bisect.bisect_right(self._mins, self.shard_key_of(document)) - 1
        return self.chunks[position]

    def shard_for(self, document: Mapping[str, Any] | Any) -> str:
        """The one shard owning ``document`` (a mapping of database field names, or a mongoengine Document)."""
        return self.chunk_for(document).shard

    # Queries ----------------------------------------------------------------------

    def key_ranges(self, query: Mapping[str, Any]) -> tuple[QueryBounds, list[tuple[tuple[SortKey, ...], tuple[SortKey, ...]]]]:
        validate_filter(query)
        bounds = bounds_for_filter(query, list(self.key.items()))
        return bounds, flatten(bounds.fields)

    def target(self, query: Mapping[str, Any]) -> Targeting:
        """The shards a router sends ``query`` to, its kind, and a short reason."""
        bounds, ranges = self.key_ranges(query)
        if bounds.is_empty:
            return self._targeting({0}, "the filter can match no document; the router still sends it to one shard")
        positions: set[int] = set()
        for low, high in ranges:
            positions.update(self._overlapping(low, high))
        return self._targeting(positions, self._describe(query, bounds))

    def _overlapping(self, low: tuple[SortKey, ...], high: tuple[SortKey, ...]) -> range:
        first = bisect.bisect_right(self._mins, low) - 1
        last = bisect.bisect_right(self._mins, high) - 1  # max is inclusive
        return range(max(first, 0), last + 1)

    def _targeting(self, positions: set[int], reason: str) -> Targeting:
        shards = tuple(sorted({self.chunks[p].shard for p in positions}))
        kind: TargetKind
        if len(shards) == 1:
            kind = "single-shard"
        elif len(shards) == len(self.shards):
            kind = "scatter-gather"
        else:
            kind = "multi-shard"
        where = f"{len(positions)} of {len(self.chunks)} chunks on {len(shards)} of {len(self.shards)} shards"
        return Targeting(shards, kind, f"{reason} ({where})", len(positions))

    def _describe(self, query: Mapping[str, Any], bounds: QueryBounds) -> str:
        if _spans_everything(bounds.fields[0]):
            if set(query) == {"_id"} and self._fields != ["_id"]:
                why = f"an _id lookup cannot be targeted on a collection sharded by {self.key}"
            else:
                why = f"no usable condition on the leading shard key field '{self._fields[0]}'"
            return "; ".join([why, *bounds.notes])
        parts = []
        for name, intervals in zip(self._fields, bounds.fields):
            if _spans_everything(intervals):
                break
            parts.append(_describe_field(name, intervals))
        scope = "the whole shard key" if len(parts) == len(self._fields) else "a shard key prefix"
        return "; ".join([f"{scope} is bounded: " + ", ".join(parts), *bounds.notes])

    # Serialisation ----------------------------------------------------------------

    def to_document(self) -> dict[str, Any]:
        """A plain document (BSON types intact) for snapshot files."""
        return {
            "namespace": self.namespace,
            "key": dict(self.key),
            "unique": self.unique,
            "chunks": [{"min": c.min, "max": c.max, "shard": c.shard} for c in self.chunks],
        }

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> "RoutingTable":
        if not isinstance(document, Mapping):
            raise RoutingError(f"a routing table must be a document, not {type(document).__name__}")
        missing = [name for name in ("namespace", "key", "chunks") if name not in document]
        if missing:
            raise RoutingError(f"a routing table document lacks the field '{missing[0]}'")
        namespace, key, chunks = document["namespace"], document["key"], document["chunks"]
        if not isinstance(namespace, str) or not isinstance(key, Mapping) or not isinstance(chunks, list):
            raise RoutingError("a routing table needs a 'namespace' string, a 'key' document and a 'chunks' list")
        return cls(namespace, key, chunks, unique=bool(document.get("unique", False)))

    def __repr__(self) -> str:
        return f"RoutingTable({self.namespace!r}, key={self.key}, chunks={len(self.chunks)}, shards={list(self.shards)})"


def key_text(key: Mapping[str, Any]) -> str:
    """A key pattern as people write it: ``{owner.pid: 1, box: 1}``, ``{user_id: "hashed"}`` (1.0 and Int64 read as 1)."""
    return "{" + ", ".join(f'{name}: "{kind}"' if isinstance(kind, str) else f"{name}: {int(kind)}"
                           for name, kind in key.items()) + "}"


def flatten(fields: Sequence[FieldBounds]) -> list[tuple[tuple[SortKey, ...], tuple[SortKey, ...]]]:
    """Per-field bounds to full-key ranges (ShardKeyPattern::flattenBounds).

    Leading single-point fields extend every range; the first field with more
    than one point or a range multiplies the ranges; every later field only
    contributes its overall lowest and highest value.
    """
    if any(not intervals for intervals in fields):
        return []
    ranges: list[tuple[tuple[SortKey, ...], tuple[SortKey, ...]]] = [((), ())]
    equality_only = True
    for intervals in fields:
        if equality_only and len(intervals) == 1 and intervals[0].is_point:
            ranges = [(low + (intervals[0].low,), high + (intervals[0].high,)) for low, high in ranges]
        elif equality_only:
            equality_only = False
            if len(ranges) * len(intervals) > MAX_FLATTENED_COMBINATIONS:
                raise RoutingError("the $in lists of this filter combine into too many ranges (the server refuses too)")
            ranges = [(low + (i.low,), high + (i.high,)) for low, high in ranges for i in intervals]
        else:
            ranges = [(low + (intervals[0].low,), high + (intervals[-1].high,)) for low, high in ranges]
    return ranges


def _describe_field(name: str, intervals: FieldBounds) -> str:
    if all(i.is_point for i in intervals):
        return f"'{name}' = {len(intervals)} value{'' if len(intervals) == 1 else 's'}"
    return f"'{name}' in {len(intervals)} range{'' if len(intervals) == 1 else 's'}"


def _spans_everything(intervals: FieldBounds) -> bool:
    return len(intervals) == 1 and intervals[0].low == MIN_KEY and intervals[0].high == MAX_KEY


def _lookup(document: Mapping[str, Any], path: Sequence[str]) -> Any:
    value: Any = document
    for part in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _as_chunk(chunk: Chunk | Mapping[str, Any]) -> Chunk:
    if isinstance(chunk, Chunk):
        return chunk
    try:
        return Chunk(dict(chunk["min"]), dict(chunk["max"]), str(chunk["shard"]))
    except (KeyError, TypeError):
        raise RoutingError(f"a chunk needs 'min', 'max' and 'shard' documents, got {chunk!r}") from None
