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
* a document is *stored* when it was loaded from the server, saved or
  bulk-inserted through its class (and a pickle or deep copy keeps that, with
  its loaded key); mongoengine's ``_created`` cannot tell, since assigning an
  ``_id`` to a new document clears it (st2 does that for every action run), so
  such a document is inserted (upserted on its whole key), as mongoengine does;
* the key is checked on the document as it is about to be sent
  (``_save_create``/``_save_update``), after ``clean()`` and the ``pre_save``
  and ``pre_save_post_validation`` signals, which applications use to compute
  key values (slugs, digests);
* ``save()`` of a stored document refuses, before sending anything, a changed
  key field, embedded or dynamic included, values compared as BSON compares
  them (``1`` is not ``True``), and never upserts, even given
  ``save_condition=None`` (a document deleted meanwhile is an error, not
  re-created on another shard); assigning another value to a top-level key
  field of a stored document is refused at once with the same fix:
  ``modify(owner__pid=2)`` changes a key the way the server allows, filtered
  on the full old key;
* a new document without a key value fails ``save()`` and
  ``QuerySet.insert`` with a ValidationError.

Every write sent holds ``_id`` (single updates and deletes by ``_id`` are
accepted by every router version) and, for upserts and findAndModify, the
whole key, which every version from 7.0 routes (facts sheet, "Write targeting
through a router").
"""

from __future__ import annotations

import contextvars
from typing import Any
from collections.abc import Callable, Mapping

from mongoengine.errors import SaveConditionError

from .safe_inserts import ShardKeyWriteError, install_safe_inserts, refuse_moved_ids, require_key_values
from .stored_key import (ABSENT, LOADED, UNKNOWN, current_value, is_stored, key_entries, loaded_key, loaded_memory,
                         present_value, remember, remember_stored, same_key_value, shown, stored_value)

__all__ = ["install_safe_writes", "has_safe_writes", "ShardKeyWriteError", "loaded_key"]

_REFRESHING = "_mongoshard_refreshing"
_HOME_ALIAS = "_mongoshard_home_alias"  # the db_alias a class was declared with
# Documents built from the server's answer while a reload/modify runs, so that their stored key values are known.
_captured: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar("mongoshard_captured", default=None)
# The caller's own raw filter of the modify() under way (a compare-and-set), kept beside the key.
_caller_raw: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar("mongoshard_caller_raw", default=None)
# Whether the save() under way validates (save(validate=False) may store a document without its key).
_validating: contextvars.ContextVar[bool] = contextvars.ContextVar("mongoshard_validating", default=True)


def install_safe_writes(document_class: type[Any]) -> None:
    """Give ``document_class`` (and its subclasses) the shard-key-safe write path; idempotent."""
    for name, make in _OVERRIDES.items():
        previous = getattr(document_class, name)
        if getattr(previous, "_mongoshard_safe", False) or getattr(getattr(previous, "fget", None), "_mongoshard_safe", False):
            continue
        replacement = make(previous)
        target: Any = replacement.fget if isinstance(replacement, property) else getattr(replacement, "__func__", replacement)
        target._mongoshard_safe = True
        setattr(document_class, name, replacement)
    if _HOME_ALIAS not in vars(document_class):  # the switch_db context manager rewrites _meta["db_alias"] meanwhile
        from mongoengine.connection import DEFAULT_CONNECTION_NAME

        setattr(document_class, _HOME_ALIAS, document_class._meta.get("db_alias") or DEFAULT_CONNECTION_NAME)
    install_safe_inserts(document_class)


def has_safe_writes(document_class: type[Any]) -> bool:
    """Whether ``@sharded`` made this class's writes safe (on it or on a base)."""
    object_key = getattr(document_class, "_object_key", None)
    return isinstance(object_key, property) and getattr(object_key.fget, "_mongoshard_safe", False)


# The overrides, each built over what the class had before ---------------------------


def _from_son(previous: Any) -> classmethod[Any, ..., Any]:
    build = previous.__func__

    def from_son(cls: Any, son: Any, *args: Any, **kwargs: Any) -> Any:
        document = build(cls, son, *args, **kwargs)
        if getattr(document, "_is_document", False):
            remember_stored(document, son)
            captured = _captured.get()
            if captured is not None:
                captured.append(document)
        return document

    return classmethod(from_son)


def _object_key(previous: property) -> property:
    def object_key(self: Any) -> dict[str, Any]:
        """The filter of update/modify/reload/delete: the primary key once (no ``$and`` of two ``_id``s, #2772),
        the other key fields as loaded, in database names (``__raw__``), so embedded and dynamic fields need no
        translation."""
        key = {self._meta["id_field"]: self.pk}
        raw = {db: (None if value is ABSENT else value) for db, value in _filter_values(self).items()}
        callers = _caller_raw.get()
        if callers is not None:  # modify(query={"__raw__": ...}): mongoengine would replace it with this one; keep both
            raw = {"$and": [dict(callers), raw]} if raw else dict(callers)
        if raw:
            key["__raw__"] = raw
        return key

    return property(object_key)


def _filter_values(document: Any) -> dict[str, Any]:
    """Loaded key values of a stored document (unknown ones left out); current ones for a new document."""
    if not is_stored(document):
        return {db: current_value(document, db) for _, db in key_entries(type(document))}
    return {db: value for db, value in loaded_memory(document).items() if value is not UNKNOWN}


def _integrate_shard_key(previous: Callable[..., Any]) -> Callable[..., Any]:
    def integrate_shard_key(self: Any, doc: Any, select_dict: Any) -> Any:
        for db, value in _filter_values(self).items():
            if db in select_dict:  # the caller's save_condition on a key field: kept beside the key
                select_dict.setdefault("$and", []).append({db: select_dict.pop(db)})
            select_dict[db] = None if value is ABSENT else value
        return select_dict

    return integrate_shard_key


def _save(previous: Callable[..., Any]) -> Callable[..., Any]:
    def save(self: Any, *args: Any, **kwargs: Any) -> Any:
        # save(force_insert, validate, ...): whether the key is required is read here, checked just before sending
        token = _validating.set(bool(kwargs.get("validate", args[1] if len(args) > 1 else True)))
        try:
            return previous(self, *args, **kwargs)
        finally:
            _validating.reset(token)

    return save


def _save_create(previous: Callable[..., Any]) -> Callable[..., Any]:
    """An insert (or mongoengine's replace-then-insert for a new document with an ``_id``), checked on the document
    as it will be sent: after ``clean()``, ``pre_save`` and ``pre_save_post_validation`` computed what they compute."""

    def save_create(self: Any, doc: Any, force_insert: Any, write_concern: Any) -> Any:
        entries = key_entries(type(self))
        if force_insert and is_stored(self) and not _switched(self):
            raise ShardKeyWriteError(
                f"{type(self).__name__} {self.pk!r} is stored already; save(force_insert=True) would insert it again, a "
                "second document with its _id (on another shard of a cluster): save() without force_insert updates it")
        _check_new_document(self, doc, entries, check_id="_id" in doc)
        if is_stored(self) and not _switched(self) and "_id" in doc and \
                self._get_collection().find_one({"_id": doc["_id"]}, {"_id": 1}) is None:
            # mongoengine's replace-then-insert (a stored document marked new again, e.g. switch_collection(its own
            # collection, keep_created=False)) would re-create a document deleted meanwhile
            raise SaveConditionError(f"{type(self).__name__} {self.pk!r} was deleted since it was loaded; save() never "
                                     "re-creates a stored document: build a new one to store it again")
        result = previous(self, doc, force_insert, write_concern)
        remember(self, {db: present_value(doc, db) for _, db in entries})
        return result

    return save_create


def _save_update(previous: Callable[..., Any]) -> Callable[..., Any]:
    """An update of a stored document (never an upsert, never a key change), or mongoengine's upsert of a new
    document whose ``_id`` was assigned after construction (``doc.id = ObjectId()``), which is an insert."""

    def save_update(self: Any, doc: Any, save_condition: Any, write_concern: Any) -> Any:
        entries = key_entries(type(self))
        if is_stored(self):
            _refuse_key_changes(self, entries, doc)
            # A copy being written elsewhere (switch_db/switch_collection) is mongoengine's upsert into that other
            # collection; anywhere else a stored document deleted meanwhile must not be re-created (on another shard).
            if save_condition is None and not _switched(self):
                save_condition = {}
        else:
            _check_new_document(self, doc, entries, check_id=True)
        result = previous(self, doc, save_condition, write_concern)
        remember(self, {db: present_value(doc, db) for _, db in entries})
        return result

    return save_update


def _switched(document: Any) -> bool:
    """Written elsewhere than the class's own collection: ``doc.switch_collection()``/``switch_db()`` or the context
    managers of the same names.  Judged by where this save goes, never by leftovers: mongoengine's context managers
    restore the class by assigning its methods back, and an instance switched back to its own collection writes
    there again."""
    from mongoengine.connection import DEFAULT_CONNECTION_NAME, get_db

    cls = type(document)
    target = document._get_collection()
    own_database = get_db(getattr(cls, _HOME_ALIAS, None) or DEFAULT_CONNECTION_NAME).name
    return bool(target.name != cls._meta.get("collection") or target.database.name != own_database)


def _check_new_document(document: Any, doc: Mapping[str, Any], entries: list[tuple[str, str]], *, check_id: bool) -> None:
    if _validating.get():
        require_key_values(document, doc, entries)
    if check_id:
        refuse_moved_ids(type(document), document._get_collection(), [(document, doc)], entries)


def _refuse_key_changes(document: Any, entries: list[tuple[str, str]], doc: Mapping[str, Any]) -> None:
    """Compare the key as it is about to be sent with the key the document was stored with: a change made by the
    caller, by ``clean()`` or by a signal handler alike."""
    changed = document._get_changed_fields()
    loaded = loaded_memory(document)
    name = type(document).__name__
    for path, db in entries:
        before, after = loaded.get(db, UNKNOWN), present_value(doc, db)
        if before is UNKNOWN:
            if any(field == db or db.startswith(field + ".") or field.startswith(db + ".") for field in changed):
                raise ShardKeyWriteError(
                    f"{name}.{path} is part of the shard key and this object does not know the value it was stored "
                    f"with (loaded with .only()/.exclude()), so save() cannot tell a change: "
                    f"reload('{path.split('.')[0]}') first, or use modify(...)"
                )
            continue
        if not same_key_value(before, after):
            raise ShardKeyWriteError(_key_change_message(name, path, before, after, "nothing was sent"))


def _key_change_message(name: str, path: str, before: Any, after: Any, where: str) -> str:
    update = "__".join(path.split("."))
    return (f"{name}.{path} is part of the shard key and changed from {shown(before)} to {shown(after)}; {where}, "
            f"because save() would filter on the wrong key: use modify({update}=...), which filters on the loaded key "
            "so that the server can move the document")


def _refreshing(method_name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """reload()/modify() rewrite key fields from the server's answer: let them past mongoengine's guard, and
    remember the values the server returned as the new loaded key."""

    def wrap(previous: Callable[..., Any]) -> Callable[..., Any]:
        def refresh(self: Any, *args: Any, **kwargs: Any) -> Any:
            if method_name == "modify":
                _complete_loaded_key(self)
            query = kwargs.get("query", args[0] if args else None) if method_name == "modify" else None
            raw_token = _caller_raw.set(query.get("__raw__") if isinstance(query, Mapping) else None)
            captured: list[Any] = []
            token = _captured.set(captured)
            object.__setattr__(self, _REFRESHING, True)
            try:
                result = previous(self, *args, **kwargs)
            finally:
                object.__setattr__(self, _REFRESHING, False)
                _captured.reset(token)
                _caller_raw.reset(raw_token)
            answer = next((doc for doc in reversed(captured) if doc.pk == self.pk), None)
            if answer is not None and result is not False:
                merged = dict(loaded_memory(self))
                merged.update({db: value for db, value in loaded_memory(answer).items() if value is not UNKNOWN})
                remember(self, merged)
            return result

        return refresh

    return wrap


def _complete_loaded_key(document: Any) -> None:
    """Fetch the key values the load did not bring: findAndModify needs the whole key before MongoDB 7.1."""
    if not is_stored(document) or document.pk is None:
        return
    loaded = loaded_memory(document)
    unknown = [db for db, value in loaded.items() if value is UNKNOWN]
    if not unknown:
        return
    stored = document._get_collection().find_one({"_id": document._fields[document._meta["id_field"]].to_mongo(document.pk)},
                                                 dict.fromkeys(unknown, 1))
    if stored is not None:
        for db in unknown:
            value = stored_value(stored, db)
            loaded[db] = ABSENT if value is UNKNOWN else value
        remember(document, loaded)


def _setattr(previous: Callable[..., Any]) -> Callable[..., Any]:
    guarded_names: dict[type[Any], frozenset[str]] = {}  # per class: its key fields but the primary key

    def set_attribute(self: Any, name: str, value: Any) -> None:
        # mongoengine sets a dozen attributes on every document it builds: the common case costs one lookup here
        cls = type(self)
        guarded = guarded_names.get(cls)
        if guarded is None:
            guarded = guarded_names[cls] = frozenset(self._meta.get("shard_key") or ()) - {self._meta.get("id_field")}
        if name in guarded:
            # (the primary key is mongoengine's to assign after an insert; it is in every filter anyway)
            if getattr(self, _REFRESHING, False) or not is_stored(self):
                # The server's value, or a new document's own (mongoengine's guard, in base/document.py, compares
                # with _data and also fires for a new document once its _id was assigned)
                self._data[name] = value
            elif not same_key_value(self._data.get(name), value):
                raise ShardKeyWriteError(_key_change_message(cls.__name__, name, self._data.get(name), value,
                                                             "the assignment was refused"))
        previous(self, name, value)

    return set_attribute


def _update(previous: Callable[..., Any]) -> Callable[..., Any]:
    """``doc.update(set__tenant=...)`` moves the stored key: afterwards the object's key fields and the remembered key
    are the server's again (one read), so that the next save() or delete() filters on where the document is now."""

    def update(self: Any, **kwargs: Any) -> Any:
        result = previous(self, **kwargs)
        paths = {"__".join(path.split(".")) for entry in key_entries(type(self)) for path in entry}  # model and database
        names = [name for name in kwargs if name != "__raw__"]
        raw = kwargs.get("__raw__")
        if isinstance(raw, Mapping):  # {"$set": {"tenant": ...}}: the database paths each operator names
            names += ["set__" + "__".join(str(field).split(".")) for fields in raw.values() if isinstance(fields, Mapping)
                      for field in fields]
        # a pipeline ($set, $replaceWith, $project stages...) may touch anything: one read tells
        touched = isinstance(raw, (list, tuple)) or any(
            name.split("__", 1)[-1] == path or name.split("__", 1)[-1].startswith(path + "__")
            or path.startswith(name.split("__", 1)[-1] + "__") for name in names for path in paths)
        if touched and is_stored(self) and result:
            entries = key_entries(type(self))
            stored = self._get_collection().find_one({"_id": self._fields[self._meta["id_field"]].to_mongo(self.pk)},
                                                     {db: 1 for _, db in entries})
            if stored is not None:  # where it is now, then the object's key fields from there
                remember(self, {db: present_value(stored, db) for _, db in entries})
                self.reload(*dict.fromkeys(path.split(".")[0] for path, _ in entries))
        return result

    return update


def _getstate(previous: Callable[..., Any]) -> Callable[..., Any]:
    def getstate(self: Any) -> Any:
        state = previous(self)
        if is_stored(self):
            state[LOADED] = dict(loaded_memory(self))  # pickle and deepcopy keep what the document was stored with
        return state

    return getstate


def _setstate(previous: Callable[..., Any]) -> Callable[..., Any]:
    def setstate(self: Any, state: Any) -> None:
        loaded = state.pop(LOADED, None) if isinstance(state, dict) else None
        previous(self, state)
        if loaded is not None:
            remember(self, loaded)

    return setstate


_OVERRIDES: dict[str, Callable[[Any], Any]] = {
    "_from_son": _from_son,
    "_object_key": _object_key,
    "_integrate_shard_key": _integrate_shard_key,
    "save": _save,
    "_save_create": _save_create,
    "_save_update": _save_update,
    "__getstate__": _getstate,
    "update": _update,
    "__setstate__": _setstate,
    "reload": _refreshing("reload"),
    "modify": _refreshing("modify"),
    "__setattr__": _setattr,
}
