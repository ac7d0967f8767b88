"""What share of an application's queries would be scatter-gather, per collection and per shard key.

``audit()`` classifies each captured query shape (``capture``) under any shard
key, the current one and candidates alike, the way a router plans it: equality
on every key field is single-shard; several values, or a bounded prefix,
multi-shard; nothing usable on the leading field, scatter-gather.  It works
offline, on any server version, before a collection is sharded (the idea of
7.0's analyzeShardKey read/write distribution).  Queries it cannot judge
(``$where``, ``$expr``, ``$function``, a non-simple collation on a string key
field) are counted as "unknown", with the reason, never as targeted.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping, Sequence

from bson import ObjectId

from ..routing.bounds import bounds_for_filter
from ..routing.filters import FilterError, validate_filter
from ..routing.ordering import MAX_KEY, MIN_KEY
from .capture import UNANALYSABLE

__all__ = ["audit", "classify", "AuditReport", "CollectionAudit", "ShapeFigures", "KINDS"]

KINDS = ("single-shard", "multi-shard", "scatter-gather", "unknown")


_SAMPLES = {"?int": (1, 2), "?number": (1.5, 2.5), "?str": ("a", "b"), "?bool": (False, True),
            "?date": (datetime.datetime(2000, 1, 1), datetime.datetime(2001, 1, 1)), "?objectId": (ObjectId(b"a" * 12), ObjectId(b"b" * 12)),
            "?null": (None, None)}


def _concrete(shape: Any, turn: list[int]) -> Any:
    """A filter with the shape's structure and sample values (distinct ones for a list of several)."""
    if isinstance(shape, Mapping):
        return {key: _concrete(value, turn) for key, value in shape.items()}
    if isinstance(shape, list):
        items = [item for item in shape if item != "..."]
        if "..." in shape:
            items = items + items  # several values: two samples per type
        return [_concrete(item, turn) for item in items]
    if isinstance(shape, str) and shape.startswith("?"):
        turn[0] += 1
        return _SAMPLES.get(shape, ("x", "y"))[turn[0] % 2]
    return shape


def _operators(shape: Any) -> Iterator[str]:
    if isinstance(shape, Mapping):
        for key, value in shape.items():
            if key.startswith("$"):
                yield key
            yield from _operators(value)
    elif isinstance(shape, list):
        for item in shape:
            yield from _operators(item)


def _string_fields(shape: Any, prefix: str = "") -> set[str]:
    found: set[str] = set()
    if isinstance(shape, Mapping):
        for key, value in shape.items():
            name = prefix if key.startswith("$") else key
            if value == "?str" or (isinstance(value, list) and "?str" in value):
                found.add(name)
            found |= _string_fields(value, name)
    elif isinstance(shape, list):
        for item in shape:
            found |= _string_fields(item, prefix)
    return found


def classify(shape: Mapping[str, Any], key: Sequence[tuple[str, Any]], collation: Mapping[str, Any] | None = None) -> tuple[str, str]:
    """(kind, reason) of a query shape under a shard key pattern."""
    for operator in _operators(shape):
        if operator in UNANALYSABLE:
            return "unknown", UNANALYSABLE[operator]
    if collation and collation.get("locale", "simple") != "simple":
        strings = _string_fields(shape) & {name for name, _ in key}
        if strings:
            return "unknown", (f"collation {collation.get('locale')} on string key field(s) {', '.join(sorted(strings))}: "
                               "the router targets by the simple collation")
    concrete = _concrete(shape, [0])
    try:
        validate_filter(concrete)
    except FilterError as exc:
        return "unknown", f"not a filter MongoDB parses ({exc})"
    bounds = bounds_for_filter(concrete, key)
    fields = [name for name, _ in key]
    if not bounds.fields or _unbounded(bounds.fields[0]):
        return "scatter-gather", f"no usable condition on the leading key field '{fields[0]}'"
    points = 1
    for name, intervals in zip(fields, bounds.fields):
        if not all(interval.is_point for interval in intervals):
            return "multi-shard", f"'{name}' is a range: the shards owning it"
        points *= len(intervals)
    if points == 1:
        return "single-shard", "equality on every key field"
    return "multi-shard", f"{points} key values at least: one shard each, at most"


def _unbounded(intervals: Any) -> bool:
    return len(intervals) == 1 and intervals[0].low == MIN_KEY and intervals[0].high == MAX_KEY


# Report -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ShapeFigures:
    operation: str
    shape: dict[str, Any]
    count: int
    share: float
    kinds: dict[str, tuple[str, str]]  # key label -> (kind, reason)


@dataclass(frozen=True)
class CollectionAudit:
    namespace: str
    total: int
    keys: dict[str, dict[str, Any]]  # label -> key pattern
    distribution: dict[str, dict[str, float]]  # key label -> kind -> share of the collection's queries
    shapes: tuple[ShapeFigures, ...] = field(default=())


@dataclass(frozen=True)
class AuditReport:
    collections: tuple[CollectionAudit, ...]
    total: int


def audit(records: Iterable[Mapping[str, Any]], keys: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> AuditReport:
    """Per collection and per shape: count and the share of each kind under each key.

    ``keys`` maps a namespace to labelled key patterns, e.g.
    ``{"game.creatures": {"current": {"user_id": "hashed"}, "candidate": {"species": 1}}}``;
    collections without a key are reported with counts only.
    """
    grouped: dict[str, dict[str, list[Any]]] = {}
    for record in records:
        text = json.dumps([record.get("operation", "find"), record["shape"], record.get("collation")], sort_keys=True)
        grouped.setdefault(record["namespace"], {}).setdefault(text, []).append(record)
    collections = tuple(_collection(namespace, by_shape, keys.get(namespace, {})) for namespace, by_shape in sorted(grouped.items()))
    return AuditReport(collections, sum(c.total for c in collections))


def _collection(namespace: str, by_shape: dict[str, list[Any]], keys: Mapping[str, Mapping[str, Any]]) -> CollectionAudit:
    total = sum(len(group) for group in by_shape.values())
    shapes = []
    distribution = {label: dict.fromkeys(KINDS, 0.0) for label in keys}
    for group in sorted(by_shape.values(), key=len, reverse=True):
        first = group[0]
        kinds = {label: classify(first["shape"], list(pattern.items()), first.get("collation")) for label, pattern in keys.items()}
        for label, (kind, _) in kinds.items():
            distribution[label][kind] += len(group) / total
        shapes.append(ShapeFigures(first.get("operation", "find"), first["shape"], len(group), len(group) / total, kinds))
    return CollectionAudit(namespace, total, {label: dict(p) for label, p in keys.items()}, distribution, tuple(shapes))
