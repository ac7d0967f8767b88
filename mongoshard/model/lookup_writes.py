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

import contextvars
import copy
import functools
from typing import Any, Callable, Iterable, Mapping

from mongoengine.errors import NotUniqueError, OperationError

from .lookups import LookupSpec, routed_lookup
from .stored_key import ABSENT, UNKNOWN, is_stored, present_value, same_key_value, stored_value

__all__ = ["install_lookups", "lookups_of", "entry_for", "LookupWriteError"]

_session: contextvars.ContextVar[Any] = contextvars.ContextVar("mongoshard_lookup_session", default=None)
# pymongo Collection methods that take a session, as mongoengine calls them
_SESSION_METHODS = frozenset({"find", "find_one", "insert_one", "insert_many", "update_one", "update_many", "replace_one",
                              "delete_one", "delete_many", "find_one_and_update", "find_one_and_replace",
                              "find_one_and_delete", "count_documents", "distinct", "aggregate", "bulk_write"})
_TRANSACTIONS_CHECKED: set[int] = set()


class LookupWriteError(OperationError):
    """A write that cannot keep the lookups exact (refused before anything is sent)."""


def install_lookups(document_class: type, lookups: tuple[LookupSpec, ...], key_paths: list[str]) -> None:
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
    document_class._get_collection = classmethod(functools.partial(_session_bound, get_collection))
    document_class.save = _saving(document_class.save)
    document_class._mongoshard_lookups_installed = True


def lookups_of(document_class: type) -> tuple[LookupSpec, ...]:
    """The class's resolved lookups, as ``@sharded`` installed them (a subclass inherits its base's)."""
    return getattr(document_class, "_mongoshard_lookup_specs", ())


def _key_paths(document_class: type) -> list[str]:
    return getattr(document_class, "_mongoshard_key_paths", [])


# Sessions ------------------------------------------------------------------------------------------------------------

class _SessionCollection:
    """A pymongo collection whose reads and writes join the running transaction."""

    def __init__(self, collection: Any, session: Any) -> None:
        self._collection, self._session = collection, session

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._collection, name)
        if name == "with_options":
            return lambda *args, **kwargs: _SessionCollection(value(*args, **kwargs), self._session)
        if name in _SESSION_METHODS:
            return functools.partial(value, session=self._session)
        return value


def _session_bound(get_collection: Callable[[type], Any], cls: type) -> Any:
    collection = get_collection(cls)
    session = _session.get()
    return collection if session is None else _SessionCollection(collection, session)


def _raw_collection(document_class: type) -> Any:
    collection = document_class._get_collection()
    return getattr(collection, "_collection", collection)


def _lookup_collection(document_class: type, lookup: LookupSpec) -> Any:
    collection = _raw_collection(document_class).database[lookup.collection]
    session = _session.get()
    return collection if session is None else _SessionCollection(collection, session)


def _transaction(document_class: type, body: Callable[[], Any], restore: Callable[[], None] | None = None) -> Any:
    """Run ``body`` in one multi-document transaction (joining one that runs), retried on transient errors."""
    if _session.get() is not None:
        return body()
    client = _raw_collection(document_class).database.client
    _require_transactions(client, document_class)

    def attempt(session: Any) -> Any:
        if restore is not None:
            restore()
        return body()

    with client.start_session() as session:
        token = _session.set(session)
        try:
            return session.with_transaction(attempt)
        finally:
            _session.reset(token)


def _require_transactions(client: Any, document_class: type) -> None:
    if id(client) in _TRANSACTIONS_CHECKED:
        return
    hello = client.admin.command("hello")
    if "setName" not in hello and hello.get("msg") != "isdbgrid":
        raise LookupWriteError(f"{document_class.__name__} has lookups, which are written in a transaction with its "
                               "documents, and a standalone server has no transactions: run a replica set (a one-member "
                               "one will do) or a sharded cluster")
    _TRANSACTIONS_CHECKED.add(id(client))


def _retryable(write: Callable[[], Any]) -> Any:
    """Run a mongoengine write inside the transaction; mongoengine wraps the driver's errors (OperationError, from
    ``save`` and queryset writes) and so drops the TransientTransactionError label that tells ``with_transaction`` to
    retry: such an error is raised again as the driver's own."""
    from pymongo.errors import PyMongoError

    try:
        return write()
    except OperationError as exc:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, PyMongoError) and cause.has_error_label("TransientTransactionError"):
            raise cause from None
        raise


# Entries -------------------------------------------------------------------------------------------------------------

def entry_for(lookup: LookupSpec, value: Any, owner_id: Any, key: Mapping[str, Any]) -> dict[str, Any]:
    """The lookup document of one owner: the value, the owner's full shard key (nested as stored) and its _id."""
    nested: dict[str, Any] = {}
    for path, part in key.items():
        node = nested
        *parents, last = path.split(".")
        for parent in parents:
            node = node.setdefault(parent, {})
        node[last] = part
    entry = {"_id": value} if lookup.unique else {"value": value}
    entry.update(key=nested, owner=owner_id)
    return entry


