"""Recording an application's queries as shapes, for ``audit``: a context manager and a JSON lines log.

``capture()`` records the filter of every find, update, delete, findAndModify,
count, distinct and aggregate (its leading ``$match``) a pymongo client sends,
as a *shape*: field names and operators kept, values replaced by their type
(``{"user_id": "?int"}``), ``$in`` lists by one or several placeholders.  The
log is JSON lines, one query per line.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import threading
from pathlib import Path
from typing import Any
from collections.abc import Iterator, Mapping

from bson import Decimal128, Int64, ObjectId, Regex
from pymongo import monitoring

from ..errors import MongoshardError
from ..routing.regex import as_regex, regex_flags, regex_prefix
from ..routing.filters import MAX_DEPTH
from ..routing.filters import depth as _depth

__all__ = ["capture", "read_log", "shape_of", "Recorder", "AuditError"]

# Code and expressions are recorded as "?code": their content is the application's, not a shape.
_CODE_OPERATORS = ("$where", "$expr", "$function")
_QUERY_COMMANDS = {"find": "filter", "count": "query", "distinct": "query", "findAndModify": "query"}



class AuditError(MongoshardError):
    """A query log that cannot be read."""


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
        # whether the router can bound it by a prefix (anchored, no option but m with \A, s, x) is kept: the pattern
        # itself is not (it is data); mongoengine's startswith (a Python pattern, sent /.../u) never has one
        return "?regex-prefix" if regex_prefix(as_regex(value).pattern, regex_flags(value)) else "?regex"
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
    if key in _CODE_OPERATORS:
        return "?code"
    return shape_of(value)


def _records(command_name: str, command: Mapping[str, Any], database: str) -> list[dict[str, Any]]:
    """The queries inside one command: (namespace, operation, shape, collation)."""
    collection = command.get(command_name)
    if not isinstance(collection, str):
        return []
    namespace = f"{database}.{collection}"
    collation = command.get("collation")
    # (operation, filter, collation, write flags): writes keep multi and upsert, which decide what a router allows.
    if command_name == "findAndModify":
        statements = [("findAndModify", command.get("query") or {}, collation,
                       {"multi": False, "upsert": bool(command.get("upsert")), **_style(command.get("update"))})]
    elif command_name in _QUERY_COMMANDS:
        statements = [(command_name, command.get(_QUERY_COMMANDS[command_name]) or {}, collation, {})]
    elif command_name == "update":
        statements = [("update", s.get("q") or {}, s.get("collation", collation),
                       {"multi": bool(s.get("multi")), "upsert": bool(s.get("upsert")), **_style(s.get("u"))})
                      for s in command.get("updates", [])]
    elif command_name == "delete":
        statements = [("delete", s.get("q") or {}, s.get("collation", collation),
                       {"multi": s.get("limit", 0) != 1, "upsert": False})
                      for s in command.get("deletes", [])]
    elif command_name == "aggregate":
        pipeline = command.get("pipeline") or [{}]
        first = pipeline[0] if pipeline else {}
        statements = [("aggregate", first.get("$match", {}) if isinstance(first, Mapping) else {}, collation, {})]
    else:
        return []
    return [{"namespace": namespace, "operation": operation, "shape": shape_of(dict(query)),
             "collation": dict(collation) if collation else None, **flags} for operation, query, collation, flags in statements]


class Recorder:
    """Collects query shapes; appends each to ``path`` (JSON lines) when one is given."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else None
        self.records: list[dict[str, Any]] = []
        self.origin: str | None = None  # "fixture" while a test framework sets up or tears down (pytest plugin)
        self._lock = threading.Lock()

    def record(self, command_name: str, command: Mapping[str, Any], database: str) -> None:
        found = _records(command_name, command, database)
        if not found:
            return
        if self.origin:
            found = [{**record, "origin": self.origin} for record in found]
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


def _style(update: Any) -> dict[str, str]:
    """How an update is written (operators, a replacement or a pipeline), which decides how a router targets it."""
    from ..routing.writes import WriteError, update_style

    try:
        style = update_style(update)
    except WriteError:
        return {}
    return {} if style == "none" else {"style": style}


def read_log(path: str | Path) -> list[dict[str, Any]]:
    """The records of a JSON lines query log, each checked to be a query record."""
    from ..files import read_text

    text = read_text(path, "the query log", hint="record one with mongoshard.capture() or pytest --mongoshard-audit")
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            json.dumps(record, ensure_ascii=False).encode("utf-8")  # a lone surrogate (\\ud800) is not text
        except (ValueError, RecursionError):
            record = None
        if not (isinstance(record, dict) and isinstance(record.get("namespace"), str) and isinstance(record.get("shape"), dict)
                and isinstance(record.get("operation", "find"), str) and isinstance(record.get("collation") or {}, dict)
                and all(isinstance(record.get(flag, False), bool) for flag in ("multi", "upsert"))
                and record.get("style") in (None, "operators", "replacement", "pipeline")
                and isinstance(record.get("origin", ""), str)
                and _depth(record["shape"]) <= MAX_DEPTH):
            raise AuditError(f"{path}, line {number}: not a query record (JSON with 'namespace' and a 'shape' document); "
                             "record the log with mongoshard.capture()")
        records.append(record)
    return records
