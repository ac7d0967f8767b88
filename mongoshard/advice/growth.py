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

The policy sees, per shard, only its first movable chunk (or one jumbo chunk when it has no other): with no zones
and no draining shard that is all ``_singleZoneBalanceBasedOnDataSize`` reads of a shard's chunks (it takes the
donor's first non-jumbo chunk, and gives up on a donor holding only jumbo ones), so a round costs a few lookups
however many chunks the collection has grown.
"""

from __future__ import annotations

import bisect
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
    layout = _Chunks(np.concatenate(([0], np.cumsum(value_bytes, dtype=np.float64))), shards)
    if after is not None:
        for start, shard, jumbo in zip((int(s) for s in after.starts), after.owner, after.jumbo):
            layout.add(start, shard, jumbo)
    elif len(value_bytes):
        layout.add(0, 0, False)
    layout.count_data()
    names = [f"shard{n}" for n in range(shards)]
    states = tuple(ShardState(name) for name in names)
    rounds = 0
    moved = 0.0
    converged = True
    while layout.starts:
        migrations = balance_round(states, [layout.as_seen_by_the_policy(names, chunk_bytes)]).migrations
        if not migrations:
            break
        if rounds == MAX_ROUNDS:
            converged = False
            break
        rounds += 1
        for migration in migrations:
            moved += layout.migrate(migration.min[_RANK], names.index(migration.to_shard), chunk_bytes)
    return Growth(np.array(layout.starts, dtype=np.int64), [layout.shard[s] for s in layout.starts],
                  [layout.jumbo[s] for s in layout.starts], rounds, int(moved), converged)


class _Chunks:
    """The collection's chunks by first key rank, each shard's movable (non-jumbo) ones in key order, and its data."""

    def __init__(self, before: np.ndarray, shards: int) -> None:
        self.before = before  # before[r]: bytes of the key values ranked below r
        self.distinct = len(before) - 1
        self.starts: list[int] = []
        self.shard: dict[int, int] = {}
        self.jumbo: dict[int, bool] = {}
        self.movable: list[list[int]] = [[] for _ in range(shards)]
        self.stuck: list[list[int]] = [[] for _ in range(shards)]  # jumbo chunks, in key order
        self.data = [0.0] * shards

    def add(self, start: int, shard: int, jumbo: bool) -> None:
        bisect.insort(self.starts, start)
        self.shard[start], self.jumbo[start] = shard, jumbo
        bisect.insort(self.stuck[shard] if jumbo else self.movable[shard], start)

    def remove(self, start: int) -> None:
        listed = self.stuck[self.shard[start]] if self.jumbo[start] else self.movable[self.shard[start]]
        del listed[bisect.bisect_left(listed, start)]
        del self.starts[bisect.bisect_left(self.starts, start)]
        del self.shard[start], self.jumbo[start]

    def end(self, start: int) -> int:
        following = bisect.bisect_right(self.starts, start)
        return self.starts[following] if following < len(self.starts) else self.distinct

    def count_data(self) -> None:
        for start in self.starts:
            self.data[self.shard[start]] += float(self.before[self.end(start)] - self.before[start])

    def as_seen_by_the_policy(self, names: list[str], chunk_bytes: int) -> CollectionState:
        shown = sorted(chunks[0] for chunks in (self.movable[n] or self.stuck[n] for n in range(len(names))) if chunks)
        return CollectionState("simulated", {_RANK: 1}, tuple(
            ChunkState({_RANK: start}, {_RANK: self.end(start)}, names[self.shard[start]], self.jumbo[start])
            for start in shown), {name: int(self.data[n]) for n, name in enumerate(names)}, chunk_bytes)

    def migrate(self, start: int, to: int, chunk_bytes: int) -> float:
        """Move the piece ``computeOtherBound`` cuts from the chunk at ``start`` to shard ``to``; a piece of one key
        value over 2 x chunk size fails and is marked jumbo instead.  Returns the bytes moved."""
        donor, end, before = self.shard[start], self.end(start), self.before
        if before[end] - before[start] <= chunk_bytes or self.data[donor] < chunk_bytes:
            cut = end  # autoSplitVector finds no split point: the whole chunk moves
        else:
            # the first key value reaching one chunk size closes the piece (excluded, unless it is the first value)
            crossing = int(np.searchsorted(before, before[start] + chunk_bytes, side="left")) - 1
            cut = min(end, max(start + 1, crossing))
        piece = float(before[cut] - before[start])
        self.remove(start)
        if cut < end:
            self.add(cut, donor, False)
        if piece > 2 * chunk_bytes and cut == start + 1:  # one key value: no split point, the migration fails
            self.add(start, donor, True)
            return 0.0
        self.add(start, to, False)
        self.data[donor] -= piece
        self.data[to] += piece
        if cut == end:
            self._merge_into_previous(end)
        self._merge_into_previous(start)
        return piece

    def _merge_into_previous(self, start: int) -> None:
        """The AutoMerger: a non-jumbo chunk joins the non-jumbo chunk before it on the same shard."""
        position = bisect.bisect_left(self.starts, start)
        if not 0 < position < len(self.starts) or self.starts[position] != start:
            return
        previous = self.starts[position - 1]
        if not self.jumbo[start] and not self.jumbo[previous] and self.shard[start] == self.shard[previous]:
            self.remove(start)