def _owner_state(document_class: type, son: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(looked-up values by database path, full shard key by database path) of a stored document's SON."""
    values = {lookup.db_field: present_value(son, lookup.db_field) for lookup in lookups_of(document_class)}
    key = {}
    for path in _key_paths(document_class):
        value = stored_value(son, path)
        key[path] = None if value is UNKNOWN else value
    return values, key


def _projection(document_class: type) -> dict[str, int]:
    return {path: 1 for path in [lookup.db_field for lookup in lookups_of(document_class)] + _key_paths(document_class)}


def _sync(document_class: type, owner_id: Any, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> None:
    """Move the owner's entries from its state ``before`` to ``after`` (a SON each; None: absent)."""
    old_values, old_key = _owner_state(document_class, before) if before is not None else ({}, {})
    new_values, new_key = _owner_state(document_class, after) if after is not None else ({}, {})
    key_moved = old_key != new_key
    for lookup in lookups_of(document_class):
        old, new = old_values.get(lookup.db_field, ABSENT), new_values.get(lookup.db_field, ABSENT)
        if same_key_value(old, new) and not (key_moved and new is not ABSENT):
            continue
        collection = _lookup_collection(document_class, lookup)
        if old is not ABSENT:
            collection.delete_one({"_id": old, "owner": owner_id} if lookup.unique else {"value": old, "owner": owner_id})
        if new is not ABSENT:
            _insert_entry(document_class, lookup, collection, entry_for(lookup, new, owner_id, new_key))


def _insert_entry(document_class: type, lookup: LookupSpec, collection: Any, entry: dict[str, Any]) -> None:
    from pymongo.errors import DuplicateKeyError

    try:
        collection.insert_one(entry)
    except DuplicateKeyError:
        raise NotUniqueError(f"{document_class.__name__}.{lookup.path} {shown_value(entry['_id'])} is taken: another "
                             f"document holds it (unique lookup {lookup.collection}); nothing was written") from None


def shown_value(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _touched(document_class: type, names: Iterable[str]) -> bool:
    """Whether changed fields or update keywords reach a looked-up field or a key field (entries hold the key)."""
    watched = [lookup.db_field for lookup in lookups_of(document_class)] + _key_paths(document_class)
    watched += [lookup.path for lookup in lookups_of(document_class)]
    for name in names:
        path = name.replace("__", ".")
        if any(path == w or path.startswith(w + ".") or w.startswith(path + ".") for w in watched):
            return True
    return False


# save() ------------------------------------------------------------------------------------------------------------

def _saving(previous: Callable) -> Callable:
    def save(self, *args, **kwargs):
        cls = type(self)
        if _session.get() is not None or (is_stored(self) and not _touched(cls, self._get_changed_fields())):
            return previous(self, *args, **kwargs)
        state = _state(self)

        def restore() -> None:
            _restore(self, state)

        def body() -> Any:
            collection = _raw_collection(cls)
            before = collection.find_one({"_id": self.to_mongo().get("_id")}, _projection(cls)) \
                if self.pk is not None else None
            result = _retryable(lambda: previous(self, *args, **kwargs))
            _sync(cls, self.to_mongo()["_id"], before, self.to_mongo())
            return result

        try:
            return _transaction(cls, body, restore)
        except BaseException:
            restore()
            raise

    save._mongoshard_lookups = True
    return save


def _slots(document: Any) -> list[str]:
    """mongoengine keeps a document's data in ``__slots__`` (BaseDocument), not in its ``__dict__``."""
    return [name for cls in type(document).__mro__ for name in getattr(cls, "__slots__", ()) if name != "__weakref__"]


def _state(document: Any) -> dict[str, Any]:
    """Everything a failed attempt of save() may have changed on the document: its slots and its ``__dict__``."""
    slots = {name: getattr(document, name) for name in _slots(document) if hasattr(document, name)}
    return copy.deepcopy({"slots": slots, "dict": dict(document.__dict__)})


def _restore(document: Any, state: dict[str, Any]) -> None:
    """The document as it was before the save began (a retry starts from there, a failure leaves it so)."""
    fresh = copy.deepcopy(state)
    for name in _slots(document):
        if name in fresh["slots"]:
            object.__setattr__(document, name, fresh["slots"][name])
        elif hasattr(document, name):
            object.__delattr__(document, name)
    document.__dict__.clear()
    document.__dict__.update(fresh["dict"])


# The queryset --------------------------------------------------------------------------------------------------------

class _LookupQuerySet:
    """Queryset writes that keep the lookups exact, and reads routed through them."""

    _mongoshard_routed = False

    def _in_session(self) -> Any:
        """This queryset, bound to the running transaction (its collection was taken before the transaction)."""
        bound = self.clone()
        bound._collection_obj = self._document._get_collection()
        return bound

    def _matching(self) -> dict[Any, dict[str, Any]]:
        collection = self._document._get_collection()
        return {doc["_id"]: doc for doc in collection.find(self._query, _projection(self._document))}

    def _keeping_lookups(self, write: Callable[[Any], Any]) -> Any:
        cls = self._document

        def body() -> Any:
            bound = self._in_session()
            before = bound._matching()
            result = _retryable(lambda: write(bound))
            collection = cls._get_collection()
            after = {doc["_id"]: doc for doc in collection.find({"_id": {"$in": list(before)}}, _projection(cls))}
            for owner in before:
                _sync(cls, owner, before[owner], after.get(owner))
            return result

        return _transaction(cls, body)

    def update(self, *args: Any, upsert: bool = False, multi: bool = True, **update: Any) -> Any:
        base = super().update  # type: ignore[misc]
        if _session.get() is not None or not _touches_update(self._document, update):
            return base(*args, upsert=upsert, multi=multi, **update)
        if upsert:
            raise LookupWriteError(f"{self._document.__name__}: an upsert through the queryset cannot keep its lookups "
                                   "exact (it may create a document it never read); save() a new document instead")
        return self._keeping_lookups(lambda bound: super(_LookupQuerySet, bound).update(*args, upsert=False, multi=multi,
                                                                                          **update))

    def modify(self, upsert: bool = False, full_response: bool = False, remove: bool = False, new: bool = False,
               array_filters: Any = None, **update: Any) -> Any:
        base = super().modify  # type: ignore[misc]
        options = {"full_response": full_response, "remove": remove, "new": new, "array_filters": array_filters}
        if _session.get() is not None or not (remove or _touches_update(self._document, update)):
            return base(upsert=upsert, **options, **update)
        if upsert:
            raise LookupWriteError(f"{self._document.__name__}: modify(upsert=True) cannot keep its lookups exact (it may "
                                   "create a document it never read); save() a new document instead")
        return self._keeping_lookups(lambda bound: super(_LookupQuerySet, bound).modify(upsert=False, **options, **update))

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        if _session.get() is not None:
            return super().delete(*args, **kwargs)  # type: ignore[misc]
        return self._keeping_lookups(lambda bound: super(_LookupQuerySet, bound).delete(*args, **kwargs))

    def insert(self, doc_or_docs: Any, load_bulk: bool = True, write_concern: Any = None,
               signal_kwargs: Any = None) -> Any:
        base = super().insert  # type: ignore[misc]
        if _session.get() is not None:
            return base(doc_or_docs, load_bulk, write_concern, signal_kwargs)
        cls = self._document

        def body() -> Any:
            bound = self._in_session()
            result = _retryable(lambda: super(_LookupQuerySet, bound).insert(doc_or_docs, load_bulk, write_concern,
                                                                             signal_kwargs))
            inserted = result if isinstance(result, list) else [result]
            ids = [item.pk if hasattr(item, "pk") else item for item in inserted]
            for doc in cls._get_collection().find({"_id": {"$in": ids}}, _projection(cls)):
                _sync(cls, doc["_id"], None, doc)
            return result

        return _transaction(cls, body)

    @property
    def _query(self) -> dict[str, Any]:
        query = super()._query  # type: ignore[misc]
        if self._mongoshard_routed:
            return query
        routed = routed_lookup(lookups_of(self._document), query)
        if routed is not None:
            query = _routed(self._document, *routed, query)
        self._mongo_query = query
        self._mongoshard_routed = True
        return query


def _touches_update(document_class: type, update: Mapping[str, Any]) -> bool:
    """An update's keywords (``set__email``, ``__raw__``): whether they may change a looked-up or key field."""
    names = []
    for name, value in update.items():
        if name in _UPDATE_OPTIONS:
            continue
        if name == "__raw__":
            if not isinstance(value, Mapping):
                return True  # a pipeline may change anything: read and compare
            names += [field for fields in value.values() if isinstance(fields, Mapping) for field in fields]
            if any(not isinstance(fields, Mapping) for fields in value.values()):
                return True
        else:
            operator, _, field = name.partition("__")
            names.append(field or operator)
    return _touched(document_class, names)


_UPDATE_OPTIONS = frozenset({"write_concern", "read_concern", "full_result", "array_filters", "upsert", "multi"})


def _routed(document_class: type, lookup: LookupSpec, lookup_filter: Mapping[str, Any], query: Mapping[str, Any]) -> dict[str, Any]:
    """The query narrowed to the owners the lookup names, by _id and full shard key; the original filter kept, so that
    an entry made stale by a write around mongoshard cannot return a document that does not match."""
    entries = _lookup_collection(document_class, lookup).find(dict(lookup_filter), {"key": 1, "owner": 1})
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
