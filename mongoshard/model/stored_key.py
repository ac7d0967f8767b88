"""What a document of a @sharded class was stored with: the key values it was loaded, saved or inserted with.

mongoengine's ``_created`` cannot tell a stored document from a new one: assigning an ``_id`` to a new document
(``doc.id = ObjectId()``) clears it.  So the memory itself says "stored": it is set when a document is built from
the server's answer, saved or bulk-inserted, and kept by pickle and deepcopy (``safe_writes``).  Values are by
database path, as stored; a value the load did not bring (``.only()``) is ``UNKNOWN``, a missing or null one
``ABSENT``.
"""

from __future__ import annotations

import copy
from typing import Any, Mapping

from ..routing.ordering import sort_key

__all__ = ["LOADED", "ABSENT", "UNKNOWN", "is_stored", "loaded_key", "loaded_memory", "remember", "key_entries", "stored_value", "values_on_path",
           "current_value", "present_value", "same_key_value", "shown"]

LOADED = "_mongoshard_loaded_key"
ABSENT = object()
UNKNOWN = object()


def is_stored(document: Any) -> bool:
    """Whether ``document`` is known to be stored: loaded from the server, or saved or inserted through this class.
    mongoengine's ``_created`` cannot tell: assigning an ``_id`` to a new document (``doc.id = ObjectId()``) clears it."""
    return document.__dict__.get(LOADED) is not None


def loaded_key(document: Any) -> dict[str, Any]:
    """The key values ``document`` was loaded or last saved with, by database path (left out when unknown)."""
    loaded = document.__dict__.get(LOADED) or {}
    return {path: (None if value is ABSENT else value) for path, value in loaded.items() if value is not UNKNOWN}


# The key of a class, in database paths ---------------------------------------------


def key_entries(cls: type) -> list[tuple[str, str]]:
    """(model path, database path) of every key field but the primary key, which every filter holds already."""
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
    values = values_on_path(son, db_path)
    return copy.deepcopy(values[-1]) if len(values) == db_path.count(".") + 1 else UNKNOWN


def current_value(document: Any, db_path: str) -> Any:
    value = stored_value(document.to_mongo(), db_path)
    return ABSENT if value is UNKNOWN or value is None else value


def remember(document: Any, values: Mapping[str, Any]) -> None:
    object.__setattr__(document, LOADED, dict(values))


def loaded_memory(document: Any) -> dict[str, Any]:
    """The remembered key of a stored document."""
    return document.__dict__.get(LOADED) or {}


def present_value(doc: Mapping[str, Any], db_path: str) -> Any:
    """A key value of a document about to be sent (or just sent): ABSENT when missing or null."""
    value = stored_value(doc, db_path)
    return ABSENT if value is UNKNOWN or value is None else value


def same_key_value(before: Any, after: Any) -> bool:
    """Whether two key values are one value as BSON compares them: type and value (``1`` is not ``True``, although
    Python says so), absent and null alike (the server files a missing key field under null)."""
    before = None if before is ABSENT or before is UNKNOWN else before
    after = None if after is ABSENT or after is UNKNOWN else after
    try:
        return sort_key(before) == sort_key(after)
    except TypeError:
        return before == after and type(before) is type(after)


def shown(value: Any) -> str:
    return "nothing" if value is ABSENT or value is UNKNOWN else repr(value)
