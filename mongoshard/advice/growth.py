"""How a populated collection spreads once sharded on 7.0+: no autosplitter, only the balancer's migrations.

The facts (mongodb-sharding-facts.md, "Balancer and chunks on 7.0+"), each from the server source:

* ``shardCollection`` of a non-empty collection makes one chunk on the primary shard
  (``SingleChunkOnPrimarySplitPolicy``); no autosplitter cuts it afterwards (``featureFlagNoMoreAutoSplitter``).
* Each round the 8.0 ``BalancerPolicy`` decides, by data size, with the 3 x chunk-size threshold
  (``routing.balancer.balance_round``, the same code ``balance --plan`` runs).
* A migration moves the donor's first non-jumbo chunk from its lower bound, cut by ``autoSplitVector`` at about one
  chunk size and never inside one key value, or whole when the chunk (or the shard's whole collection) is smaller
  than a chunk (``migration_source_manager.cpp`` ``computeOtherBound``).
* A range of more than 2 x chunk size cannot migrate; with no split point inside (one key value) it is marked jumbo
  (``MigrationChunkClonerSource``, ``splitOrMarkJumbo``).
* The AutoMerger merges contiguous non-jumbo chunks of a shard (hourly, no size cap, ``auto_merger_policy.cpp``).
  Merging never changes what the balancer picks next (the donor's first chunk still starts at the same bound, and
  the cut is still one chunk size from it), so merging after each round gives the same moves and the layout the
  AutoMerger leaves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..routing.balancer import ChunkState, CollectionState, ShardState, balance_round

__all__ = ["Growth", "grow", "MAX_ROUNDS"]

# Past this many rounds the simulation stops and says it did not converge (a round moves one chunk size per pair
# of shards, so 10,000 rounds is over a terabyte at the default chunk size).
MAX_ROUNDS = 10_000
_RANK = "rank"  # the simulation's key: a chunk's lower bound is the rank of its first key value


@dataclass(frozen=True)
class Growth:
    """Chunks as the 8.0 balancer and AutoMerger leave them: ``starts[i]`` is chunk i's first key rank."""

    starts: np.ndarray
    owner: list[int]
    jumbo: list[bool]
    rounds: int
    moved_bytes: int
    converged: bool


def grow(value_bytes: np.ndarray, shards: int, chunk_bytes: int, *, after: Growth | None = None) -> Growth:
    """Balance a collection whose key values, in key order, hold ``value_bytes`` each: from one chunk on shard 0, as
    ``shardCollection`` leaves a populated collection, or from the layout ``after`` left (a shard added)."""
    distinct = len(value_bytes)
    before = np.concatenate(([0], np.cumsum(value_bytes, dtype=np.float64)))
    chunks: list[tuple[int, int, bool]]  # (first rank, shard, jumbo)
    if after is not None:
        chunks = list(zip((int(s) for s in after.starts), after.owner, after.jumbo))
    else:
        chunks = [(0, 0, False)] if distinct else []
    data = [0.0] * shards
    for index, (start, shard, _) in enumerate(chunks):
        data[shard] += float(before[_end(chunks, index, distinct)] - before[start])
    names = [f"shard{n}" for n in range(shards)]
    states = tuple(ShardState(name) for name in names)
    rounds = moved = 0
    converged = True
    while chunks:
        collection = CollectionState("simulated", {_RANK: 1}, tuple(
            ChunkState({_RANK: start}, {_RANK: _end(chunks, i, distinct)}, names[shard], jumbo)
            for i, (start, shard, jumbo) in enumerate(chunks)), {name: int(data[n]) for n, name in enumerate(names)},
            chunk_bytes)
        migrations = balance_round(states, [collection]).migrations
        if not migrations:
            break
        if rounds == MAX_ROUNDS:
            converged = False
            break
        rounds += 1
        for migration in migrations:
            index = next(i for i, chunk in enumerate(chunks) if chunk[0] == migration.min[_RANK])
            moved += _migrate(chunks, index, names.index(migration.to_shard), before, distinct, chunk_bytes, data)
        chunks = _merged(chunks)
    return Growth(np.array([c[0] for c in chunks], dtype=np.int64), [c[1] for c in chunks], [c[2] for c in chunks],
                  rounds, int(moved), converged)


def _end(chunks: list[tuple[int, int, bool]], index: int, distinct: int) -> int:
    return chunks[index + 1][0] if index + 1 < len(chunks) else distinct


def _migrate(chunks: list[tuple[int, int, bool]], index: int, to: int, before: np.ndarray, distinct: int,
             chunk_bytes: int, data: list[float]) -> float:
    """Move the piece ``computeOtherBound`` cuts from chunk ``index`` to shard ``to``; a piece of one key value over
    2 x chunk size fails and is marked jumbo instead.  Returns the bytes moved."""
    start, donor, _ = chunks[index]
    end = _end(chunks, index, distinct)
    chunk_size = before[end] - before[start]
    if chunk_size <= chunk_bytes or data[donor] < chunk_bytes:
        cut = end  # autoSplitVector finds no split point: the whole chunk moves
    else:
        # the first key value reaching one chunk size closes the piece (excluded, unless it is the first value)
        crossing = int(np.searchsorted(before, before[start] + chunk_bytes, side="left")) - 1
        cut = min(end, max(start + 1, crossing))
    piece = before[cut] - before[start]
    if piece > 2 * chunk_bytes and cut == start + 1:  # one key value: no split point, the migration fails
        chunks[index:index + 1] = [(start, donor, True)] + ([(cut, donor, False)] if cut < end else [])
        return 0.0
    chunks[index:index + 1] = [(start, to, False)] + ([(cut, donor, False)] if cut < end else [])
    data[donor] -= piece
    data[to] += piece
    return piece


def _merged(chunks: list[tuple[int, int, bool]]) -> list[tuple[int, int, bool]]:
    """The AutoMerger: contiguous non-jumbo chunks of one shard become one."""
    merged: list[tuple[int, int, bool]] = []
    for chunk in chunks:
        if merged and not chunk[2] and not merged[-1][2] and merged[-1][1] == chunk[1]:
            continue
        merged.append(chunk)
    return merged
