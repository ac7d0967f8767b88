"""mongoengine's write path, made right for the shard key, on the classes mongoshard declares.

mongoengine adds the key fields to the filter of ``save``, ``update``,
``modify``, ``reload`` and ``delete``, but with the values the object holds
*now* (``Document._object_key``, ``Document._integrate_shard_key`` in
``mongoengine/document.py``).  That gives, reproduced on mongoengine 0.29 and
unchanged on its master (facts sheet, "mongoengine write paths with a shard
key"):

* a key on the primary key sends ``{$and: [{_id: X}, {_id: X}]}`` (#2772),
  which a router before 7.1 cannot target for a single-document write;
* a changed embedded key field (``box.owner.pid = 2``, #551) is not caught by
  the "Shard Keys are immutable" guard, and ``save()`` upserts on the new
  value: E11000 on one server, a second document with the same ``_id`` on
  another shard of a cluster;
* a key field that is None makes ``save()`` raise KeyError;
* after ``.only()`` without the key fields, updates filter on the defaults
  and silently match nothing.

The fix is Mongoose's (``lib/plugins/sharding.js``, ``storeShard``) and
Mongoid's (``shard_key_selector(prefer_persisted: true)``): remember the key
values a document was loaded with, as stored, and filter on those.  It is
installed per class by ``@sharded``, never on mongoengine globally:

* filters hold ``_id`` once and each other key field's loaded value; a value
  the load did not bring (``.only()``, or absent) is left out, which is still
  exact, because the server accepts a single update or delete with an exact
  ``_id`` ("A single update/delete on a sharded collection must contain an
  exact match on _id or contain the shard key", the router's write targeting);
  ``modify()`` (findAndModify, which needs the whole key before 7.1) fetches
  the missing values first;
* ``save()`` of a loaded document refuses, before sending anything, a changed
  key field, embedded or dynamic included, and never upserts (a document
  deleted meanwhile is an error, not re-created on another shard);
  ``modify(owner__pid=2)`` changes a key the way the server allows, filtered
  on the full old key;
* a new document without a key value fails ``save()`` with a ValidationError.
"""

from __future__ import annotations

import contextvars
import copy
from typing import Any, Callable, Mapping

from mongoengine.errors import OperationError, ValidationError

from ..errors import MongoshardError

__all__ = ["install_safe_writes", "has_safe_writes", "ShardKeyWriteError", "loaded_key"]

# The key values a document was loaded with, by database path: a value, ABSENT (known not stored), or not there.
_LOADED = "_mongoshard_loaded_key"
_REFRESHING = "_mongoshard_refreshing"
_ABSENT = object()
_UNKNOWN = object()
# Documents built from the server's answer while a reload/modify runs, so that their stored key values are known.
_captured: contextvars.ContextVar[list | None] = contextvars.ContextVar("mongoshard_captured", default=None)


class ShardKeyWriteError(MongoshardError, OperationError):
    """A write that would change or lose a document's shard key; nothing was sent (an OperationError, like
    mongoengine's own "Shard Keys are immutable")."""


def install_safe_writes(document_class: type) -> None:
    """Give ``document_class`` (and its subclasses) the shard-key-safe write path; idempotent."""
    for name, make in _OVERRIDES.items():
        previous = getattr(document_class, name)
        if getattr(previous, "_mongoshard_safe", False) or getattr(getattr(previous, "fget", None), "_mongoshard_safe", False):
            continue
        replacement = make(previous)
        target = replacement.fget if isinstance(replacement, property) else getattr(replacement, "__func__", replacement)
        target._mongoshard_safe = True
        setattr(document_class, name, replacement)


def has_safe_writes(document_class: type) -> bool:
    """Whether ``@sharded`` made this class's writes safe (on it or on a base)."""
    object_key = getattr(document_class, "_object_key", None)
    return isinstance(object_key, property) and getattr(object_key.fget, "_mongoshard_safe", False)


def loaded_key(document: Any) -> dict[str, Any]:
    """The key values ``document`` was loaded or last saved with, by database path (left out when unknown)."""
    loaded = getattr(document, _LOADED, {})
    return {path: (None if value is _ABSENT else value) for path, value in loaded.items() if value is not _UNKNOWN}


# The key of a class, in database paths ---------------------------------------------


