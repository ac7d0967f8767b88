"""Lookups kept exact: every write of a Document with lookups and its lookup entries in one transaction, and reads by a
looked-up field routed through the lookup.

Installed per class by ``@sharded(lookups=...)``, nothing patched on mongoengine globally:

* ``_get_collection`` hands mongoengine a collection bound to the transaction's session while one runs (mongoengine
  0.29 has no sessions of its own), so its own ``save``/``update``/``delete`` code runs inside the transaction;
* ``save()`` and the queryset's ``update``, ``modify``, ``delete`` and ``insert`` read what they change (inside the
  transaction), write, read the result, and move the entries whose value changed; writes that touch no looked-up
  field (nor the shard key) run as before, at no extra cost;
* the transaction is the driver's ``with_transaction``: transient errors retry the whole write (the document's state
  restored before each attempt); a value taken in a unique lookup raises mongoengine's ``NotUniqueError`` and
  nothing is written;
* a query with an equality on a routed looked-up field reads the lookup first, then asks for the owners by ``_id``
  and full shard key with the original filter kept, so a stale entry never returns a wrong document.

Transactions need a replica set or a sharded cluster; a standalone server is refused in one sentence.
"""

from __future__ import annotations

import copy
import functools
from typing import Any
from collections.abc import Callable, Mapping

from .lookup_entries import (LookupWriteError, in_transaction, lookup_collection, lookups_of, projection,
                             retryable, session_bound, sync_entries, touched)
from .lookups import LookupSpec, routed_lookup
from .stored_key import QUERYSET_MIXIN_BASE, is_stored

__all__ = ["install_lookups", "LookupWriteError"]


def install_lookups(document_class: type[Any], lookups: tuple[LookupSpec, ...], key_paths: list[str]) -> None:
    """Give ``document_class`` lookup-keeping writes and routed reads over its resolved ``lookups`` and shard key
    (database paths); idempotent."""
    from mongoengine.queryset import QuerySet

    document_class._mongoshard_lookup_specs = lookups
    document_class._mongoshard_key_paths = list(key_paths)
    if vars(document_class).get("_mongoshard_lookups_installed"):
        return
    base = document_class._meta.get("queryset_class", QuerySet)
    document_class._meta["queryset_class"] = type(f"{base.__name__}WithLookups", (_LookupQuerySet, base), {})
    get_collection = document_class._get_collection.__func__
    document_class._get_collection = classmethod(functools.partial(session_bound, get_collection))
    document_class.save = _saving(document_class.save)
    document_class._mongoshard_lookups_installed = True


# save() ------------------------------------------------------------------------------------------------------------

def _saving(previous: Callable[..., Any]) -> Callable[..., Any]:
    def save(self: Any, *args: Any, **kwargs: Any) -> Any:
        cls = type(self)
        if is_stored(self) and not touched(cls, self._get_changed_fields()):
            return previous(self, *args, **kwargs)
        state = _state(self)

        def restore() -> None:
            _restore(self, state)

        def body() -> Any:
            collection = cls._get_collection()  # inside the transaction: what this write will change
            before = collection.find_one({"_id": self.to_mongo().get("_id")}, projection(cls)) \
                if self.pk is not None else None
            result = retryable(lambda: previous(self, *args, **kwargs))
            owner = self.to_mongo()["_id"]
            # what the server holds now, not the object: a field it did not load (.only()) or changed meanwhile
            # by another writer stays as stored, and so do its entries
            sync_entries(cls, owner, before, collection.find_one({"_id": owner}, projection(cls)))
            return result

        try:
            return in_transaction(cls, body, restore)
        except BaseException:
            restore()
            raise

    save._mongoshard_lookups = True  # type: ignore[attr-defined]
    return save


def _slots(document: Any) -> list[str]:
    """mongoengine keeps a document's data in ``__slots__`` (BaseDocument), not in its ``__dict__``."""
    return [name for cls in type(document).__mro__ for name in getattr(cls, "__slots__", ()) if name != "__weakref__"]


def _state(document: Any) -> dict[str, Any]:
    """Everything a failed attempt of save() may have changed on the document: its slots and its ``__dict__`` (values
    that cannot be copied, such as the collection switch_db() keeps there, are kept as they are)."""
    slots = {name: getattr(document, name) for name in _slots(document) if hasattr(document, name)}
    return {"slots": _copied(slots), "dict": _copied(dict(document.__dict__))}


def _copied(values: dict[str, Any]) -> dict[str, Any]:
    copies = {}
    for name, value in values.items():
        try:
            copies[name] = copy.deepcopy(value)
        except Exception:  # a pymongo Collection, a lock, a lambda: not state a retry needs back
            copies[name] = value
    return copies


def _restore(document: Any, state: dict[str, Any]) -> None:
    """The document as it was before the save began (a retry starts from there, a failure leaves it so)."""
    fresh = {"slots": _copied(state["slots"]), "dict": _copied(state["dict"])}
    for name in _slots(document):
        if name in fresh["slots"]:
            object.__setattr__(document, name, fresh["slots"][name])
        elif hasattr(document, name):
            object.__delattr__(document, name)
    document.__dict__.clear()
    document.__dict__.update(fresh["dict"])


