"""What a document of a @sharded class was stored with: the key values it was loaded, saved or inserted with.

mongoengine's ``_created`` cannot tell a stored document from a new one: assigning an ``_id`` to a new document
(``doc.id = ObjectId()``) clears it.  So the memory itself says "stored": it is set when a document is built from
the server's answer, saved or bulk-inserted, and kept by pickle and deepcopy (``safe_writes``).  Values are by
database path, as stored; a value the load did not bring (``.only()``) is ``UNKNOWN``, a missing or null one
``ABSENT``.  A loaded document keeps them compactly (the one value of a one-field key itself, else a tuple in the
order of ``key_entries``): a dict per document cost a quarter more memory than plain mongoengine's document
(benchmarks/safe_writes.py).
"""

from __future__ import annotations

import copy
import datetime
from typing import Any
from collections.abc import Mapping

from bson import Decimal128, Int64, ObjectId

from ..routing.ordering import sort_key

__all__ = ["QUERYSET_MIXIN_BASE", "LOADED", "ABSENT", "UNKNOWN", "is_stored", "loaded_key", "loaded_memory",
           "remember", "remember_stored",
           "key_entries", "stored_value", "values_on_path",
           "current_value", "present_value", "same_key_value", "shown"]

LOADED = "_mongoshard_loaded_key"
# The base of the mixins mongoshard puts in front of a class's QuerySet (safe inserts, lookups): object at run time,
# Any to the type checker, which cannot see the mongoengine QuerySet they are combined with.
QUERYSET_MIXIN_BASE: Any = object
_ENTRIES_BY_CLASS: dict[type, list[tuple[str, str]]] = {}
ABSENT = object()
UNKNOWN = object()
# Read by getattr, never through ``document.__dict__``: CPython 3.11+ keeps an instance's attributes inline until
# something asks for its __dict__, which then costs a dict per document (benchmarks/safe_writes.py, memory).
UNSTORED = object()
_IMMUTABLE = frozenset({int, float, str, bool, type(None), bytes, Int64, ObjectId, Decimal128, datetime.datetime,
                        type(UNKNOWN)})


def is_stored(document: Any) -> bool:
    """Whether ``document`` is known to be stored: loaded from the server, or saved or inserted through this class.
    mongoengine's ``_created`` cannot tell: assigning an ``_id`` to a new document (``doc.id = ObjectId()``) clears it."""
    return getattr(document, LOADED, UNSTORED) is not UNSTORED


def loaded_key(document: Any) -> dict[str, Any]:
    """The key values ``document`` was loaded or last saved with, by database path (left out when unknown)."""
    return {path: (None if value is ABSENT else value) for path, value in loaded_memory(document).items()
            if value is not UNKNOWN}


# The key of a class, in database paths ---------------------------------------------


def key_entries(cls: type[Any]) -> list[tuple[str, str]]:
    """(model path, database path) of every key field but the primary key, which every filter holds already; worked
    out once per class (each load asks)."""
    cached = _ENTRIES_BY_CLASS.get(cls)
    if cached is None:
        cached = _ENTRIES_BY_CLASS[cls] = _key_entries(cls)
    return cached


def _key_entries(cls: type[Any]) -> list[tuple[str, str]]:
    id_field = cls._meta.get("id_field")
    entries = []
    for path in cls._meta.get("shard_key") or ():
        if path in ("pk", "_id", "id", id_field):
            continue
        entries.append((path, ".".join(field.db_field if hasattr(field, "db_field") else str(field)
                                       for field in cls._lookup_field(path.split(".")))))
    return entries


def values_on_path(son: Mapping[str, Any], db_path: str) -> list[Any]:
    """The values met along a database path, as far as the document goes (all of them when it has the field)."""
    values: list[Any] = []
    value: Any = son
    for part in db_path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            break
        value = value[part]
        values.append(value)
    return values


def stored_value(son: Mapping[str, Any], db_path: str) -> Any:
    if "." not in db_path:  # the common case, and values nothing can change in place need no copy
        value = son.get(db_path, UNKNOWN) if type(son) is dict or isinstance(son, Mapping) else UNKNOWN
        return value if type(value) in _IMMUTABLE else copy.deepcopy(value)
    values = values_on_path(son, db_path)
    return copy.deepcopy(values[-1]) if len(values) == db_path.count(".") + 1 else UNKNOWN


def current_value(document: Any, db_path: str) -> Any:
    value = stored_value(document.to_mongo(), db_path)
    return ABSENT if value is UNKNOWN or value is None else value


def remember(document: Any, values: Mapping[str, Any]) -> None:
    """Mark ``document`` stored with these key values (by database path; a path left out is UNKNOWN)."""
    entries = key_entries(type(document))
    kept = tuple(values.get(db, UNKNOWN) for _, db in entries)
    object.__setattr__(document, LOADED, kept[0] if len(kept) == 1 else kept)


def remember_stored(document: Any, son: Mapping[str, Any]) -> None:
    """``remember`` the key values of ``son``, the server's document ``document`` was built from (each load)."""
    entries = key_entries(type(document))
    kept = stored_value(son, entries[0][1]) if len(entries) == 1 else tuple(stored_value(son, db) for _, db in entries)
    object.__setattr__(document, LOADED, kept)


def loaded_memory(document: Any) -> dict[str, Any]:
    """The remembered key of a stored document, by database path (a new dict: change it through ``remember``)."""
    kept: Any = getattr(document, LOADED, UNSTORED)
    if kept is UNSTORED:
        return {}
    entries = key_entries(type(document))
    return {db: value for (_, db), value in zip(entries, (kept,) if len(entries) == 1 else kept)}


def present_value(doc: Mapping[str, Any], db_path: str) -> Any:
    """A key value of a document about to be sent (or just sent): ABSENT when missing or null."""
    value = stored_value(doc, db_path)
    return ABSENT if value is UNKNOWN or value is None else value


def same_key_value(before: Any, after: Any) -> bool:
    """Whether two key values are one value as BSON compares them: type[Any] and value (``1`` is not ``True``, although
    Python says so), absent and null alike (the server files a missing key field under null)."""
    before = None if before is ABSENT or before is UNKNOWN else before
    after = None if after is ABSENT or after is UNKNOWN else after
    try:
        return sort_key(before) == sort_key(after)
    except TypeError:
        return before == after and type(before) is type(after)


def shown(value: Any) -> str:
    return "nothing" if value is ABSENT or value is UNKNOWN else repr(value)
