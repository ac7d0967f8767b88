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

Writes are judged as writes, by the router of a release (``server_version``,
8.0 unless told): ``routing.writes`` decides whether a write reaches one
shard, every shard (a multi write, or one document by ``_id``), runs the
two-phase write-without-shard-key protocol, or is refused; ``write_note``
says where the releases from 7.0 to 9.0 disagree.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Iterable, Iterator, Mapping, Sequence

from bson import ObjectId, Regex

from ..model.lookups import routed_lookup
from ..routing.filters import FilterError
from ..routing.table import VERDICTS, plan_query
from ..routing.writes import SERVER_ERAS, Write, WriteDecision, WriteError, plan_write_shape

__all__ = ["audit", "classify", "classify_write", "write_note", "AuditReport", "CollectionAudit", "ShapeFigures", "KINDS",
           "WRITE_KINDS", "WRITES"]

KINDS = ("single-shard", "multi-shard", "scatter-gather", "unknown")
WRITE_KINDS = ("two-phase", "refused")  # what only writes can be
WRITES = ("update", "delete", "findAndModify")


_SAMPLES = {"?int": (1, 2), "?number": (1.5, 2.5), "?str": ("a", "b"), "?bool": (False, True),
            "?date": (datetime.datetime(2000, 1, 1), datetime.datetime(2001, 1, 1)),
            "?objectId": (ObjectId(b"a" * 12), ObjectId(b"b" * 12)),
            "?null": (None, None),
            # a regex the router bounds by its prefix, and one it cannot bound (the log keeps which, not the pattern)
            "?regex-prefix": (Regex("^a"), Regex("^b")), "?regex": (Regex("a"), Regex("b"))}


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


def classify(shape: Mapping[str, Any], key: Sequence[tuple[str, Any]],
             collation: Mapping[str, Any] | None = None) -> tuple[str, str]:
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


def _write(record: Mapping[str, Any]) -> Write:
    """The write a record stands for, with the shape's sample values (a replacement's own values are not recorded)."""
    style = record.get("style") or "operators"
    update: Any = {"$set": {}} if style == "operators" else [{"$set": {}}] if style == "pipeline" else {"replaced": True}
    return Write(record["operation"], filter=_concrete(record["shape"], [0]),
                 update=None if record["operation"] == "delete" else update,
                 upsert=bool(record.get("upsert")), multi=bool(record.get("multi")), collation=record.get("collation"))


def _decide(record: Mapping[str, Any], key: Sequence[tuple[str, Any]], version: tuple[int, int]) -> WriteDecision | None:
    try:
        return plan_write_shape(_write(record), key, version)
    except (FilterError, WriteError):
        return None


def classify_write(record: Mapping[str, Any], key: Sequence[tuple[str, Any]],
                   server_version: tuple[int, int] = (8, 0)) -> tuple[str, str]:
    """(kind, reason) of a captured update, delete or findAndModify under a key, as a router of ``server_version``
    handles it on any grown layout."""
    kind, reason, _ = _write_kind(record, key, server_version)
    return kind, reason


_ON_ONE_SHARD = "where its ranges fall on one shard"


def _write_kind(record: Mapping[str, Any], key: Sequence[tuple[str, Any]],
                version: tuple[int, int]) -> tuple[str, str, str | None]:
    read_kind, read_reason = classify(record["shape"], key, record.get("collation"))
    decision = _decide(record, key, version)
    if decision is None:
        return read_kind, read_reason, None
    reason = "; ".join([decision.reason + (f" ({decision.error})" if decision.error else ""), *decision.notes])
    if decision.outcome in WRITE_KINDS:
        return decision.outcome, reason, decision.error
    if decision.outcome == "broadcast":
        # A range that may fall on one shard: one shard, or every shard, as the layout decides
        return ("multi-shard" if read_kind == "multi-shard" else "scatter-gather"), reason, None
    if decision.route in ("query-key", "replacement"):
        return "single-shard", reason, None
    return read_kind, reason if read_kind != "unknown" else read_reason, None


