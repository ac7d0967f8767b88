"""Initial chunk layout of a newly sharded, empty collection.

Used to predict routing before a collection exists (offline) and to pre-split
one when it is sharded.  The hashed layout is the server's own
(``InitialSplitPolicy::calculateHashedSplitPoints``): split points spread
evenly over the int64 hash space, symmetric around 0, and contiguous runs of
chunks per shard.  The tests compare it with the chunks a real server writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from collections.abc import Callable, Mapping, Sequence

from bson import Int64, MaxKey, MinKey

from .ordering import sort_key
from .table import Chunk

__all__ = ["hashed_split_points", "initial_chunks", "default_initial_chunk_count", "ZoneRange"]

INT64_MAX = 2**63 - 1
# From 7.2 a hashed collection starts with one chunk per shard, before that two.
ONE_CHUNK_PER_SHARD_SINCE = (7, 2)


@dataclass(frozen=True)
class ZoneRange:
    """A zone's key range and the shards that may hold it."""

    name: str
    min: dict[str, Any]
    max: dict[str, Any]
    shards: tuple[str, ...]


def hashed_split_points(chunk_count: int) -> list[int]:
    """Hash values splitting the int64 space into ``chunk_count`` even chunks, ascending."""
    if chunk_count < 1:
        raise ValueError("a collection needs at least one chunk")
    interval = (INT64_MAX // chunk_count) * 2
    points: list[int] = []
    current = 0
    if chunk_count % 2 == 0:
        points.append(0)
        current += interval
    else:
        current += interval // 2
    for _ in range((chunk_count - 1) // 2):
        points.extend((current, -current))
        current += interval
    return sorted(points)


def default_initial_chunk_count(shard_count: int, server_version: tuple[int, int] = (6, 0)) -> int:
    per_shard = 1 if server_version >= ONE_CHUNK_PER_SHARD_SINCE else 2
    return per_shard * shard_count


def initial_chunks(
    key_pattern: Sequence[tuple[str, Any]],
    shards: Sequence[str],
    *,
    primary: str | None = None,
    initial_chunk_count: int | None = None,
    split_points: Sequence[Mapping[str, Any]] = (),
    zones: Sequence[ZoneRange] = (),
    server_version: tuple[int, int] = (6, 0),
) -> list[Chunk]:
    """The chunks an empty collection starts with when sharded on ``key_pattern`` (InitialSplitPolicy).

    ``shards`` are the cluster's shards in the order the server lists them (sorted by name, as
    ``getAllShardIdsSorted`` does); ``primary`` is the database's primary shard.  From 7.2 a chunk count
    is ignored and a hashed-prefix key starts with one chunk per shard (SERVER-74747).
    """
    if not shards:
        raise ValueError("a cluster needs at least one shard")
    primary = primary or shards[0]
    fields = [name for name, _ in key_pattern]
    hashed = next((name for name, kind in key_pattern if kind == "hashed"), None)
    count = None if server_version >= ONE_CHUNK_PER_SHARD_SINCE else initial_chunk_count
    if zones and hashed and initial_chunk_count:
        return _presplit_hashed_zone_chunks(fields, hashed, zones, shards, count, server_version)
    if zones:
        return _zone_chunks(fields, zones, shards)
    if split_points:
        points = sorted((_full_key(fields, p) for p in split_points), key=_key_order(fields))
        return _contiguous(fields, points, shards, primary)
    if hashed == fields[0]:
        count = count or default_initial_chunk_count(len(shards), server_version)
        points = [_hashed_point(fields, hashed, {}, value) for value in hashed_split_points(count)]
        return _contiguous(fields, points, shards, primary)
    return [Chunk(_edge(fields, MinKey()), _edge(fields, MaxKey()), primary)]


def _hashed_point(fields: Sequence[str], hashed: str, prefix: Mapping[str, Any], value: int) -> dict[str, Any]:
    """A hashed split point (calculateHashedSplitPoints): the prefix, the hash as NumberLong, MinKey after it."""
    after = fields[fields.index(hashed) + 1:]
    return {**{name: prefix[name] for name in fields[: fields.index(hashed)]}, hashed: Int64(value),
            **{name: MinKey() for name in after}}


def _edge(fields: Sequence[str], value: MinKey | MaxKey) -> dict[str, Any]:
    return dict.fromkeys(fields, value)


def _full_key(fields: Sequence[str], partial: Mapping[str, Any]) -> dict[str, Any]:
    """A split point or zone bound with every key field; missing trailing fields are MinKey."""
    return {name: partial.get(name, MinKey()) for name in fields}


def _key_order(fields: Sequence[str]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    return lambda key: tuple(sort_key(key[name]) for name in fields)


def _contiguous(fields: Sequence[str], points: list[dict[str, Any]], shards: Sequence[str], primary: str) -> list[Chunk]:
    """Chunks between ``points``, handed out in contiguous runs per shard (generateShardCollectionInitialChunks).

    With fewer chunks than shards, the first chunk goes to the primary shard.
    """
    bounds = [_edge(fields, MinKey()), *points, _edge(fields, MaxKey())]
    chunk_count = len(bounds) - 1
    per_shard = max(1, chunk_count // len(shards))
    return [
        Chunk(bounds[i], bounds[i + 1],
              primary if i == 0 and chunk_count < len(shards) else shards[(i // per_shard) % len(shards)])
        for i in range(chunk_count)
    ]


def _zone_shards(zone: ZoneRange, shards: Sequence[str]) -> list[str]:
    """A zone's shards in the order the server reads them from config.shards, then any the cluster lacks."""
    return [s for s in shards if s in zone.shards] + [s for s in zone.shards if s not in shards]


def _zone_layout(fields: Sequence[str], zones: Sequence[ZoneRange], shards: Sequence[str],
                 inside: Callable[[dict[str, Any], dict[str, Any], ZoneRange], list[Chunk]]) -> list[Chunk]:
    """Chunks for zones (AbstractTagsBasedSplitPolicy::createFirstChunks): each zone's range cut by ``inside``, and
    one chunk for every gap before, between and after the zones, round-robin over all shards."""
    order = _key_order(fields)
    ranges = sorted(((_full_key(fields, z.min), _full_key(fields, z.max), z) for z in zones), key=lambda r: order(r[0]))
    chunks: list[Chunk] = []
    cursor = _edge(fields, MinKey())
    gaps = 0

    def gap(low: dict[str, Any], high: dict[str, Any]) -> None:
        nonlocal gaps
        chunks.append(Chunk(low, high, shards[gaps % len(shards)]))
        gaps += 1

    for low, high, zone in ranges:
        if order(low) > order(cursor):
            gap(cursor, low)
        chunks.extend(inside(low, high, zone))
        cursor = high
    end = _edge(fields, MaxKey())
    if order(cursor) < order(end):
        gap(cursor, end)
    return chunks


def _zone_chunks(fields: Sequence[str], zones: Sequence[ZoneRange], shards: Sequence[str]) -> list[Chunk]:
    """SingleChunkPerTagSplitPolicy: one chunk per zone range, round-robin over that zone's shards."""
    used: dict[str, int] = {}

    def one_chunk(low: dict[str, Any], high: dict[str, Any], zone: ZoneRange) -> list[Chunk]:
        turn = used.get(zone.name, 0)
        used[zone.name] = turn + 1
        owners = _zone_shards(zone, shards) or [shards[0]]
        return [Chunk(low, high, owners[turn % len(owners)])]

    return _zone_layout(fields, zones, shards, one_chunk)


def _presplit_hashed_zone_chunks(fields: Sequence[str], hashed: str, zones: Sequence[ZoneRange], shards: Sequence[str],
                                 count: int | None, server_version: tuple[int, int]) -> list[Chunk]:
    """PresplitHashedZonesSplitPolicy (``presplitHashedZones: true``): each zone cut at hashed split points.

    Before 7.2 (initial_split_policy.cpp, 6.0): the count defaults to 2 x the shards holding any zone; each
    shard of a zone gets ceil(ceil(count / those shards) / zones on that shard) chunks of it, in contiguous
    runs in shard order.  From 7.2, one chunk per shard of the zone.
    """
    zones_per_shard: dict[str, int] = {}
    for zone in zones:
        for shard in _zone_shards(zone, shards):
            zones_per_shard[shard] = zones_per_shard.get(shard, 0) + 1
    one_per_shard = server_version >= ONE_CHUNK_PER_SHARD_SINCE
    per_shard = -(-(count or 2 * len(zones_per_shard)) // len(zones_per_shard))

    def cut(low: dict[str, Any], high: dict[str, Any], zone: ZoneRange) -> list[Chunk]:
        owners = _zone_shards(zone, shards)
        runs = [(shard, 1 if one_per_shard else -(-per_shard // zones_per_shard[shard])) for shard in owners]
        points = [_hashed_point(fields, hashed, low, value) for value in hashed_split_points(sum(n for _, n in runs))]
        bounds = [low, *points, high]
        owner_of = [shard for shard, n in runs for _ in range(n)]
        return [Chunk(bounds[i], bounds[i + 1], owner_of[i]) for i in range(len(owner_of))]

    return _zone_layout(fields, zones, shards, cut)
