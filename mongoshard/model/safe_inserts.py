"""The bulk and class-level part of safe writes: ``QuerySet.insert`` and subclasses sharing a collection."""

from __future__ import annotations

from typing import Any
from collections.abc import Callable, Mapping, Sequence

from mongoengine.errors import OperationError, ValidationError
from mongoengine.queryset import QuerySet

from ..errors import DeclarationError, MongoshardError
from .stored_key import (ABSENT, QUERYSET_MIXIN_BASE, current_value, key_entries, present_value, remember, same_key_value, shown,
                         stored_value, values_on_path)

__all__ = ["ShardKeyWriteError", "install_safe_inserts", "require_key_values", "refuse_moved_ids"]


class ShardKeyWriteError(MongoshardError, OperationError):
    """A write that would change or lose a document's shard key; nothing was sent (an OperationError, like
    mongoengine's own "Shard Keys are immutable")."""


def install_safe_inserts(document_class: type[Any]) -> None:
    """Bulk inserts that check the key, and subclasses that cannot declare another one; idempotent."""
    if "__init_subclass__" not in vars(document_class):
        document_class.__init_subclass__ = classmethod(  # type: ignore[assignment]
            _same_key_in_subclasses(document_class))
    manager = next((vars(c)["objects"] for c in document_class.__mro__ if "objects" in vars(c)), None)
    queryset_class = document_class._meta.get("queryset_class") or getattr(type(manager), "default", None) or QuerySet
    if not getattr(queryset_class, "_mongoshard_safe", False):
        document_class._meta["queryset_class"] = type(queryset_class.__name__, (_SafeInsert, queryset_class),
                                                      {"_mongoshard_safe": True})


def require_key_values(document: Any, doc: Any, entries: list[tuple[str, str]]) -> None:
    """A new document must carry its whole key (a missing field is filed under null, one chunk for all of them), and
    no array on a key path (a DynamicDocument can hold one): the router refuses such a document ("Shard key cannot
    contain array values or array descendants", targetInsert)."""
    arrays = [path for path, db in entries if any(isinstance(v, (list, tuple)) for v in values_on_path(doc, db))]
    if arrays:
        raise ValidationError(
            f"{type(document).__name__} holds an array on the shard key path {arrays[0]}, which MongoDB refuses in a "
            "shard key; store a single value there", field_name=arrays[0])
    missing = [path for path, db in entries if present_value(doc, db) is ABSENT]
    if missing:
        name = type(document).__name__
        raise ValidationError(
            f"{name} has no value for the shard key field(s) {', '.join(missing)}; every document of a sharded "
            "collection needs its key (a missing field is filed under null, one chunk for all of them): set it "
            "before save()",
            field_name=missing[0],
        )


def refuse_moved_ids(document_class: type[Any], collection: Any, pairs: Sequence[tuple[Any, Mapping[str, Any]]],
                     entries: list[tuple[str, str]]) -> None:
    """New documents given the ``_id`` of stored ones (``pairs``: each document and what it will send), found by one
    read of those ``_id``s: when the stored one has another key, the insert (or mongoengine's replace-then-insert)
    would make a second document with the same ``_id``, on another shard of a cluster, where nothing refuses it."""
    pairs = [(document, doc) for document, doc in pairs if "_id" in doc]
    if not entries or not pairs:
        return
    projection = {db: 1 for _, db in entries}
    stored = {son["_id"]: son for son in collection.find({"_id": {"$in": [doc["_id"] for _, doc in pairs]}}, projection)}
    for _, doc in pairs:
        if doc["_id"] not in stored:
            continue
        for path, db in entries:
            before, after = stored_value(stored[doc["_id"]], db), present_value(doc, db)
            if not same_key_value(before, after):
                raise ShardKeyWriteError(
                    f"{document_class.__name__} {doc['_id']!r} is stored with {path} = {shown(before)}, not "
                    f"{shown(after)}; saving it as new would make a second document with the same _id: load it and "
                    f"use modify({'__'.join(path.split('.'))}=...)")


def _same_key_in_subclasses(document_class: type[Any]) -> Callable[..., None]:
    """A subclass shares its base's collection (allow_inheritance), so it cannot have a key of its own: the server
    sees one collection, one key, and the subclass's saves would filter on the wrong one."""
    declared = tuple(document_class._meta.get("shard_key") or ())

    def init_subclass(cls: type[Any], **kwargs: Any) -> None:
        super(document_class, cls).__init_subclass__(**kwargs)
        key = tuple(cls._meta.get("shard_key") or ())
        if key != declared and cls._get_collection_name() == document_class._get_collection_name():
            raise DeclarationError(
                f"Model {cls.__name__}: it declares the shard key {key} but shares the collection of {document_class.__name__}, "
                f"sharded on {declared}; a collection has one key: drop the subclass's shard_key"
            )

    return init_subclass


class _SafeInsert(QUERYSET_MIXIN_BASE):
    """``QuerySet.insert`` (bulk) refuses documents without their key, as ``save()`` does, and remembers the key of
    what it stored."""

    def insert(self, doc_or_docs: Any, *args: Any, **kwargs: Any) -> Any:
        # one document, or any iterable of them (a set, a deque, a generator: read once, here)
        documents = [doc_or_docs] if hasattr(doc_or_docs, "to_mongo") else list(doc_or_docs)
        doc_or_docs = doc_or_docs if hasattr(doc_or_docs, "to_mongo") else documents
        entries = key_entries(self._document)
        sent = [(document, document.to_mongo()) for document in documents if hasattr(document, "to_mongo")]
        for document, doc in sent:
            require_key_values(document, doc, entries)
        refuse_moved_ids(self._document, self._collection, sent, entries)
        result = super().insert(doc_or_docs, *args, **kwargs)
        for document in documents:
            if hasattr(document, "to_mongo") and document.pk is not None:
                remember(document, {db: current_value(document, db) for _, db in entries})
        return result