def _key_entries(cls: type) -> list[tuple[str, str]]:
    """(model path, database path) of every key field but the primary key, which every filter holds already."""
    id_field = cls._meta.get("id_field")
    entries = []
    for path in cls._meta.get("shard_key") or ():
        if path in ("pk", "_id", "id", id_field):
            continue
        entries.append((path, ".".join(field.db_field if hasattr(field, "db_field") else str(field)
                                       for field in cls._lookup_field(path.split(".")))))
    return entries


def _stored(son: Mapping[str, Any], db_path: str) -> Any:
    value: Any = son
    for part in db_path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _UNKNOWN
        value = value[part]
    return copy.deepcopy(value)


def _current(document: Any, db_path: str) -> Any:
    value = _stored(document.to_mongo(), db_path)
    return _ABSENT if value is _UNKNOWN or value is None else value


def _remember(document: Any, values: Mapping[str, Any]) -> None:
    object.__setattr__(document, _LOADED, dict(values))


# The overrides, each built over what the class had before ---------------------------


def _from_son(previous: Callable) -> classmethod:
    build = previous.__func__

    def from_son(cls, son, *args, **kwargs):
        document = build(cls, son, *args, **kwargs)
        if getattr(document, "_is_document", False):
            _remember(document, {db: _stored(son, db) for _, db in _key_entries(type(document))})
            captured = _captured.get()
            if captured is not None:
                captured.append(document)
        return document

    return classmethod(from_son)


def _object_key(previous: property) -> property:
    def object_key(self) -> dict[str, Any]:
        """The filter of update/modify/reload/delete: the primary key once (no ``$and`` of two ``_id``s, #2772),
        the other key fields as loaded, in database names (``__raw__``), so embedded and dynamic fields need no
        translation."""
        key = {self._meta["id_field"]: self.pk}
        raw = {db: (None if value is _ABSENT else value) for db, value in _filter_values(self).items()}
        if raw:
            key["__raw__"] = raw
        return key

    return property(object_key)


def _filter_values(document: Any) -> dict[str, Any]:
    """Loaded key values of a stored document (unknown ones left out); current ones for a new document."""
    if document._created:
        return {db: _current(document, db) for _, db in _key_entries(type(document))}
    return {db: value for db, value in _loaded(document).items() if value is not _UNKNOWN}


def _loaded(document: Any) -> dict[str, Any]:
    """The remembered key of a stored document; every value unknown when the memory was lost on the way (pickle and
    deepcopy keep only mongoengine's own state), so that nothing is filtered or compared on a guess."""
    loaded = getattr(document, _LOADED, None)
    if loaded is None:
        loaded = {db: _UNKNOWN for _, db in _key_entries(type(document))}
        _remember(document, loaded)
    return loaded


def _integrate_shard_key(previous: Callable) -> Callable:
    def integrate_shard_key(self, doc, select_dict):
        for db, value in _filter_values(self).items():
            select_dict[db] = None if value is _ABSENT else value
        return select_dict

    return integrate_shard_key


def _save(previous: Callable) -> Callable:
    def save(self, *args, **kwargs):
        entries = _key_entries(type(self))
        if not self._created:
            _refuse_key_changes(self, entries)
            # An update, not an upsert that could land on another shard; a copy being written elsewhere
            # (switch_db/switch_collection) is mongoengine's upsert into that other collection.
            switched = "_get_collection" in self.__dict__ or "_get_db" in self.__dict__
            if len(args) < 8 and not switched:  # save_condition is the 8th positional parameter of Document.save
                kwargs.setdefault("save_condition", {})
        else:
            if kwargs.get("validate", args[1] if len(args) > 1 else True):
                _require_key_values(self, entries)
            if self.pk is not None and not kwargs.get("force_insert", args[0] if args else False):
                _refuse_moved_id(self, entries)
        result = previous(self, *args, **kwargs)
        _remember(self, {db: _current(self, db) for _, db in entries})
        return result

    return save


def _refuse_moved_id(document: Any, entries: list[tuple[str, str]]) -> None:
    """A new document given the ``_id`` of a stored one: mongoengine replaces by ``{_id, key}`` and, when the stored one
    has another key, inserts a second document with the same ``_id`` (on another shard of a cluster)."""
    if not entries:
        return
    id_value = document._fields[document._meta["id_field"]].to_mongo(document.pk)
    stored = document._get_collection().find_one({"_id": id_value}, {db: 1 for _, db in entries})
    if stored is None:
        return
    for path, db in entries:
        before, after = _stored(stored, db), _current(document, db)
        if (None if before is _UNKNOWN else before) != (None if after is _ABSENT else after):
            raise ShardKeyWriteError(
                f"{type(document).__name__} {document.pk!r} is stored with {path} = {_shown(before)}, not "
                f"{_shown(after)}; saving it as new would make a second document with the same _id: load it and use "
                f"modify({'__'.join(path.split('.'))}=...)"
            )


