"""How a router targets a write, per server version: the shards it reaches, the two-phase protocol, or the refusal.

Reads go where their filter's bounds reach (``table``).  Writes add rules of
their own, and those changed from release to release.  What a router does is
decided here from *facts* about the write (``WriteFacts``: how many shards the
filter reaches, whether it pins the whole key or an exact ``_id``, what the
collation allows), so that one decision serves a layout (``target_write``:
``route --write``, ``explain``) and a query shape on any layout (``audit``).

The rules, each cited at the line that applies it, were read in the server
source (mongodb/mongo) and checked against its unit tests and jstests
(``tests/server_cases/``):

* **7.0** (``featureFlagUpdateOneWithoutShardKey`` off): a single update or
  delete needs the whole key or an exact ``_id`` unless its filter reaches one
  shard; an upsert and a findAndModify need the whole key
  (``collection_routing_info_targeter.cpp`` targetUpdate/targetDelete,
  ``cluster_find_and_modify_cmd.cpp``);
* **7.1 to 7.3** (the flag on): what lacks the whole key runs the two-phase
  write-without-shard-key protocol, decided by the filter's shape alone
  (``write_without_shard_key_util.cpp`` useTwoPhaseProtocol), even when it
  reaches one shard;
* **8.0**: a single delete and a findAndModify that reach one shard go there
  directly; an update that does so still runs two-phase unless one shard owns
  every chunk; a multi upsert needs the whole key; an insert needs ``_id`` when
  ``_id`` is in the key (InvalidIdField);
* **9.0** (the newest source read, the targeter that 9.0 ships): a single
  write reaching one shard goes there; reaching several, it runs two-phase
  unless it is an exact ``_id`` without upsert (then only the shards its
  filter reaches); a replacement document no longer steers an update.

A multi update or delete reaching several shards outside a transaction is
sent to *every* shard of the cluster (``write_op.cpp`` targetWrites: "we can't
retry half a regular multi-write"), which 9.0 keeps unless the cluster
parameter ``onlyTargetDataOwningShardsForMultiWrites`` is set.  8.1 and 8.2
(rapid releases) are not modelled apart: they answer as 8.0.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal
from collections.abc import Mapping, Sequence

from .equality import shard_key_from_query
from .table import RoutingTable, plan_query
from .write_facts import WRITE_OPERATIONS, Write, WriteError, WriteFacts, collations_match, facts_of, update_style

__all__ = ["Write", "WriteFacts", "WriteDecision", "WriteTargeting", "WRITE_OPERATIONS", "SERVER_ERAS", "era_of", "decide_write",
           "facts_of", "uses_two_phase_protocol", "target_write", "plan_write_shape", "update_style", "collations_match",
           "WriteError"]

# Where the shards come from: the filter's (C5), the chunk of the whole key the filter pins (findAndModify's
# findIntersectingChunk, which skips the hashed-field check), the replacement document's or the inserted document's
# chunk, or every shard of the cluster.
Route = Literal["query", "query-key", "replacement", "document", "all", "none"]
Outcome = Literal["targeted", "broadcast", "two-phase", "refused"]
SERVER_ERAS = ((7, 0), (7, 1), (8, 0), (9, 0))


@dataclass(frozen=True)
class WriteDecision:
    outcome: Outcome
    route: Route
    reason: str
    error: str | None = None  # the server's error code name when refused
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class WriteTargeting:
    """A decision on a layout: the shards the write is sent to (for two-phase, the shards its read phase reaches)."""

    outcome: Outcome
    shards: tuple[str, ...]
    reason: str
    error: str | None
    server_version: tuple[int, int]
    notes: tuple[str, ...] = ()
    endpoints: tuple[str, ...] = ()  # what the targeter answers, before write_op.cpp widens a broadcast to every shard

    @property
    def kind(self) -> str:
        """The audit's word: single-shard, multi-shard, scatter-gather (every shard), two-phase or refused."""
        if self.outcome in ("two-phase", "refused"):
            return self.outcome
        if self.outcome == "broadcast":
            return "scatter-gather"
        return "single-shard" if len(self.shards) == 1 else "multi-shard"


