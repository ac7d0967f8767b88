"""Lookups for data that exists: ``build`` fills a lookup from its owners, ``verify`` compares both sides (Vitess'
VDiff idea) and ``repair`` fixes what the owners prove.

Both read in batches of owner ``_id`` order (memory bounded by the batch), through any pymongo client of the cluster
(a mongos, or the replica set).  ``build`` records how far it got in ``mongoshard.lookup_builds`` of the owner's
database, so a second run resumes there; entries it finds already made for the same owner are kept, and a unique value
held by two owners is reported as a duplicate (with examples), never dropped or overwritten.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable, Iterator, Mapping

from ..model.declaration import ShardSpec
from ..model.lookup_entries import entry_for
from ..model.lookups import LookupSpec
from ..model.stored_key import ABSENT, UNKNOWN, present_value, same_key_value, stored_value
from ..routing.ordering import sort_key

__all__ = ["build_lookup", "verify_lookup", "LookupReport", "CHECKPOINTS"]

CHECKPOINTS = "mongoshard.lookup_builds"
_EXAMPLES = 5


@dataclass
class LookupReport:
    """What a build or a verification found for one lookup; ``exact`` when both sides agree."""

    namespace: str
    collection: str
    owners: int = 0
    written: int = 0
    missing: int = 0  # an owner holds a value and no entry says so
    orphans: int = 0  # an entry whose owner is gone or holds another value
    mismatched: int = 0  # the entry names the owner but another shard key
    duplicates: int = 0  # a unique value held by more than one owner
    repaired: int = 0
    resumed_after: Any = None
    seconds: float = 0.0
    examples: dict[str, list[str]] = field(default_factory=dict)

    @property
    def exact(self) -> bool:
        return not (self.missing or self.orphans or self.mismatched or self.duplicates)

    def note(self, kind: str, text: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        found = self.examples.setdefault(kind, [])
        if len(found) < _EXAMPLES:
            found.append(text)


Progress = Callable[[LookupReport], None]


def _owners(client: Any, spec: ShardSpec, lookup: LookupSpec, batch: int, after: Any = None) -> Iterator[list[dict]]:
    """The owners holding the looked-up field, in _id order, a batch at a time."""
    collection = client[spec.database][spec.collection]
    projection = {lookup.db_field: 1, **{db: 1 for db, _ in spec.key}}
    query: dict[str, Any] = {lookup.db_field: {"$exists": True, "$ne": None}}
    while True:
        page = list(collection.find({**query, **({"_id": {"$gt": after}} if after is not None else {})}, projection)
                    .sort("_id", 1).limit(batch))
        if not page:
            return
        yield page
        after = page[-1]["_id"]


def _key(spec: ShardSpec, owner: Mapping[str, Any]) -> dict[str, Any]:
    return {db: (None if stored_value(owner, db) is UNKNOWN else stored_value(owner, db)) for db, _ in spec.key}


def _entry_filter(lookup: LookupSpec, value: Any, owner: Any) -> dict[str, Any]:
    return {"_id": value} if lookup.unique else {"value": value, "owner": owner}


def build_lookup(client: Any, spec: ShardSpec, lookup: LookupSpec, *, batch: int = 1000, restart: bool = False,
                 on_progress: Progress | None = None) -> LookupReport:
    """Write the entries of every owner, resuming after the last batch a previous run finished."""
    from pymongo import InsertOne, UpdateOne
    from pymongo.errors import BulkWriteError

    database = client[spec.database]
    checkpoints, entries = database[CHECKPOINTS], database[lookup.collection]
    report = LookupReport(spec.namespace, lookup.collection)
    started = time.monotonic()
    mark = None if restart else checkpoints.find_one({"_id": lookup.collection})
    report.resumed_after = mark.get("after") if mark else None
    for page in _owners(client, spec, lookup, batch, report.resumed_after):
        values = [(owner["_id"], present_value(owner, lookup.db_field), _key(spec, owner)) for owner in page]
        writes = [InsertOne(entry_for(lookup, value, owner, key)) if lookup.unique else
                  UpdateOne(_entry_filter(lookup, value, owner), {"$set": {"key": entry_for(lookup, value, owner, key)["key"]}},
                            upsert=True)
                  for owner, value, key in values if value is not ABSENT]
        try:
            result = entries.bulk_write(writes, ordered=False) if writes else None
            report.written += (result.inserted_count + result.upserted_count) if result else 0
        except BulkWriteError as error:
            report.written += error.details.get("nInserted", 0) + error.details.get("nUpserted", 0)
            _duplicates(report, lookup, entries, [writes[e["index"]] for e in error.details.get("writeErrors", [])
                                                   if e.get("code") == 11000], spec)
        report.owners += len(page)
        checkpoints.update_one({"_id": lookup.collection}, {"$set": {"after": page[-1]["_id"]}}, upsert=True)
        report.seconds = time.monotonic() - started
        if on_progress:
            on_progress(report)
    checkpoints.delete_one({"_id": lookup.collection})  # done: the next build starts over
    report.seconds = time.monotonic() - started
    return report


def _duplicates(report: LookupReport, lookup: LookupSpec, entries: Any, refused: list[Any], spec: ShardSpec) -> None:
    """A refused entry is fine when the same owner's entry is there (a rerun); else two owners hold one value."""
    for write in refused:
        entry = write._doc
        existing = entries.find_one({"_id": entry["_id"]})
        if existing is not None and existing.get("owner") == entry["owner"]:
            continue
        report.note("duplicates", f"{lookup.path} {entry['_id']!r:.60} is held by {entry['owner']} and "
                                  f"{existing.get('owner') if existing else '?'} in {spec.namespace}")


