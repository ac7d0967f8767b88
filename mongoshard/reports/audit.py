"""What share of an application's queries would be scatter-gather, per collection and per shard key.

``audit()`` classifies each captured query shape (``capture``) under any shard
key, the current one and candidates alike, by the router's own first steps
(``routing.table.plan_query``), whatever the chunks: equality on the whole key
is single-shard; several values, or a bounded prefix or range, multi-shard;
nothing usable on the leading field, scatter-gather, as 7.0's analyzeShardKey
counts its read and write distributions.  A non-simple collation makes a string
key field unusable, so such queries are scatter-gather (SERVER-53335), and
``$where``/``$function`` are ignored by the router as by this.  Only ``$expr``,
whose captured shape hides the comparisons the router could bound, is counted as
"unknown" unless the rest already pins the key.

Writes are judged as writes: a single-document update, delete or
findAndModify that does not pin the whole key is refused by a router before
7.1 and runs as a two-phase broadcast from 7.1 (``write_note``).
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping, Sequence

from bson import ObjectId

from ..routing.filters import FilterError
from ..routing.table import VERDICTS, plan_query

__all__ = ["audit", "classify", "write_note", "AuditReport", "CollectionAudit", "ShapeFigures", "KINDS"]

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


def classify(shape: Mapping[str, Any], key: Sequence[tuple[str, Any]], collation: Mapping[str, Any] | None = None) -> tuple[str, str]:
    """(kind, reason) of a query shape under a shard key pattern, on any layout."""
    concrete = _concrete(shape, [0])
    try:
        plan = plan_query(concrete, key, collation)
    except FilterError as exc:
        return "unknown", f"not a filter MongoDB parses ({exc})"
    if "$expr" in set(_operators(shape)) and plan.shape != "single-key":
        return "unknown", "$expr: the router bounds the key by the comparisons inside it, which the captured shape hides"
    if plan.shape == "no-match":  # the sample values contradict each other, not the query: a range of the key
        return "multi-shard", "a range of the key (its bounds were not recorded)"
    return VERDICTS[plan.shape], plan.reason


def write_note(record: Mapping[str, Any], kind: str) -> str | None:
    """What a router does with a single-document write that does not pin the whole key, or None.

    Server rules: before 7.1 a single update/delete "must contain an exact match on _id or contain the shard key"
    (or reach one shard), an upsert and a findAndModify need the whole key; from 7.1
    ``write_without_shard_key::useTwoPhaseProtocol`` (write_without_shard_key_util.cpp) sends every such write
    through the two-phase protocol (a read on every shard, then the write in a transaction), except an update or
    delete with an exact ``_id`` and no upsert, which goes to every shard that may hold that ``_id``.
    """
    operation = record.get("operation", "find")
    if operation not in ("update", "delete", "findAndModify") or record.get("multi") or kind == "single-shard":
        return None
    shape = record["shape"]
    exact_id = "_id" in shape and not (isinstance(shape["_id"], Mapping) and set(shape["_id"]) - {"$eq"})
    if operation != "findAndModify" and exact_id and not record.get("upsert"):
        return "one document by _id: sent to every shard (any version)"
    what = "an upsert" if record.get("upsert") else f"a single {operation}"
    return (f"{what} without the whole shard key: refused by mongos before 7.1 unless it reaches one shard; "
            "from 7.1 a two-phase write (a read on every shard, then the write)")


# Report -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ShapeFigures:
    operation: str
    shape: dict[str, Any]
    count: int
    share: float
    kinds: dict[str, tuple[str, str]]  # key label -> (kind, reason)
    multi: bool | None = None  # writes only: a multi update/delete
    upsert: bool | None = None
    writes: dict[str, str] = field(default_factory=dict)  # key label -> write_note, where there is one


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
        text = json.dumps([record.get("operation", "find"), record["shape"], record.get("collation"),
                           record.get("multi"), record.get("upsert")], sort_keys=True)
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
        writes = {label: note for label, (kind, _) in kinds.items() if (note := write_note(first, kind))}
        shapes.append(ShapeFigures(first.get("operation", "find"), first["shape"], len(group), len(group) / total, kinds,
                                   first.get("multi"), first.get("upsert"), writes))
    return CollectionAudit(namespace, total, {label: dict(p) for label, p in keys.items()}, distribution, tuple(shapes))
