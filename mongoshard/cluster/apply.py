"""Applying declared shard keys to a cluster, idempotently.

For each ``ShardSpec``: enable sharding on the database, pin zones, create the
supporting index, shard the collection, and pre-split it so that the chunks
are exactly the layout ``routing.splitting.initial_chunks`` predicts.  State is read
first and every step that is already true is skipped, so a second run changes
nothing.  A collection sharded on another key is never touched: it is
reported as drift with the command that would change it.

Commands go through a ``Router``: a mongos in production (``MongosRouter``).
The interface is one method wide so that a stand-in can do a router's work
where none exists (the test suite's real-mongod harness does).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol
from collections.abc import Callable, Iterable, Mapping

from bson import MinKey

from ..errors import MongoshardError
from ..model.declaration import ShardSpec
from ..routing.splitting import ONE_CHUNK_PER_SHARD_SINCE, initial_chunks
from ..routing.table import key_text
from .key_changes import drift_message, key_items
from .live import SHARDED_FILTER

__all__ = ["apply", "ApplyResult", "CollectionOutcome", "Step", "Router", "MongosRouter", "ApplyError"]

# Outcomes of one collection.
SHARDED = "sharded"
ALREADY = "already sharded with the declared key"
DRIFT = "drift"
PLANNED = "planned"
# Status of one step.
DONE, SKIPPED, WOULD_RUN = "done", "already", "would run"
_NAMESPACE_NOT_FOUND = 26
# auto_merger_policy.cpp: from 7.0 contiguous chunks on one shard are merged every autoMergerIntervalSecs (3600).
AUTOMERGER_SINCE = (7, 0)


class ApplyError(MongoshardError):
    """The cluster refused a step; the message names the collection and the step."""


class Router(Protocol):
    """Where apply's commands go and where it reads the cluster's metadata."""

    def command(self, database: str, document: Mapping[str, Any]) -> dict[str, Any]:
        """Run ``document`` as a command on ``database``, as a mongos would."""
        ...


class MongosRouter:
    """A real mongos, reached with a pymongo client."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def command(self, database: str, document: Mapping[str, Any]) -> dict[str, Any]:
        from bson import SON

        return self._client[database].command(SON(document))


@dataclass(frozen=True)
class Step:
    action: str
    database: str
    command: Mapping[str, Any]
    status: str


@dataclass(frozen=True)
class CollectionOutcome:
    namespace: str
    outcome: str
    message: str
    steps: tuple[Step, ...] = ()
    notes: tuple[str, ...] = ()  # what the server version changes about the declaration

    @property
    def changed(self) -> bool:
        return any(step.status == DONE for step in self.steps)


@dataclass(frozen=True)
class ApplyResult:
    collections: tuple[CollectionOutcome, ...]
    dry_run: bool

    @property
    def drifted(self) -> tuple[CollectionOutcome, ...]:
        return tuple(c for c in self.collections if c.outcome == DRIFT)


def apply(specs: Iterable[ShardSpec], client: Any = None, *, router: Router | None = None,
          dry_run: bool = False) -> ApplyResult:
    """Shard every collection of ``specs`` through ``client`` (a mongos) or ``router``.

    With ``dry_run`` the state is read and the commands that would run are
    returned, nothing is changed.
    """
    if router is None:
        if client is None:
            raise ValueError("apply needs a client connected to a mongos, or a router")
        router = MongosRouter(client)
    version = server_version(router)
    shards = router.command("config", {"find": "shards", "filter": {}, "projection": {"_id": 1}})["cursor"]["firstBatch"]
    if not shards:
        raise ApplyError("the cluster has no shard yet; add one (mongoshard up, or addShard through mongos) and run apply again")
    # each lookup (model.lookups) is a collection of its own, sharded on the looked-up value, applied after its owner
    every = [each for spec in specs for each in (spec, *spec.lookup_specs())]
    outcomes = tuple(_Applier(router, spec, dry_run, version).run() for spec in every)
    return ApplyResult(outcomes, dry_run)


def wait_for_shards(open_client: Callable[[], Any], seconds: float, *, minimum: int = 1,
                    on_wait: Callable[[str], None] | None = None) -> Any:
    """A client of a router that lists at least ``minimum`` shards, trying again every few seconds for up to
    ``seconds``: on Kubernetes the Job starts before the operator has the router up, and the operator adds the shards
    one at a time (zones and pre-splitting need them all).  The last reason it was not ready is raised when the time
    is up (ConnectionFailed or ApplyError: exit 2, which the Job retries)."""
    deadline = time.monotonic() + seconds
    attempt = 0
    while True:
        attempt += 1
        try:
            client = open_client()
            listed = len(list(client.config.shards.find({}, {"_id": 1}).limit(minimum)))
            if listed >= minimum:
                return client
            client.close()
            problem: MongoshardError = ApplyError(
                f"the router lists {'no shard' if not listed else f'{listed} of the {minimum} shards'} yet; add them "
                "(the operator does, once the shard replica sets are up; or addShard through mongos)")
        except MongoshardError as exc:
            problem = exc
        left = deadline - time.monotonic()
        if left <= 0:
            raise problem
        if on_wait is not None:
            on_wait(f"waiting for the router to list shards: attempt {attempt}, {left:.0f} s left ({problem})")
        time.sleep(min(_RETRY_SECONDS, left))