def verify_lookup(client: Any, spec: ShardSpec, lookup: LookupSpec, *, batch: int = 1000, repair: bool = False,
                  on_progress: Progress | None = None) -> LookupReport:
    """Compare owners and entries both ways; with ``repair``, write what the owners prove (never a duplicate).

    Entries are read first (orphans, and extra entries of one owner, deleted on repair), then owners (missing and
    mismatched entries, duplicates), so that one run repairs a value that moved from one owner to another.  Both
    passes read one sorted cursor a batch at a time, across every BSON type of the values."""
    database = client[spec.database]
    owners_collection, entries = database[spec.collection], database[lookup.collection]
    report = LookupReport(spec.namespace, lookup.collection)
    started = time.monotonic()
    seen: set[tuple[Any, Any]] = set()
    for page in _pages(entries.find({}).sort("_id", 1), batch):  # entries -> owners: orphans, extra copies
        owners = {doc["_id"]: doc for doc in owners_collection.find({"_id": {"$in": [e["owner"] for e in page]}},
                                                                    {lookup.db_field: 1})}
        for stored in page:
            value = stored["_id"] if lookup.unique else stored.get("value")
            owner = owners.get(stored["owner"])
            if owner is None or not same_key_value(present_value(owner, lookup.db_field), value):
                report.note("orphans", f"{lookup.collection} {value!r:.60} names {stored['owner']}, which "
                                       f"{'is gone' if owner is None else 'holds another value'}")
            elif (pair := (sort_key(value), stored["owner"])) in seen:
                report.note("orphans", f"{lookup.collection} {value!r:.60}: a second entry of {stored['owner']}")
            else:
                seen.add(pair)
                continue
            if repair:
                entries.delete_one({"_id": stored["_id"]})
                report.repaired += 1
    for page in _pages(owners_collection.find({lookup.db_field: {"$exists": True, "$ne": None}},
                                              {lookup.db_field: 1, **{db: 1 for db, _ in spec.key}}).sort("_id", 1), batch):
        held = [(owner["_id"], present_value(owner, lookup.db_field), _key(spec, owner)) for owner in page]
        found = _entries_for(entries, lookup, held)
        for owner, value, key in held:
            entry = found.get((sort_key(value), owner if not lookup.unique else None))
            expected = entry_for(lookup, value, owner, key)
            if entry is not None and entry["owner"] != owner and _holds(owners_collection, lookup, entry["owner"], value):
                report.note("duplicates", f"{lookup.path} {value!r:.60} is held by {owner} and by {entry['owner']}")
            elif entry is None or entry["owner"] != owner:
                report.note("missing", f"{spec.namespace} {owner}: {lookup.path} {value!r:.60} has no entry")
                if repair:
                    if entry is not None:  # a stale entry of an owner that no longer holds the value
                        entries.delete_one({"_id": entry["_id"]})
                    _write(entries, expected, report)
            elif not same_key_value(entry.get("key"), expected["key"]):
                report.note("mismatched", f"{spec.namespace} {owner}: the entry of {value!r:.60} holds key "
                                          f"{entry.get('key')}, the owner {key}")
                if repair:
                    entries.update_one({"_id": entry["_id"]}, {"$set": {"key": expected["key"]}})
                    report.repaired += 1
        report.owners += len(page)
        report.seconds = time.monotonic() - started
        if on_progress:
            on_progress(report)
    report.seconds = time.monotonic() - started
    return report


def _pages(cursor: Any, size: int) -> Iterator[list[dict]]:
    page: list[dict] = []
    for document in cursor.batch_size(size):
        page.append(document)
        if len(page) == size:
            yield page
            page = []
    if page:
        yield page


def _holds(owners: Any, lookup: LookupSpec, owner: Any, value: Any) -> bool:
    document = owners.find_one({"_id": owner}, {lookup.db_field: 1})
    return document is not None and same_key_value(present_value(document, lookup.db_field), value)


def _entries_for(entries: Any, lookup: LookupSpec, held: list[tuple[Any, Any, Any]]) -> dict[tuple[Any, Any], dict]:
    """The entries of these owners' values, keyed as BSON compares values (1 and 1.0 are one value)."""
    values = [value for _, value, _ in held]
    if lookup.unique:
        return {(sort_key(e["_id"]), None): e for e in entries.find({"_id": {"$in": values}})}
    owners = [owner for owner, _, _ in held]
    return {(sort_key(e["value"]), e["owner"]): e for e in entries.find({"value": {"$in": values}, "owner": {"$in": owners}})}


def _write(entries: Any, entry: dict[str, Any], report: LookupReport) -> None:
    from pymongo.errors import DuplicateKeyError

    try:
        entries.insert_one(entry)
        report.repaired += 1
    except DuplicateKeyError:
        pass  # another owner holds it: reported as a duplicate when that owner is read