def check_server_version(version: Any) -> None:
    """A server version given from Python is a tuple of integers, (8, 0); anything else is one sentence."""
    if not isinstance(version, tuple) or len(version) < 2 or not all(isinstance(part, int) and not isinstance(part, bool)
                                                                     for part in version[:2]):
        raise WriteError(f"a server version is (major, minor) integers such as (8, 0), not {version!r:.40}")


def era_of(version: tuple[int, int]) -> tuple[int, int]:
    """The release whose write rules a version follows (before 7.0: 7.0's, which are older rules unchanged)."""
    check_server_version(version)
    return max((era for era in SERVER_ERAS if era <= version[:2]), default=SERVER_ERAS[0])


# The decision, per release -------------------------------------------------------------------------------------


def decide_write(facts: WriteFacts, server_version: tuple[int, int] = (8, 0), *,
                 without_shard_key_protocol: bool | None = None) -> WriteDecision:
    """What a router of ``server_version`` does with the write.  ``without_shard_key_protocol`` overrides
    featureFlagUpdateOneWithoutShardKey (off in 7.0, on from 7.1; the 8.0 unit tests turn it off)."""
    if facts.reach == "unknown":
        several = decide_write(replace(facts, reach="several"), server_version,
                               without_shard_key_protocol=without_shard_key_protocol)
        one = decide_write(replace(facts, reach="one"), server_version, without_shard_key_protocol=without_shard_key_protocol)
        if (one.outcome, one.route) == (several.outcome, several.route):
            return several
        return replace(several, notes=(*several.notes, f"where its ranges fall on one shard: {one.outcome}, {one.reason}"))
    era = era_of(server_version)
    protocol = era >= (7, 1) if without_shard_key_protocol is None else without_shard_key_protocol
    if facts.operation == "insert":
        return _insert(facts, era)
    if facts.style == "replacement" and facts.multi:
        # validateUpdateDoc: "Replacement-style updates cannot be {multi:true}"
        return WriteDecision("refused", "none", "a replacement document cannot update many documents", "InvalidOptions")
    if facts.multi:
        return _multi(facts, era)
    if facts.operation == "findAndModify":
        return _find_and_modify(facts, era, protocol)
    if era >= (9, 0):
        return _single_newest(facts)
    return _single(facts, era, protocol)


def _insert(facts: WriteFacts, era: tuple[int, int]) -> WriteDecision:
    if facts.document_problem:
        # targetInsert: extractShardKeyFromDoc gives an empty key for an array on a key path
        return WriteDecision("refused", "none", facts.document_problem, "ShardKeyNotFound")
    if facts.id_in_key and not facts.document_has_id and era >= (8, 0):
        # targetInsert (8.0+): "Document is missing _id field, which is part of the shard key pattern"
        return WriteDecision("refused", "none", "the document has no _id, which is part of the shard key (a driver "
                             "adds one before sending, so this only happens to raw commands)", "InvalidIdField")
    notes = ("the document has no _id: 7.x routes it as _id null",) if facts.id_in_key and not facts.document_has_id else ()
    return WriteDecision("targeted", "document", "the chunk holding the document's key (a missing key field counts as "
                         "null)", notes=notes)


def _multi(facts: WriteFacts, era: tuple[int, int]) -> WriteDecision:
    if facts.upsert and not facts.key_in_filter:
        # targetUpdate (8.0 U8-3; 7.0 when the flag is off; newest targetQueryForMultiUpsert): "Failed to target upsert
        # by query :: could not extract exact shard key", on every release
        return WriteDecision("refused", "none", "a multi upsert must pin the whole shard key by equality", "ShardKeyNotFound")
    if facts.upsert and not facts.collation_simple and facts.key_collatable:
        return _collation_refusal()
    if facts.reach == "one":
        return WriteDecision("targeted", "query", "the filter reaches one shard")
    if facts.in_transaction:
        return WriteDecision("targeted", "query", "in a transaction a multi write goes to the shards its filter reaches")
    # write_op.cpp WriteOp::targetWrites: several endpoints outside a transaction -> targetAllShards, version IGNORED
    note = ("unless the cluster parameter onlyTargetDataOwningShardsForMultiWrites is on (then only the shards the "
            "filter reaches)",) if era >= (9, 0) else ()
    return WriteDecision("broadcast", "all", "a multi write reaching several shards is sent to every shard of the "
                         "cluster outside a transaction", notes=note)