_RETRY_SECONDS = 3.0


def server_version(router: Router) -> tuple[int, int]:
    """(major, minor) of the cluster, from buildInfo through the router: what it creates and accepts depends on it."""
    version = str(router.command("admin", {"buildInfo": 1}).get("version", "0.0"))
    major, _, rest = version.partition(".")
    minor = rest.split(".", 1)[0].split("-", 1)[0]
    return (int(major), int(minor)) if major.isdigit() and minor.isdigit() else (0, 0)


class _Applier:
    """The steps for one spec, each run (or only listed) in order."""

    def __init__(self, router: Router, spec: ShardSpec, dry_run: bool, version: tuple[int, int]) -> None:
        self.router = router
        self.spec = spec
        self.dry_run = dry_run
        self.version = version
        self.steps: list[Step] = []
        self.notes = version_notes(spec, version)

    def run(self) -> CollectionOutcome:
        spec = self.spec
        # 8.0's tracked unsharded collections (unsplittable) are not sharded: shardCollection takes them like any other.
        current = self._find_one("collections", {"_id": spec.namespace, **SHARDED_FILTER})
        if current is not None:
            drift = drift_message(spec, current["key"], bool(current.get("unique")), self.version)
            if drift:
                return CollectionOutcome(spec.namespace, DRIFT, drift, notes=self.notes)
        self._zones()
        if current is not None:
            return self._outcome(ALREADY,
                                 f"{spec.namespace} is already sharded with the declared key {key_text(spec.key_pattern)}")
        self._step("enable sharding", "admin", {"enableSharding": spec.database},
                   done=self._find_one("databases", {"_id": spec.database}) is not None)
        self._index()
        documents = self._count()
        self._step("shard collection", "admin", self._shard_command(documents), done=False)
        self._presplit(documents)
        populated = f" in place ({documents} documents kept)" if documents else ""
        return self._outcome(SHARDED, f"{spec.namespace} sharded on {key_text(spec.key_pattern)}{populated}")

    def _outcome(self, outcome: str, message: str) -> CollectionOutcome:
        if self.dry_run and any(step.status == WOULD_RUN for step in self.steps):
            would_run = sum(s.status == WOULD_RUN for s in self.steps)
            outcome, message = PLANNED, f"{self.spec.namespace}: {would_run} command(s) would run"
        return CollectionOutcome(self.spec.namespace, outcome, message, tuple(self.steps), self.notes)

    def _step(self, action: str, database: str, command: Mapping[str, Any], *, done: bool) -> None:
        """Record a step; run it unless it is already true or this is a dry run."""
        if done:
            status = SKIPPED
        elif self.dry_run:
            status = WOULD_RUN
        else:
            self._run(action, database, command)
            status = DONE
        self.steps.append(Step(action, database, command, status))

    def _run(self, action: str, database: str, command: Mapping[str, Any]) -> dict[str, Any]:
        from pymongo.errors import OperationFailure

        try:
            return self.router.command(database, command)
        except OperationFailure as exc:
            reason = str(exc.details.get("errmsg", exc)) if exc.details else str(exc)
            raise ApplyError(f"{self.spec.namespace}: the cluster refused to {action} ({reason}); "
                             "fix the declaration or the collection, then run apply again") from None

    def _find(self, collection: str, query: Mapping[str, Any]) -> list[dict[str, Any]]:
        reply = self.router.command("config", {"find": collection, "filter": dict(query), "batchSize": 100_000})
        return list(reply["cursor"]["firstBatch"])

    def _find_one(self, collection: str, query: Mapping[str, Any]) -> dict[str, Any] | None:
        found = self._find(collection, query)
        return found[0] if found else None

    def _zones(self) -> None:
        spec = self.spec
        for zone in spec.zones:
            for shard in zone.shards:
                tagged = self._find_one("shards", {"_id": shard, "tags": zone.name}) is not None
                self._step(f"add {shard} to zone {zone.name}", "admin", {"addShardToZone": shard, "zone": zone.name}, done=tagged)
        for zone in spec.zones:
            low, high = _full_key(spec, zone.min, MinKey()), _full_key(spec, zone.max, MinKey())
            present = self._find_one("tags", {"ns": spec.namespace, "min": low, "max": high, "tag": zone.name}) is not None
            self._step(f"pin range to zone {zone.name}", "admin",
                       {"updateZoneKeyRange": spec.namespace, "min": low, "max": high, "zone": zone.name}, done=present)

    def _index(self) -> None:
        """The shard key index: same key, simple collation, unique when declared (a unique one serves a plain key too).

        9.0 patch releases may list ``collation: {locale: "simple"}`` on an index that has none (SERVER-89953,
        reverted by SERVER-136162): both mean the simple collation.
        """
        spec = self.spec
        existing = self._indexes()
        wanted = spec.key_pattern
        present = any(key_items(index["key"]) == key_items(wanted) and _simple(index.get("collation"))
                      and (index.get("unique", False) or not spec.unique) for index in existing)
        name = "_".join(f"{field}_{kind}" for field, kind in wanted.items())
        if any(index.get("name") == name for index in existing):
            name += "_simple"  # an index of that name has another collation or uniqueness
        index: dict[str, Any] = {"key": wanted, "name": name, "collation": {"locale": "simple"}}
        if spec.unique:
            index["unique"] = True
        self._step("create the shard key index", spec.database,
                   {"createIndexes": spec.collection, "indexes": [index]}, done=present)

    def _indexes(self) -> list[dict[str, Any]]:
        from pymongo.errors import OperationFailure

        try:
            reply = self.router.command(self.spec.database, {"listIndexes": self.spec.collection})
        except OperationFailure as exc:
            if exc.code == _NAMESPACE_NOT_FOUND:
                return []
            raise
        return list(reply["cursor"]["firstBatch"])

    def _count(self) -> int:
        return int(self.router.command(self.spec.database, {"count": self.spec.collection}).get("n", 0))

    def _shard_command(self, documents: int) -> dict[str, Any]:
        """shardCollection as the server takes it: always the simple collation, which a collection with another
        default collation requires ("If no collation was specified, the collection collation must be {locale:
        'simple'}", create_collection_coordinator.cpp); a chunk count only where the server still reads one."""
        spec = self.spec
        command: dict[str, Any] = {"shardCollection": spec.namespace, "key": spec.key_pattern, "unique": spec.unique,
                                   "collation": {"locale": "simple"}}
        if spec.initial_chunks and spec.hashed_field and not documents:
            if spec.zones:
                command["presplitHashedZones"] = True  # PresplitHashedZonesSplitPolicy: each zone cut at hashed points
            if self.version < ONE_CHUNK_PER_SHARD_SINCE:
                command["numInitialChunks"] = spec.initial_chunks
        return command

    def _presplit(self, documents: int) -> None:
        """Split a new, empty ranged collection at its split points and spread the chunks as predicted."""
        spec = self.spec
        if documents or not spec.split_points or spec.zones:
            return
        for point in spec.split_points:
            self._step("split", "admin", {"split": spec.namespace, "middle": _full_key(spec, point, MinKey())}, done=False)
        shards = sorted(doc["_id"] for doc in self._find("shards", {}))
        primary = (self._find_one("databases", {"_id": spec.database}) or {}).get("primary")
        for chunk in initial_chunks(list(spec.key_pattern.items()), shards, primary=primary,
                                    split_points=spec.split_points, server_version=self.version):
            if chunk.shard != primary:
                self._step(f"move a chunk to {chunk.shard}", "admin",
                           {"moveChunk": spec.namespace, "bounds": [chunk.min, chunk.max], "to": chunk.shard}, done=False)


def _simple(collation: Mapping[str, Any] | None) -> bool:
    return not collation or collation.get("locale") == "simple"


def _full_key(spec: ShardSpec, partial: Mapping[str, Any], filler: Any) -> dict[str, Any]:
    return {name: partial.get(name, filler) for name in spec.key_pattern}


def version_notes(spec: ShardSpec, version: tuple[int, int]) -> tuple[str, ...]:
    """What the server version does with the declaration that the declaration does not say."""
    notes = []
    if spec.initial_chunks and version >= ONE_CHUNK_PER_SHARD_SINCE:
        notes.append(f"presplit={spec.initial_chunks} is ignored from MongoDB 7.2: an empty hashed collection starts with "
                     "one chunk per shard (SERVER-74747)")
    if (spec.initial_chunks or spec.split_points or spec.zones) and version >= AUTOMERGER_SINCE:
        notes.append("from MongoDB 7.0 the AutoMerger merges contiguous chunks of one shard (every hour by default), so the "
                     "initial layout is not permanent")
    return tuple(notes)