# The queryset --------------------------------------------------------------------------------------------------------

class _LookupQuerySet(QUERYSET_MIXIN_BASE):
    """Queryset writes that keep the lookups exact, and reads routed through them."""

    def _in_session(self) -> Any:
        """This queryset, bound to the running transaction (its collection was taken before the transaction)."""
        bound = self.clone()
        bound._collection_obj = self._document._get_collection()
        return bound

    def _matching(self) -> dict[Any, dict[str, Any]]:
        collection = self._document._get_collection()
        return {doc["_id"]: doc for doc in collection.find(self._query, projection(self._document))}

    def _keeping_lookups(self, write: Callable[[Any], Any]) -> Any:
        cls = self._document

        def body() -> Any:
            bound = self._in_session()
            before = bound._matching()
            result = retryable(lambda: write(bound))
            collection = cls._get_collection()
            after = {doc["_id"]: doc for doc in collection.find({"_id": {"$in": list(before)}}, projection(cls))}
            for owner in before:
                sync_entries(cls, owner, before[owner], after.get(owner))
            return result

        return in_transaction(cls, body)

    def update(self, *args: Any, upsert: bool = False, multi: bool = True, **update: Any) -> Any:
        base = super().update
        if upsert:  # the filter alone may give the new document a looked-up value
            raise LookupWriteError(f"{self._document.__name__}: an upsert through the queryset cannot keep its lookups "
                                   "exact (it may create a document it never read); save() a new document instead")
        if not _touches_update(self._document, update):
            return base(*args, upsert=upsert, multi=multi, **update)
        return self._keeping_lookups(lambda bound: super().update(*args, upsert=False, multi=multi,
                                                                                          **update))

    def modify(self, upsert: bool = False, full_response: bool = False, remove: bool = False, new: bool = False,
               array_filters: Any = None, **update: Any) -> Any:
        base = super().modify
        options = {"full_response": full_response, "remove": remove, "new": new, "array_filters": array_filters}
        if upsert:
            raise LookupWriteError(f"{self._document.__name__}: modify(upsert=True) cannot keep its lookups exact (it may "
                                   "create a document it never read); save() a new document instead")
        if not (remove or _touches_update(self._document, update)):
            return base(upsert=upsert, **options, **update)
        return self._keeping_lookups(lambda bound: super().modify(upsert=False, **options, **update))

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        return self._keeping_lookups(lambda bound: super().delete(*args, **kwargs))

    def insert(self, doc_or_docs: Any, load_bulk: bool = True, write_concern: Any = None,
               signal_kwargs: Any = None) -> Any:
        cls = self._document

        def body() -> Any:
            bound = self._in_session()
            result = retryable(lambda: super(_LookupQuerySet, bound).insert(doc_or_docs, load_bulk, write_concern,
                                                                             signal_kwargs))
            inserted = result if isinstance(result, list) else [result]
            ids = [item.pk if hasattr(item, "pk") else item for item in inserted]
            for doc in cls._get_collection().find({"_id": {"$in": ids}}, projection(cls)):
                sync_entries(cls, doc["_id"], None, doc)
            return result

        return in_transaction(cls, body)

    @property
    def _query(self) -> dict[str, Any]:
        """The filter as sent: through the lookup, read again at each execution (a reused queryset follows a value
        that moved), never cached in the queryset."""
        query = super()._query
        routed = routed_lookup(lookups_of(self._document), query)
        return query if routed is None else _routed(self._document, *routed, query)


def _touches_update(document_class: type[Any], update: Mapping[str, Any]) -> bool:
    """An update's keywords (``set__email``, ``profile__email``, ``__raw__``): whether they may change a looked-up or
    key field.  A raw update ($rename names its target as a value, a pipeline may change anything) is read and
    compared whatever it says."""
    from mongoengine.queryset.transform import UPDATE_OPERATORS

    names = []
    for name in update:
        if name in _UPDATE_OPTIONS:
            continue
        if name == "__raw__":
            return True
        operator, _, field = name.partition("__")
        names.append(field if operator in UPDATE_OPERATORS and field else name)  # no operator: mongoengine's $set
    return touched(document_class, names)


_UPDATE_OPTIONS = frozenset({"write_concern", "read_concern", "full_result", "array_filters", "upsert", "multi"})


def _routed(document_class: type[Any], lookup: LookupSpec, lookup_filter: Mapping[str, Any],
            query: Mapping[str, Any]) -> dict[str, Any]:
    """The query narrowed to the owners the lookup names, by _id and full shard key; the original filter kept, so that
    an entry made stale by a write around mongoshard cannot return a document that does not match."""
    entries = lookup_collection(document_class, lookup).find(dict(lookup_filter), {"key": 1, "owner": 1})
    owners = [{"_id": entry["owner"], **_flat(entry.get("key") or {})} for entry in entries]
    if not owners:
        return {"$and": [dict(query), {"_id": {"$in": []}}]}
    return {"$and": [dict(query), owners[0] if len(owners) == 1 else {"$or": owners}]}


def _flat(nested: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, value in nested.items():
        if isinstance(value, Mapping) and value and not any(str(k).startswith("$") for k in value):
            flat.update(_flat(value, f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = value
    return flat
