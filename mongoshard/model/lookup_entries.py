"""The machinery of lookups: transactions that mongoengine's own writes join, and the entries of one owner.

mongoengine 0.29 has no sessions: while a transaction runs, ``session_bound`` (installed as a class's
``_get_collection``) hands mongoengine a collection whose reads and writes carry the transaction's session.  An owner's
entries are moved from what it held before a write to what it holds after (``sync_entries``), inside the same
transaction; a value taken in a unique lookup is mongoengine's ``NotUniqueError``.
"""

from __future__ import annotations

import contextvars
import functools
from typing import Any
from collections.abc import Callable, Iterable, Mapping

from mongoengine.errors import NotUniqueError, OperationError

from .lookups import LookupSpec
from .stored_key import ABSENT, UNKNOWN, present_value, same_key_value, stored_value

__all__ = ["session_var", "session_bound", "raw_collection", "lookup_collection", "in_transaction", "retryable",
           "entry_for", "projection", "sync_entries", "touched", "lookups_of", "key_paths", "shown_value",
           "LookupWriteError"]

session_var: contextvars.ContextVar[Any] = contextvars.ContextVar("mongoshard_lookup_session", default=None)
# pymongo Collection methods that take a session, as mongoengine calls them
_SESSION_METHODS = frozenset({"find", "find_one", "insert_one", "insert_many", "update_one", "update_many", "replace_one",
                              "delete_one", "delete_many", "find_one_and_update", "find_one_and_replace",
                              "find_one_and_delete", "count_documents", "distinct", "aggregate", "bulk_write"})


class LookupWriteError(OperationError):
    """A write that cannot keep the lookups exact (refused before anything is sent)."""


def lookups_of(document_class: type[Any]) -> tuple[LookupSpec, ...]:
    """The class's resolved lookups, as ``@sharded`` installed them (a subclass inherits its base's)."""
    return getattr(document_class, "_mongoshard_lookup_specs", ())


def key_paths(document_class: type[Any]) -> list[str]:
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


def session_bound(get_collection: Callable[[type[Any]], Any], cls: type[Any]) -> Any:
    collection = get_collection(cls)
    session = session_var.get()
    return collection if session is None else _SessionCollection(collection, session)


def raw_collection(document_class: type[Any]) -> Any:
    collection = document_class._get_collection()
    return getattr(collection, "_collection", collection)


def lookup_collection(document_class: type[Any], lookup: LookupSpec) -> Any:
    collection = raw_collection(document_class).database[lookup.collection]
    session = session_var.get()
    return collection if session is None else _SessionCollection(collection, session)


def in_transaction(document_class: type[Any], body: Callable[[], Any], restore: Callable[[], None] | None = None) -> Any:
    """Run ``body`` in one multi-document transaction (joining one that runs), retried on transient errors."""
    if session_var.get() is not None:
        return body()
    client = raw_collection(document_class).database.client
    _require_transactions(client, document_class)

    def attempt(session: Any) -> Any:
        if restore is not None:
            restore()
        return body()

    with client.start_session() as session:
        token = session_var.set(session)
        try:
            return session.with_transaction(attempt)
        finally:
            session_var.reset(token)


def _require_transactions(client: Any, document_class: type[Any]) -> None:
    if vars(client).get("_mongoshard_transactions"):  # on the client object itself: clients of one address compare equal
        return
    hello = client.admin.command("hello")
    if "setName" not in hello and hello.get("msg") != "isdbgrid":
        raise LookupWriteError(f"{document_class.__name__} has lookups, which are written in a transaction with its "
                               "documents, and a standalone server has no transactions: run a replica set (a one-member "
                               "one will do) or a sharded cluster")
    client._mongoshard_transactions = True


def retryable(write: Callable[[], Any]) -> Any:
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


def _owner_state(document_class: type[Any], son: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(looked-up values by database path, full shard key by database path) of a stored document's SON."""
    values = {lookup.db_field: present_value(son, lookup.db_field) for lookup in lookups_of(document_class)}
    key = {}
    for path in key_paths(document_class):
        value = stored_value(son, path)
        key[path] = None if value is UNKNOWN else value
    return values, key


def projection(document_class: type[Any]) -> dict[str, int]:
    return dict.fromkeys([lookup.db_field for lookup in lookups_of(document_class)] + key_paths(document_class), 1)


def sync_entries(document_class: type[Any], owner_id: Any, before: Mapping[str, Any] | None,
                 after: Mapping[str, Any] | None) -> None:
    """Move the owner's entries from its state ``before`` to ``after`` (a SON each; None: absent)."""
    old_values, old_key = _owner_state(document_class, before) if before is not None else ({}, {})
    new_values, new_key = _owner_state(document_class, after) if after is not None else ({}, {})
    key_moved = old_key != new_key
    for lookup in lookups_of(document_class):
        old, new = old_values.get(lookup.db_field, ABSENT), new_values.get(lookup.db_field, ABSENT)
        if same_key_value(old, new) and not (key_moved and new is not ABSENT):
            continue
        collection = lookup_collection(document_class, lookup)
        if old is not ABSENT:
            collection.delete_one({"_id": old, "owner": owner_id} if lookup.unique else {"value": old, "owner": owner_id})
        if new is not ABSENT:
            _insert_entry(document_class, lookup, collection, entry_for(lookup, new, owner_id, new_key))


def _insert_entry(document_class: type[Any], lookup: LookupSpec, collection: Any, entry: dict[str, Any]) -> None:
    from pymongo.errors import DuplicateKeyError

    try:
        collection.insert_one(entry)
    except DuplicateKeyError:
        raise NotUniqueError(f"{document_class.__name__}.{lookup.path} {shown_value(entry['_id'])} is taken: another "
                             f"document holds it (unique lookup {lookup.collection}); nothing was written") from None


def shown_value(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def touched(document_class: type[Any], names: Iterable[str]) -> bool:
    """Whether changed fields or update keywords reach a looked-up field or a key field (entries hold the key)."""
    watched = [lookup.db_field for lookup in lookups_of(document_class)] + key_paths(document_class)
    watched += [lookup.path for lookup in lookups_of(document_class)]
    for name in names:
        path = name.replace("__", ".")
        if any(path == w or path.startswith(w + ".") or w.startswith(path + ".") for w in watched):
            return True
    return False