def _refuse_key_changes(document: Any, entries: list[tuple[str, str]]) -> None:
    changed = document._get_changed_fields()
    loaded = _loaded(document)
    name = type(document).__name__
    for path, db in entries:
        if not any(field == db or db.startswith(field + ".") or field.startswith(db + ".") for field in changed):
            continue
        before, after = loaded.get(db, _UNKNOWN), _current(document, db)
        if before is _UNKNOWN:
            raise ShardKeyWriteError(
                f"{name}.{path} is part of the shard key and this object does not know the value it was stored with "
                f"(loaded with .only()/.exclude(), or a pickle/deepcopy copy), so save() cannot tell a change: "
                f"reload('{path.split('.')[0]}') first, or use modify(...)"
            )
        if (None if before is _ABSENT else before) != (None if after is _ABSENT else after):
            update = "__".join(path.split("."))
            raise ShardKeyWriteError(
                f"{name}.{path} is part of the shard key and changed from {_shown(before)} to {_shown(after)}; save() "
                f"would filter on the wrong key, so nothing was sent: use modify({update}=...), which filters on the "
                "loaded key so that the server can move the document"
            )


def _shown(value: Any) -> str:
    return "nothing" if value is _ABSENT or value is _UNKNOWN else repr(value)


def _require_key_values(document: Any, entries: list[tuple[str, str]]) -> None:
    missing = [path for path, db in entries if _current(document, db) is _ABSENT]
    if missing:
        name = type(document).__name__
        raise ValidationError(
            f"{name} has no value for the shard key field(s) {', '.join(missing)}; every document of a sharded "
            "collection needs its key (a missing field is filed under null, one chunk for all of them): set it "
            "before save()",
            field_name=missing[0],
        )


def _refreshing(method_name: str) -> Callable[[Callable], Callable]:
    """reload()/modify() rewrite key fields from the server's answer: let them past mongoengine's guard, and
    remember the values the server returned as the new loaded key."""

    def wrap(previous: Callable) -> Callable:
        def refresh(self, *args, **kwargs):
            if method_name == "modify":
                _complete_loaded_key(self)
            captured: list = []
            token = _captured.set(captured)
            object.__setattr__(self, _REFRESHING, True)
            try:
                result = previous(self, *args, **kwargs)
            finally:
                object.__setattr__(self, _REFRESHING, False)
                _captured.reset(token)
            answer = next((doc for doc in reversed(captured) if doc.pk == self.pk), None)
            if answer is not None and result is not False:
                merged = dict(_loaded(self))
                merged.update({db: value for db, value in getattr(answer, _LOADED).items() if value is not _UNKNOWN})
                _remember(self, merged)
            return result

        return refresh

    return wrap


def _complete_loaded_key(document: Any) -> None:
    """Fetch the key values the load did not bring: findAndModify needs the whole key before MongoDB 7.1."""
    if document._created or document.pk is None:
        return
    loaded = _loaded(document)
    unknown = [db for db, value in loaded.items() if value is _UNKNOWN]
    if not unknown:
        return
    stored = document._get_collection().find_one({"_id": document._fields[document._meta["id_field"]].to_mongo(document.pk)},
                                                 {db: 1 for db in unknown})
    if stored is not None:
        for db in unknown:
            value = _stored(stored, db)
            loaded[db] = _ABSENT if value is _UNKNOWN else value


def _setattr(previous: Callable) -> Callable:
    def set_attribute(self, name, value):
        if self.__dict__.get(_REFRESHING) and name in (self._meta.get("shard_key") or ()):
            self._data[name] = value  # the server's value: mongoengine's guard compares with _data (base/document.py)
        previous(self, name, value)

    return set_attribute


_OVERRIDES: dict[str, Callable[[Any], Any]] = {
    "_from_son": _from_son,
    "_object_key": _object_key,
    "_integrate_shard_key": _integrate_shard_key,
    "save": _save,
    "reload": _refreshing("reload"),
    "modify": _refreshing("modify"),
    "__setattr__": _setattr,
}