def _collation_refusal() -> WriteDecision:
    # findIntersectingChunk: "Cannot target single shard due to collation of key"
    return WriteDecision("refused", "none", "under a non-simple collation a string, object or array key value cannot "
                         "pick one chunk", "ShardKeyNotFound")


def uses_two_phase_protocol(facts: WriteFacts, era: tuple[int, int], *, update_or_delete: bool) -> bool:
    """write_without_shard_key::useTwoPhaseProtocol, from the filter's shape alone (never from the shards reached)."""
    if update_or_delete and facts.top_level_id and facts.exact_id and not facts.upsert:
        return False  # the exact _id exemption (updates and deletes only, never an upsert)
    if not facts.key_in_filter:
        return True
    if era >= (8, 0):  # (!hasDefaultCollation || the collection has a default collator) && shardKeyHasCollatableType
        return (not facts.command_matches_default or not facts.default_simple) and facts.key_collatable
    return not facts.command_matches_default and facts.key_collatable


def _single(facts: WriteFacts, era: tuple[int, int], protocol: bool) -> WriteDecision:
    """A single update or delete, 7.0 to 8.0 (collection_routing_info_targeter.cpp, then batch_write_op.cpp)."""
    update = facts.operation == "update"
    if facts.upsert and not protocol:
        # targetUpdate, flag off: "Failed to target upsert by query :: could not extract exact shard key"
        if not facts.key_in_filter:
            return WriteDecision("refused", "none", "an upsert must pin the whole shard key by equality (before 7.1)",
                                 "ShardKeyNotFound")
        if not facts.collation_simple and (facts.key_collatable or facts.key_has_hashed):
            return _collation_refusal()
        return WriteDecision("targeted", "query", "the upsert pins the whole shard key")
    if facts.operation == "delete" and not protocol and era < (8, 0) and not facts.exact_id and not (
            facts.key_in_filter and _fast_path(facts)):
        return _delete_refusal()  # 7.0 targetDelete: even a filter reaching one shard
    two_phase = protocol and uses_two_phase_protocol(facts, era, update_or_delete=True)
    if facts.reach == "one":
        if era >= (8, 0) and facts.operation == "delete":
            # targetDelete (8.0): a delete whose filter reaches one shard goes there, never two-phase
            return WriteDecision("targeted", "query", "the filter reaches one shard, where 8.0 sends a single delete")
        if two_phase and era >= (8, 0) and facts.one_owner:
            # batch_write_exec.cpp: getNShardsOwningChunks() == 1 sends it there directly
            return WriteDecision("targeted", "query", "one shard owns every chunk, so 8.0 sends it there directly")
        if two_phase:  # 7.1 decides by the filter's shape alone
            return _two_phase(facts, f"it reaches one shard, but {_two_phase_why(facts)}")
        return WriteDecision("targeted", "query", "the filter reaches one shard")
    replacement = update and facts.style == "replacement" and (facts.exact_id or not protocol)
    if replacement and era >= (8, 0):
        return _by_replacement(facts)  # targetUpdate (8.0) tries the replacement before asking for two-phase
    if two_phase:
        return _two_phase(facts, _two_phase_why(facts))
    if replacement:
        # getUpdateExprForTargeting: the replacement's key, missing fields null, _id from the filter's exact _id
        return _by_replacement(facts)
    if not protocol and not facts.exact_id and update:
        # targetUpdate, flag off: "A {multi:false} update on a sharded collection must contain an exact match on _id
        # ... or target a single shard (and have the simple collation)"
        return WriteDecision("refused", "none", "a single update must pin the whole shard key, an exact _id, or reach one "
                             "shard (before 7.1)", "InvalidOptions")
    if not protocol and not facts.exact_id:
        return _delete_refusal()
    return _exact_id_broadcast(facts, era)


def _delete_refusal() -> WriteDecision:
    # targetDelete, flag off: "A single delete on a sharded collection must contain an exact match on _id (and have the
    # collection default collation) or contain the shard key (and have the simple collation)"
    return WriteDecision("refused", "none", "a single delete must pin the whole shard key (simple collation) or an exact "
                         "_id (the collection's collation)", "ShardKeyNotFound")


