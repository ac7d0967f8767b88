"""What the balancer decides from, and where a collection's chunks are: the inputs of ``routing.balancer``.

Shards (draining, zones), collections (chunks in key order, data per shard, chunk size, zones, flags), the balancer's
settings; the decisions a round makes (``Migration``) and what stopped the rest (``Obstacle``); and the index a round
reads a collection's chunks through (``ChunkIndex``): ``Placement`` over every chunk in memory, which a plan moves, or
``ChunkDigest`` over counts per shard and zone, which reads chunks only when a round asks for them (the summary of a
million chunks cannot afford to hold them).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any, Protocol
from collections.abc import Callable, Iterator, Mapping, Sequence

from .balancer_settings import BalancerSettings
from .ordering import SortKey, sort_key
from .splitting import ZoneRange

__all__ = ["ShardState", "ChunkState", "CollectionState", "BalancingState", "Migration", "Obstacle", "RoundResult",
           "ChunkIndex", "Placement", "ChunkDigest", "zone_of", "bound_position", "NO_ZONE"]

NO_ZONE = ""


@dataclass(frozen=True)
class ShardState:
    name: str
    draining: bool = False
    zones: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ChunkState:
    min: Mapping[str, Any]
    max: Mapping[str, Any]
    shard: str
    jumbo: bool = False


@dataclass(frozen=True)
class CollectionState:
    namespace: str
    key: Mapping[str, Any]
    chunks: tuple[ChunkState, ...]  # in key order
    data_bytes: Mapping[str, int]  # per shard, the whole collection's data there
    max_chunk_size_bytes: int
    zones: tuple[ZoneRange, ...] = ()
    flags: Mapping[str, Any] = field(default_factory=dict)  # noBalance, allowMigrations, permitMigrations, ...


class ChunkIndex(Protocol):
    """What a balancer round reads about a collection's chunks."""

    zones_held: set[str]

    def zones_on(self, shard: str) -> list[str]:
        """getZoneInfoForShard: the zones the shard's chunks fall in, zones first, then none."""
        ...

    def chunks_on(self, shard: str, zone: str) -> Iterator[ChunkState]:
        """The shard's chunks in the zone, in key order, read lazily (the first movable one is usually the first)."""
        ...

    def count_on(self, shard: str) -> int:
        ...


def _zones_in_order(found: set[str]) -> list[str]:
    return sorted(found - {NO_ZONE}) + ([NO_ZONE] if NO_ZONE in found else [])


class Placement:
    """Where a collection's chunks are now: each chunk's zone and shard, and each shard's chunk positions per zone in
    key order, so that a round costs a few lookups per collection, not a pass over its chunks.  Mutable on purpose:
    a plan moves chunks in place (``move``) rather than copying 100,000 chunks each round."""

    def __init__(self, collection: CollectionState) -> None:
        key = list(collection.key)
        self.chunks = collection.chunks
        self.zone_at = [zone_of(c, collection.zones,
                                key) for c in self.chunks] if collection.zones else [NO_ZONE] * len(self.chunks)
        self.shard_at = [chunk.shard for chunk in self.chunks]
        self.on_shard: dict[str, dict[str, list[int]]] = {}
        for position, (shard, zone) in enumerate(zip(self.shard_at, self.zone_at)):
            self.on_shard.setdefault(shard, {}).setdefault(zone, []).append(position)
        self.zones_held = set(self.zone_at)
        self._key = key
        self._starts: dict[tuple[SortKey, ...], int] | None = None

    def position_of(self, lower: Mapping[str, Any]) -> int | None:
        """The chunk starting at ``lower``, or None (the index is built on the first move)."""
        if self._starts is None:
            self._starts = {bound_position(chunk.min, self._key): position for position, chunk in enumerate(self.chunks)}
        return self._starts.get(bound_position(lower, self._key))

    def zones_on(self, shard: str) -> list[str]:
        return _zones_in_order({zone for zone, positions in self.on_shard.get(shard, {}).items() if positions})

    def chunks_on(self, shard: str, zone: str) -> Iterator[ChunkState]:
        return (self.chunks[p] for p in self.on_shard.get(shard, {}).get(zone, ()))

    def count_on(self, shard: str) -> int:
        return sum(len(positions) for positions in self.on_shard.get(shard, {}).values())

    def move(self, position: int, to: str) -> None:
        """Chunk ``position`` now lives on ``to`` whole."""
        donor, zone = self.shard_at[position], self.zone_at[position]
        positions = self.on_shard[donor][zone]
        del positions[bisect.bisect_left(positions, position)]
        bisect.insort(self.on_shard.setdefault(to, {}).setdefault(zone, []), position)
        self.shard_at[position] = to


class ChunkDigest:
    """A collection's chunk counts per shard and zone, with ``read_chunks(shard, zone)`` giving that shard's chunks of
    the zone in key order on demand (a cursor, for a live cluster): what one round needs without every chunk."""

    def __init__(self, counts: Mapping[tuple[str, str], int],
                 read_chunks: Callable[[str, str], Iterator[ChunkState]]) -> None:
        self._counts = {where: count for where, count in counts.items() if count}
        self._read_chunks = read_chunks
        self.zones_held = {zone for _, zone in self._counts}

    def zones_on(self, shard: str) -> list[str]:
        return _zones_in_order({zone for held_by, zone in self._counts if held_by == shard})

    def chunks_on(self, shard: str, zone: str) -> Iterator[ChunkState]:
        return self._read_chunks(shard, zone) if (shard, zone) in self._counts else iter(())

    def count_on(self, shard: str) -> int:
        return sum(count for (held_by, _), count in self._counts.items() if held_by == shard)


@dataclass(frozen=True)
class BalancingState:
    """What the balancer decides from: shards, collections (chunks, zones, flags, data per shard), its settings."""

    shards: tuple[ShardState, ...]
    collections: tuple[CollectionState, ...]
    settings: BalancerSettings
    in_window: bool | None = None  # on the config server's clock; None when unknown


@dataclass(frozen=True)
class Migration:
    namespace: str
    from_shard: str
    to_shard: str
    min: Mapping[str, Any]
    reason: str  # MigrationReason: drain, zoneViolation, chunksImbalance
    zone: str = NO_ZONE


@dataclass(frozen=True)
class Obstacle:
    """Why something that could move does not: the words a person needs to unblock it."""

    namespace: str
    reason: str
    detail: str


@dataclass(frozen=True)
class RoundResult:
    migrations: tuple[Migration, ...]
    obstacles: tuple[Obstacle, ...]
    first_reason: dict[str, str]  # namespace -> the first reason this round found (balancerCollectionStatus)


def zone_of(chunk: ChunkState, zones: Sequence[ZoneRange], key: Sequence[str]) -> str:
    """ZoneInfo::getZoneForRange: the zone containing the whole chunk, else none (a partial overlap counts as none)."""
    low, high = bound_position(chunk.min, key), bound_position(chunk.max, key)
    for zone in zones:
        if bound_position(zone.min, key) <= low and high <= bound_position(zone.max, key):
            return zone.name
    return NO_ZONE


def bound_position(bound: Mapping[str, Any], key: Sequence[str]) -> tuple[SortKey, ...]:
    """A bound as the server orders bounds of ``key``."""
    from bson import MinKey

    return tuple(sort_key(bound.get(name, MinKey())) for name in key)  # extendRangeBound: missing fields are MinKey