def write_note(record: Mapping[str, Any], key: Sequence[tuple[str, Any]]) -> str | None:
    """Where the releases disagree on a write, e.g. "7.0: refused (ShardKeyNotFound); 7.1, 8.0: two-phase; 9.0:
    single-shard"; None when they all do the same."""
    if record.get("operation", "find") not in WRITES:
        return None
    answers: dict[str, list[str]] = {}
    for era in SERVER_ERAS:
        kind, reason, error = _write_kind(record, key, era)
        word = kind + (f" ({error})" if error else "") + (", or one shard where its range falls on one"
                                                           if _ON_ONE_SHARD in reason and kind != "multi-shard" else "")
        answers.setdefault(word, []).append(f"{era[0]}.{era[1]}")
    if len(answers) == 1:
        return None
    return "; ".join(f"{', '.join(releases)}: {word}" for word, releases in answers.items())


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
    writes: dict[str, str] = field(default_factory=dict)  # key label -> write_note: where the releases disagree


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
    fixtures: int = 0  # queries of the test framework's set-up and tear-down, left out


def audit(records: Iterable[Mapping[str, Any]], keys: Mapping[str, Mapping[str, Mapping[str, Any]]], *,
          server_version: tuple[int, int] = (8, 0), lookups: Mapping[str, Sequence[Any]] | None = None) -> AuditReport:
    """Per collection and per shape: count and the share of each kind under each key, writes as a router of
    ``server_version`` handles them.

    ``keys`` maps a namespace to labelled key patterns, e.g.
    ``{"game.creatures": {"current": {"user_id": "hashed"}, "candidate": {"species": 1}}}``;
    collections without a key are reported with counts only.  Queries of a test suite's fixtures (``"origin":
    "fixture"``, from the pytest plugin) are left out and counted apart.
    """
    grouped: dict[str, dict[str, list[Any]]] = {}
    fixtures = 0
    for record in records:
        if record.get("origin") == "fixture":
            fixtures += 1
            continue
        text = json.dumps([record.get("operation", "find"), record["shape"], record.get("collation"),
                           record.get("multi"), record.get("upsert"), record.get("style")], sort_keys=True)
        grouped.setdefault(record["namespace"], {}).setdefault(text, []).append(record)
    collections = tuple(_collection(namespace, by_shape, keys.get(namespace, {}), (server_version[0], server_version[1]),
                                    (lookups or {}).get(namespace, ()))
                        for namespace, by_shape in sorted(grouped.items()))
    return AuditReport(collections, sum(c.total for c in collections), fixtures)


def _collection(namespace: str, by_shape: dict[str, list[Any]], keys: Mapping[str, Mapping[str, Any]],
                version: tuple[int, int], lookups: Sequence[Any] = ()) -> CollectionAudit:
    total = sum(len(group) for group in by_shape.values())
    shapes = []
    distribution = {label: dict.fromkeys(KINDS + WRITE_KINDS, 0.0) for label in keys}
    for group in sorted(by_shape.values(), key=len, reverse=True):
        first = group[0]
        write = first.get("operation", "find") in WRITES
        through = None if write else routed_lookup(lookups, _concrete(first["shape"], [0]))
        kinds = {label: classify_write(first, list(pattern.items()), version) if write else
                 ("single-shard", f"through the lookup {through[0].collection}: two targeted reads (the entry's shard, "
                                  "then the owner's by _id and full key)") if through else
                 classify(first["shape"], list(pattern.items()), first.get("collation")) for label, pattern in keys.items()}
        for label, (kind, _) in kinds.items():
            distribution[label][kind] += len(group) / total
        writes = {label: note for label, pattern in keys.items() if (note := write_note(first, list(pattern.items())))}
        shapes.append(ShapeFigures(first.get("operation", "find"), first["shape"], len(group), len(group) / total, kinds,
                                   first.get("multi"), first.get("upsert"), writes))
    return CollectionAudit(namespace, total, {label: dict(p) for label, p in keys.items()}, distribution, tuple(shapes))
