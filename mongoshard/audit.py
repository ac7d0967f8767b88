"""What share of an application's queries would be scatter-gather: capture, then report per key.

``capture()`` records the filter of every find, update, delete, findAndModify,
count, distinct and aggregate (its leading ``$match``) a pymongo client sends,
as a *shape*: field names and operators kept, values replaced by their type
(``{"user_id": "?int"}``), ``$in`` lists by one or several placeholders.  The
log is JSON lines, one query per line.

``audit()`` classifies each shape under any shard key, the current one and
candidates alike, the way a router plans it: equality on every key field is
single-shard; several values, or a bounded prefix, multi-shard; nothing usable
on the leading field, scatter-gather.  It works offline, on any server
version, before a collection is sharded (the idea of 7.0's analyzeShardKey
read/write distribution).  Queries it cannot judge (``$where``, ``$expr``,
``$function``, a non-simple collation on a string key field) are counted as
"unknown", with the reason, never as targeted.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from bson import Decimal128, Int64, ObjectId, Regex
from pymongo import monitoring

from .bounds import bounds_for_filter
from .errors import MongoshardError

__all__ = ["capture", "read_log", "audit", "shape_of", "classify", "AuditReport", "CollectionAudit", "ShapeFigures",
           "Recorder", "AuditError", "KINDS"]

KINDS = ("single-shard", "multi-shard", "scatter-gather", "unknown")
_UNANALYSABLE = {"$where": "$where runs JavaScript the router cannot plan",
                 "$expr": "$expr is an aggregation expression the router does not target by",
                 "$function": "$function runs JavaScript the router cannot plan"}
_QUERY_COMMANDS = {"find": "filter", "count": "query", "distinct": "query", "findAndModify": "query"}


class AuditError(MongoshardError):
    """A query log that cannot be read."""


# Capture ---------------------------------------------------------------------------------------------

def _type_tag(value: Any) -> str:
    if isinstance(value, bool):
        return "?bool"
    if isinstance(value, (int, Int64)):
        return "?int"
    if isinstance(value, (float, Decimal128)):
        return "?number"
    if isinstance(value, str):
        return "?str"
    if isinstance(value, (Regex,)) or hasattr(value, "pattern"):
        return "?regex"
    if isinstance(value, datetime.datetime):
        return "?date"
    if isinstance(value, ObjectId):
        return "?objectId"
    if value is None:
        return "?null"
    return f"?{type(value).__name__}"


def shape_of(value: Any) -> Any:
    """A filter with every value replaced by its type; operators and field names kept."""
    if isinstance(value, Mapping):
        return {key: _shape_entry(key, item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape_of(item) for item in value]
    return _type_tag(value)


def _shape_entry(key: str, value: Any) -> Any:
    if key in ("$in", "$nin", "$all") and isinstance(value, list):
        tags = list(dict.fromkeys(shape_of(item) if isinstance(item, Mapping) else _type_tag(item) for item in value))
        return tags if len(value) == 1 else [*tags, "..."]
    if key in ("$and", "$or", "$nor"):
        return [shape_of(branch) for branch in value]
    if key in _UNANALYSABLE:
        return "?code"
    return shape_of(value)


def _records(command_name: str, command: Mapping[str, Any], database: str) -> list[dict[str, Any]]:
    """The queries inside one command: (namespace, operation, shape, collation)."""
    collection = command.get(command_name)
    if not isinstance(collection, str):
        return []
    namespace = f"{database}.{collection}"
    collation = command.get("collation")
    if command_name in _QUERY_COMMANDS:
        statements = [(command_name, command.get(_QUERY_COMMANDS[command_name]) or {}, collation)]
    elif command_name == "update":
        statements = [("update", s.get("q") or {}, s.get("collation", collation)) for s in command.get("updates", [])]
    elif command_name == "delete":
        statements = [("delete", s.get("q") or {}, s.get("collation", collation)) for s in command.get("deletes", [])]
    elif command_name == "aggregate":
        pipeline = command.get("pipeline") or [{}]
        first = pipeline[0] if pipeline else {}
        statements = [("aggregate", first.get("$match", {}) if isinstance(first, Mapping) else {}, collation)]
    else:
        return []
    return [{"namespace": namespace, "operation": operation, "shape": shape_of(dict(query)),
             "collation": dict(collation) if collation else None} for operation, query, collation in statements]


class Recorder:
    """Collects query shapes; appends each to ``path`` (JSON lines) when one is given."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else None
        self.records: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def record(self, command_name: str, command: Mapping[str, Any], database: str) -> None:
        found = _records(command_name, command, database)
        if not found:
            return
        with self._lock:
            self.records.extend(found)
            if self.path:
                with self.path.open("a") as log:
                    log.writelines(json.dumps(r, sort_keys=True) + "\n" for r in found)


class _Listener(monitoring.CommandListener):
    """One pymongo CommandListener for the process; forwards to whichever recorders are capturing."""

    def __init__(self) -> None:
        self.recorders: list[Recorder] = []

    def started(self, event: Any) -> None:
        for recorder in list(self.recorders):
            recorder.record(event.command_name, event.command, event.database_name)

    def succeeded(self, event: Any) -> None:
        pass

    def failed(self, event: Any) -> None:
        pass


_LISTENER: _Listener | None = None


def _listener() -> _Listener:
    # pymongo cannot unregister a listener: one is registered for the process, and forwards while capturing.
    global _LISTENER
    if _LISTENER is None:
        _LISTENER = _Listener()
        monitoring.register(_LISTENER)
    return _LISTENER


@contextlib.contextmanager
def capture(path: str | Path | None = None) -> Iterator[Recorder]:
    """Record the queries of every pymongo client created from now on (mongoengine's included).

    pymongo attaches listeners when a client is created: start capturing
    before ``mongoengine.connect`` (or pytest's ``--mongoshard-audit``).
    """
    recorder = Recorder(path)
    listener = _listener()
    listener.recorders.append(recorder)
    try:
        yield recorder
    finally:
        listener.recorders.remove(recorder)


def read_log(path: str | Path) -> list[dict[str, Any]]:
    """The records of a JSON lines query log."""
    records = []
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as exc:
        raise AuditError(f"Cannot read {path} ({exc.strerror}); record one with mongoshard.audit.capture() or --mongoshard-audit") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            record["namespace"], record["shape"]
        except (ValueError, KeyError, TypeError):
            raise AuditError(f"{path}, line {number}: not a query record (JSON with 'namespace' and 'shape')") from None
        records.append(record)
    return records


# Classification ------------------------------------------------------------------------------------

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
        if operator in _UNANALYSABLE:
            return "unknown", _UNANALYSABLE[operator]
    if collation and collation.get("locale", "simple") != "simple":
        strings = _string_fields(shape) & {name for name, _ in key}
        if strings:
            return "unknown", (f"collation {collation.get('locale')} on string key field(s) {', '.join(sorted(strings))}: "
                               "the router targets by the simple collation")
    bounds = bounds_for_filter(_concrete(shape, [0]), key)
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
    from .ordering import MAX_KEY, MIN_KEY

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
