"""What the 8.0 balancer does with a cluster, decided offline: the migrations of a round, and why nothing moves.

``BalancerPolicy::balance`` (``src/mongo/db/s/balancer/balancer_policy.cpp``), per collection, with the shards a
round has not used yet (``availableShards``: a shard takes part in one migration per round):

1. **draining** shards give their first non-jumbo chunk of each zone, in key order, to the least loaded suitable
   shard (not draining, holding the zone);
2. **zone violations**: a chunk inside a zone, on a shard without that zone, goes to the least loaded shard of the
   zone (a jumbo one stays: warning 21891);
3. **per zone**, then the part outside every zone (``_singleZoneBalanceBasedOnDataSize``), by data size only:
   ``ideal = data of the zone's shards / their number``; the most loaded available shard gives to the least loaded
   one when ``from > ideal``, ``to < ideal`` and ``from - to >= 3 x maxChunkSizeBytes``, its first non-jumbo chunk
   of the zone in key order (``moveRange`` from that chunk's min; the donor cuts about one chunk size); a zone with
   no shard is skipped (warning 21893).

The data size of a shard is the whole collection's there (``shardToDataSizeMap``: average object size x (records -
orphans), ``_shardsvrGetStatsForBalancing``).  Collections with ``noBalance``, ``allowMigrations: false``,
``permitMigrations: false`` or ``defragmentCollection`` are not balanced (``canBalanceCollection``).  The order of
collections in a round is the namespace order here; the server shuffles it.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from typing import Any
from collections.abc import Callable, Mapping, Sequence

from .balancing_state import (NO_ZONE, BalancingState, ChunkIndex, ChunkState, CollectionState, Migration, Obstacle, Placement,
                              RoundResult, ShardState, bound_position, zone_of)

__all__ = ["ShardState", "ChunkState", "CollectionState", "BalancingState", "Migration", "Obstacle", "RoundResult",
           "Placement", "Rounds", "balance_round", "collection_status", "zone_splits", "zone_of", "blocked_collection",
           "bound_position", "THRESHOLD_CHUNKS", "STATUS_WORDS"]

# MigrationReason -> balancerCollectionStatus's firstComplianceViolation (Balancer::getBalancerStatusForNs)
STATUS_WORDS = {"drain": "draining", "zoneViolation": "zoneViolation", "chunksImbalance": "chunksImbalance"}

# _singleZoneBalanceBasedOnDataSize: "fromSize - toSize < 3 * maxChunkSizeBytes" stops (2 before 7.0)
THRESHOLD_CHUNKS = 3


def collection_status(shards: Sequence[ShardState], collection: CollectionState, digest: ChunkIndex | None = None, *,
                      straddles: bool | None = None) -> str:
    """balancerCollectionStatus's first compliance violation: defragmentingChunks, zoneViolation when a chunk straddles
    a zone boundary (a zone split pends), else the first reason of a round for this collection alone, else compliant.

    Without its chunks in ``collection``, a ``digest`` of them and whether a chunk ``straddles`` a zone bound say the
    same."""
    if collection.flags.get("defragmentCollection"):
        return "defragmentingChunks"
    if straddles if straddles is not None else zone_splits(collection):
        return "zoneViolation"
    alone = replace(collection, flags={})
    found = Rounds(shards, [alone], {alone.namespace: digest} if digest else None).next_round().migrations
    return STATUS_WORDS[found[0].reason] if found else "compliant"


def zone_splits(collection: CollectionState) -> list[tuple[ChunkState, list[dict[str, Any]]]]:
    """selectChunksToSplit: each chunk a zone boundary falls strictly inside, with those boundaries in key order (the
    balancer splits them before it moves anything)."""
    key = list(collection.key)
    bounds = sorted({repr(bound_position(b, key)): (bound_position(b, key), b) for zone in collection.zones
                     for b in (zone.min, zone.max)}.values(), key=lambda item: item[0])
    found = []
    for chunk in collection.chunks:
        low, high = bound_position(chunk.min, key), bound_position(chunk.max, key)
        inside = [dict(bound) for position, bound in bounds if low < position < high]
        if inside:
            found.append((chunk, inside))
    return found


def blocked_collection(collection: CollectionState) -> str | None:
    """canBalanceCollection: the setting that keeps the balancer away from a collection, or None."""
    flags = collection.flags
    if flags.get("noBalance"):
        return "noBalance: true (sh.disableBalancing)"
    if flags.get("allowMigrations") is False:
        return "allowMigrations: false"
    if flags.get("permitMigrations") is False:
        return "permitMigrations: false"
    if flags.get("defragmentCollection"):
        return "defragmentCollection: true (defragmenting)"
    return None


def balance_round(shards: Sequence[ShardState], collections: Sequence[CollectionState], *,
                  available: set[str] | None = None) -> RoundResult:
    """One balancer round over ``collections``: the migrations it schedules, and what stopped the rest
    (``available``: the shards not busy yet, all of them by default)."""
    return Rounds(shards, collections).next_round(available)


class Rounds:
    """The balancer's rounds played forward: ``next_round`` decides one, ``apply`` makes a migration happen (data sizes
    and, when the chunk moved whole, its shard).  A collection is examined again only when it changed or the shards
    free at its turn differ from those of every round that scheduled nothing for it (the policy is a function of
    those)."""

    def __init__(self, shards: Sequence[ShardState], collections: Sequence[CollectionState],
                 indexes: Mapping[str, ChunkIndex] | None = None) -> None:
        self.shards = tuple(shards)
        self.collections = sorted(collections, key=lambda c: c.namespace)
        self.sizes = {c.namespace: dict(c.data_bytes) for c in self.collections}
        self._indexes: dict[str, ChunkIndex] = dict(indexes or {})
        # per collection, the free shards of the rounds that scheduled nothing for it -> what stopped it
        self._quiet: dict[str, dict[frozenset[str], list[Obstacle]]] = {}

    def placement(self, collection: CollectionState) -> ChunkIndex:
        if collection.namespace not in self._indexes:
            self._indexes[collection.namespace] = Placement(collection)
        return self._indexes[collection.namespace]

    def next_round(self, available: set[str] | None = None) -> RoundResult:
        available = {shard.name for shard in self.shards} if available is None else set(available)
        migrations: list[Migration] = []
        obstacles: list[Obstacle] = []
        first: dict[str, str] = {}
        for collection in self.collections:
            if blocked := blocked_collection(collection):
                obstacles.append(Obstacle(collection.namespace, "collection", blocked))
                continue
            free = frozenset(available)
            quiet = self._quiet.setdefault(collection.namespace, {})
            if free in quiet:
                obstacles += quiet[free]
                continue
            found, stopped = _Policy(self.shards, collection, self.placement(collection),
                                     self.sizes[collection.namespace], available).balance()
            migrations += found
            obstacles += stopped
            if found:
                first[collection.namespace] = found[0].reason
            else:
                quiet[free] = stopped
        return RoundResult(tuple(migrations), tuple(obstacles), first)

    def apply(self, migration: Migration, moved_bytes: int, *, whole: bool) -> None:
        """``moved_bytes`` went from the donor to the recipient; the chunk went too when it moved ``whole`` (else the
        donor cut a piece off it and keeps the rest)."""
        sizes = self.sizes[migration.namespace]
        sizes[migration.from_shard] = sizes.get(migration.from_shard, 0) - moved_bytes
        sizes[migration.to_shard] = sizes.get(migration.to_shard, 0) + moved_bytes
        self._quiet.pop(migration.namespace, None)
        placement = self._indexes[migration.namespace]
        if not isinstance(placement, Placement):
            raise TypeError("a plan moves chunks of a Placement (every chunk in memory), not of a ChunkDigest")
        position = placement.position_of(migration.min)
        if whole and position is not None and placement.shard_at[position] == migration.from_shard:
            placement.move(position, migration.to_shard)


class _Policy:
    """BalancerPolicy::balance for one collection, sharing the round's available shards."""

    def __init__(self, shards: Sequence[ShardState], collection: CollectionState, placement: ChunkIndex,
                 sizes: Mapping[str, int], available: set[str]) -> None:
        self.shards = shards
        self.collection = collection
        self.placement = placement
        self.sizes = sizes
        self.available = available
        self.migrations: list[Migration] = []
        self.obstacles: list[Obstacle] = []

    def balance(self) -> tuple[list[Migration], list[Obstacle]]:
        """The migrations scheduled for the collection (taking their shards out of ``available``), and what stopped
        the rest."""
        # after each draining shard and each shard's zone violations: "if (availableShards->size() < 2) return"
        if self._drain() and (not self.collection.zones or self._zone_violations()):
            for zone in sorted({z.name for z in self.collection.zones}) + [NO_ZONE]:
                self._balance_zone(zone)
        return self.migrations, self.obstacles

    # 1) draining shards
    def _drain(self) -> bool:
        """False when fewer than two shards are left for the round."""
        for shard in self.shards:
            if not shard.draining or shard.name not in self.available:
                continue
            jumbo: list[ChunkState] = []
            for zone in self.placement.zones_on(shard.name):
                if self._move_first_movable(shard.name, zone, "drain", jumbo.append):
                    break
            if shard.name in self.available and (jumbo or self.placement.count_on(shard.name) > 0):
                what = f"{len(jumbo)} jumbo chunk(s)" if jumbo else "no suitable recipient (not draining, in the chunk's zone)"
                self.obstacles.append(Obstacle(self.collection.namespace, "draining", f"{shard.name} drains, but {what}"))
            if len(self.available) < 2:
                return False
        return True

    def _move_first_movable(self, shard: str, zone: str, reason: str, on_jumbo: Callable[[ChunkState], None]) -> bool:
        """Schedule the first chunk of ``zone`` on ``shard`` that can move (not jumbo, with a recipient), as both
        loops of BalancerPolicy::balance do for draining shards and zone violations; one per shard per round."""
        stuck = False
        for chunk in self.placement.chunks_on(shard, zone):
            if chunk.jumbo:
                on_jumbo(chunk)
                continue
            to = self._least_loaded(zone)
            if to is not None:
                self._schedule(chunk, shard, to, reason, zone)
                return True
            stuck = True
        if stuck and reason == "zoneViolation":  # 21892: "Chunk violates zone, but no appropriate recipient found"
            self.obstacles.append(Obstacle(
                self.collection.namespace, "zoneViolation",
                f"chunks of zone {zone} sit on {shard}, outside the zone, and no shard of the zone can take them "
                "(each is draining or busy)"))
        return False

    def _jumbo_in_wrong_zone(self, shard: str, zone: str, chunk: ChunkState) -> None:
        self.obstacles.append(Obstacle(self.collection.namespace, "zoneViolation",
                                       f"a jumbo chunk at {dict(chunk.min)} violates zone {zone} on {shard} and cannot move"))

    # 2) chunks on a shard outside their zone
    def _zone_violations(self) -> bool:
        """False when fewer than two shards are left for the round."""
        for shard in self.shards:
            if shard.name not in self.available:
                continue
            for zone in self.placement.zones_on(shard.name):
                if zone == NO_ZONE or zone in shard.zones:
                    continue
                if self._move_first_movable(shard.name, zone, "zoneViolation",
                                            functools.partial(self._jumbo_in_wrong_zone, shard.name, zone)):
                    break
            if len(self.available) < 2:
                return False
        return True

    # 3) per zone, by data size
    def _balance_zone(self, zone: str) -> None:
        members = [s for s in self.shards if (zone == NO_ZONE or zone in s.zones) and s.name in self.sizes]
        if not members:
            if zone != NO_ZONE and zone in self.placement.zones_held:
                self.obstacles.append(Obstacle(self.collection.namespace, "zone",
                                               f"zone {zone} has no shard: its chunks cannot be balanced (21893)"))
            return
        total = sum(self.sizes[s.name] for s in members)
        if total == 0:
            return
        ideal = total // len(members)
        while self._single_zone(zone, ideal):
            pass

    def _single_zone(self, zone: str, ideal: int) -> bool:
        donor = self._most_loaded()
        to = self._least_loaded(zone)
        if donor is None or to is None or donor == to:
            return False
        donor_size, to_size = self.sizes[donor], self.sizes[to]
        threshold = THRESHOLD_CHUNKS * self.collection.max_chunk_size_bytes
        if donor_size <= ideal or to_size >= ideal or donor_size - to_size < threshold:
            if donor_size > ideal and to_size < ideal:
                self.obstacles.append(Obstacle(
                    self.collection.namespace, "threshold",
                    f"{donor} holds {donor_size - to_size:,} bytes more than {to}, below the "
                    f"{THRESHOLD_CHUNKS} x {self.collection.max_chunk_size_bytes:,} bytes the balancer waits for"))
            return False
        jumbo = 0
        for chunk in self.placement.chunks_on(donor, zone):
            if chunk.jumbo:
                jumbo += 1
                continue
            self._schedule(chunk, donor, to, "chunksImbalance", zone)
            return True
        if jumbo:
            self.obstacles.append(Obstacle(self.collection.namespace, "jumbo",
                                           f"{donor} has only jumbo chunks here ({jumbo}) and cannot give any (6581602)"))
        return False

    # helpers
    def _schedule(self, chunk: ChunkState, donor: str, to: str, reason: str, zone: str) -> None:
        self.migrations.append(Migration(self.collection.namespace, donor, to, dict(chunk.min), reason, zone))
        self.available.discard(donor)
        self.available.discard(to)

    def _least_loaded(self, zone: str) -> str | None:
        """_getLeastLoadedReceiverShard: available, not draining, in the zone, with data figures, least data."""
        best, least = None, None
        for shard in self.shards:
            if shard.name not in self.available or shard.draining or (zone != NO_ZONE and zone not in shard.zones):
                continue
            if shard.name not in self.sizes:
                continue
            if least is None or self.sizes[shard.name] < least:
                best, least = shard.name, self.sizes[shard.name]
        return best

    def _most_loaded(self) -> str | None:
        """_getMostOverloadedShard: available, with data figures, most data (whatever its zones)."""
        best, most = None, None
        for shard in self.shards:
            if shard.name not in self.available or shard.name not in self.sizes:
                continue
            if most is None or self.sizes[shard.name] > most:
                best, most = shard.name, self.sizes[shard.name]
        return best
