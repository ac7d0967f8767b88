"""Initial chunk layout of a newly sharded, empty collection.

Used to predict routing before a collection exists (offline) and to pre-split
one when it is sharded.  The hashed layout is the server's own
(``InitialSplitPolicy::calculateHashedSplitPoints``): split points spread
evenly over the int64 hash space, symmetric around 0, and contiguous runs of
chunks per shard.  The tests compare it with the chunks a real server writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

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
    """The chunks an empty collection starts with when sharded on ``key_pattern``."""
    if not shards:
        raise ValueError("a cluster needs at least one shard")
    primary = primary or shards[0]
    fields = [name for name, _ in key_pattern]
    if zones:
        return _zone_chunks(fields, zones, shards)
    if split_points:
        points = sorted((_full_key(fields, p) for p in split_points), key=_key_order(fields))
        return _contiguous(fields, points, shards)
    if key_pattern[0][1] == "hashed":
        count = initial_chunk_count or default_initial_chunk_count(len(shards), server_version)
        filler = {name: MinKey() for name in fields[1:]}
        points = [{fields[0]: Int64(value), **filler} for value in hashed_split_points(count)]
        return _contiguous(fields, points, shards)
    return [Chunk(_edge(fields, MinKey()), _edge(fields, MaxKey()), primary)]


def _edge(fields: Sequence[str], value: MinKey | MaxKey) -> dict[str, Any]:
    return {name: value for name in fields}


def _full_key(fields: Sequence[str], partial: Mapping[str, Any]) -> dict[str, Any]:
    """A split point or zone bound with every key field; missing trailing fields are MinKey."""
    return {name: partial.get(name, MinKey()) for name in fields}


def _key_order(fields: Sequence[str]):
    return lambda key: tuple(sort_key(key[name]) for name in fields)


def _contiguous(fields: Sequence[str], points: list[dict[str, Any]], shards: Sequence[str]) -> list[Chunk]:
    """Chunks between ``points``, handed out in contiguous runs per shard as the server does."""
    bounds = [_edge(fields, MinKey()), *points, _edge(fields, MaxKey())]
    chunk_count = len(bounds) - 1
    per_shard = max(1, chunk_count // len(shards))
    return [
        Chunk(bounds[i], bounds[i + 1], shards[(i // per_shard) % len(shards)])
        for i in range(chunk_count)
    ]


def _zone_chunks(fields: Sequence[str], zones: Sequence[ZoneRange], shards: Sequence[str]) -> list[Chunk]:
    """One chunk per zone range on a shard of that zone; the gaps between zones go round-robin over all shards.

    The server's own rule (``SingleChunkPerTagSplitPolicy``), checked against a real one by the tests.
    """
    order = _key_order(fields)
    ranges = sorted(((_full_key(fields, z.min), _full_key(fields, z.max), z) for z in zones), key=lambda r: order(r[0]))
    chunks: list[Chunk] = []
    cursor = _edge(fields, MinKey())
    used: dict[str, int] = {}
    gaps = 0

    def gap(low: dict[str, Any], high: dict[str, Any]) -> None:
        nonlocal gaps
        chunks.append(Chunk(low, high, shards[gaps % len(shards)]))
        gaps += 1

    for low, high, zone in ranges:
        if order(low) > order(cursor):
            gap(cursor, low)
        turn = used.get(zone.name, 0)
        used[zone.name] = turn + 1
        chunks.append(Chunk(low, high, zone.shards[turn % len(zone.shards)] if zone.shards else shards[0]))
        cursor = high
    end = _edge(fields, MaxKey())
    if order(cursor) < order(end):
        gap(cursor, end)
    return chunks