def _single_newest(facts: WriteFacts) -> WriteDecision:
    """9.0: targetUpdate/targetDelete decide (target_write_op.cpp); one endpoint is direct whatever the filter."""
    if facts.reach == "one":
        return WriteDecision("targeted", "query", "the filter reaches one shard, where 9.0 sends any single write")
    if not facts.exact_id or facts.upsert:
        return _two_phase(facts, _two_phase_why(facts))
    return WriteDecision("targeted", "query", "one document by exact _id: sent to the shards its filter reaches")


def _find_and_modify(facts: WriteFacts, era: tuple[int, int], protocol: bool) -> WriteDecision:
    """cluster_find_and_modify_cmd.cpp; from 9.0 through the targeter with isFindAndModify."""
    hashed_note: tuple[str, ...] = ()
    if facts.key_has_hashed and not facts.collation_simple:
        hashed_note = ("a hashed key under a non-simple collation is targeted by the hash of the literal value "
                       "(bypassIsFieldHashedCheck): a document matching only by the collation is missed",)
    bypass_ok = facts.key_in_filter and (facts.collation_simple or not facts.key_collatable)
    if era >= (9, 0):
        if facts.reach == "one" or bypass_ok:
            return WriteDecision("targeted", "query-key" if bypass_ok else "query", "the filter reaches one shard",
                                 notes=hashed_note)
        return _two_phase(facts, _two_phase_why(facts))
    if not protocol:
        if era >= (8, 0) and (bypass_ok or facts.reach == "one"):
            # 8.0 targetSingleShard: the filter must reach exactly one shard
            return WriteDecision("targeted", "query-key" if bypass_ok else "query", "the filter reaches one shard",
                                 notes=hashed_note)
        if not facts.key_in_filter:
            # "Query for sharded findAndModify must contain the shard key"
            return WriteDecision("refused", "none", "a findAndModify must pin the whole shard key (before 7.1)",
                                 "ShardKeyNotFound")
        if not bypass_ok:
            return _collation_refusal()
        return WriteDecision("targeted", "query-key", "the filter pins the whole shard key", notes=hashed_note)
    if uses_two_phase_protocol(facts, era, update_or_delete=False):  # isUpdateOrDelete=false: no _id exemption
        if era >= (8, 0) and (facts.one_owner or facts.reach == "one"):
            # targetPotentiallySingleShard (8.0)
            return WriteDecision("targeted", "query", "the filter reaches one shard, where 8.0 sends a findAndModify")
        return _two_phase(facts, _two_phase_why(facts))
    return WriteDecision("targeted", "query-key", "the filter pins the whole shard key", notes=hashed_note)


def _fast_path(facts: WriteFacts) -> bool:
    """findIntersectingChunk without the hashed bypass accepts the filter's whole key under this collation."""
    return facts.collation_simple or not (facts.key_collatable or facts.key_has_hashed)


def _by_replacement(facts: WriteFacts) -> WriteDecision:
    if facts.document_problem:
        return WriteDecision("refused", "none", f"targeted by the replacement document, whose {facts.document_problem}",
                             "ShardKeyNotFound")
    if not facts.collation_simple and facts.replacement_collatable:
        return _collation_refusal()
    return WriteDecision("targeted", "replacement", "the replacement document's key decides (a missing key field counts as "
                         "null), not the filter: it matches nothing when the document lives on another shard")


def _exact_id_broadcast(facts: WriteFacts, era: tuple[int, int]) -> WriteDecision:
    notes: tuple[str, ...] = ()
    if era >= (8, 0):
        notes = ("a retryable write keeps shard versions and stops at the first shard that matches "
                 "(featureFlagUpdateOneWithIdWithoutShardKey)",)
    return WriteDecision("broadcast", "all", "one document by exact _id without the shard key: sent to every shard",
                         notes=notes)


def _two_phase(facts: WriteFacts, why: str) -> WriteDecision:
    return WriteDecision("two-phase", "query", f"{why}: the two-phase protocol (a read on the shards the filter "
                         "reaches, then the write in a transaction)")


def _two_phase_why(facts: WriteFacts) -> str:
    if facts.key_in_filter:
        return "the collation keeps the whole key from picking one chunk" + _upsert_words(facts)
    if facts.exact_id and facts.upsert:
        return "an upsert by _id without the whole shard key"
    return "the filter does not pin the whole shard key" + _upsert_words(facts)


def _upsert_words(facts: WriteFacts) -> str:
    return " (an upsert)" if facts.upsert else ""


# On a layout ---------------------------------------------------------------------------------------------------


def target_write(table: RoutingTable, write: Write, server_version: tuple[int, int] = (8, 0), *,
                 cluster_shards: Sequence[str] | None = None, without_shard_key_protocol: bool | None = None) -> WriteTargeting:
    """Where a router of ``server_version`` sends ``write`` on this layout (``cluster_shards``: every shard of the
    cluster, for broadcasts; the shards owning chunks when not given)."""
    if not isinstance(table, RoutingTable):
        raise WriteError(f"target_write needs a RoutingTable (source.routing_table('db.coll')), not {table!r:.40}")
    if not isinstance(write, Write):
        raise WriteError(f"target_write needs a Write, e.g. Write('update', filter={{...}}, update={{...}}), not {write!r:.40}")
    if cluster_shards is not None and (isinstance(cluster_shards, (str, bytes))
                                       or not all(isinstance(name, str) and name for name in cluster_shards)):
        raise WriteError(f"cluster_shards is a list of shard names such as ['shard0', 'shard1'], not {cluster_shards!r:.40}")
    if without_shard_key_protocol is not None and not isinstance(without_shard_key_protocol, bool):
        raise WriteError(f"without_shard_key_protocol is True, False or None (the version decides), not "
                         f"{without_shard_key_protocol!r:.40}")
    everyone = tuple(sorted(set(cluster_shards or ()) | set(table.shards)))
    reached = table.target(write.filter or {}, write.collation) if write.operation != "insert" else None
    facts = facts_of(write, list(table.key.items()), default_collation=table.collation,
                     reach="one" if reached is None or len(reached.shards) == 1 else "several",
                     one_owner=len(table.shards) == 1)
    decision = decide_write(facts, server_version, without_shard_key_protocol=without_shard_key_protocol)
    shards: tuple[str, ...]
    if decision.route == "all":
        shards = everyone
    elif decision.route == "document":
        shards = (table.shard_for(write.document or {}),)
    elif decision.route == "replacement":
        shards = (table.shard_for(_replacement_for_targeting(write, table)),)
    elif decision.route == "query-key":
        key = shard_key_from_query(write.filter or {}, list(table.key.items()))
        shards = (table.chunk_for_key(key or {}).shard,)
    elif decision.route == "query" and reached is not None:
        shards = reached.shards
    else:
        shards = ()
    endpoints = reached.shards if decision.route in ("all", "query") and reached is not None else shards
    return WriteTargeting(decision.outcome, shards, decision.reason, decision.error, (server_version[0], server_version[1]),
                          decision.notes, endpoints)


def _replacement_for_targeting(write: Write, table: RoutingTable) -> dict[str, Any]:
    """getUpdateExprForTargeting: the replacement, and _id from the filter's exact _id when the replacement lacks it."""
    replacement = dict(write.update or {})  # type: ignore[arg-type]
    if "_id" not in replacement:
        found = shard_key_from_query(write.filter or {}, [("_id", 1)])
        if found is not None:
            replacement["_id"] = found["_id"]
    return replacement


def plan_write_shape(write: Write, key_pattern: Sequence[tuple[str, Any]], server_version: tuple[int, int], *,
                     default_collation: Mapping[str, Any] | None = None) -> WriteDecision:
    """The decision on any grown layout, from the filter's shape: one key reaches one shard, every key every shard,
    ranges one or several (``audit``)."""
    reach: Literal["one", "several", "unknown"] = "one"
    if write.operation != "insert":
        shape = plan_query(write.filter or {}, key_pattern,
                           write.collation if write.collation is not None else default_collation).shape
        reach = {"single-key": "one", "no-match": "one", "all-keys": "several"}.get(shape, "unknown")  # type: ignore[assignment]
    return decide_write(facts_of(write, key_pattern, default_collation=default_collation, reach=reach), server_version)
