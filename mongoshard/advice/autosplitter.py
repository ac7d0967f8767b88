"""The pre-7.0 model: the autosplitter cuts the key-ordered sample into chunks of the chunk size, never inside one key
value (a value bigger than a chunk is jumbo), and the balancer deals them to shards in contiguous runs of equal data.

No supported server works this way (there is no autosplitter since 7.0: ``growth`` is the model for 7.0+); it stays
for ``--server-version 6.0`` and for ``grown_layout``, a routing table with many chunks to judge targeting on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .columns import KeyRanks

__all__ = ["Layout", "autosplit_layout", "moved_by_chunks"]


@dataclass(frozen=True)
class Layout:
    """The sample's key values (by rank) in chunks, and each chunk's shard: what the figures read, whichever model made it."""

    chunk_of_rank: np.ndarray  # rank -> chunk
    first_ranks: np.ndarray  # chunk -> its first rank
    chunk_sizes: list[int]
    chunk_counts: list[int]
    jumbo: int
    owner: list[int]  # chunk -> shard


def autosplit_layout(keyed: KeyRanks, sizes: np.ndarray, shards: int, limit: int) -> Layout:
    """Cut the key-ordered values into chunks of at most ``limit`` bytes, as the splitter does: cuts fall only between
    key values, and one value bigger than the limit is a chunk of its own that cannot split (jumbo)."""
    distinct = keyed.cardinality
    value_bytes = np.bincount(keyed.ranks, weights=sizes, minlength=distinct).astype(np.int64)
    value_counts = np.bincount(keyed.ranks, minlength=distinct)
    before = np.concatenate(([0], np.cumsum(value_bytes)))
    starts, jumbo, position = [], 0, 0
    while position < distinct:
        end = int(np.searchsorted(before, before[position] + limit, side="right")) - 1
        if end <= position:  # one value alone is over the limit
            end, jumbo = position + 1, jumbo + 1
        starts.append(position)
        position = end
    first_ranks = np.array(starts, dtype=np.int64)
    chunk_of_rank = np.searchsorted(first_ranks, np.arange(distinct), side="right") - 1
    chunk_sizes = [int(v) for v in np.add.reduceat(value_bytes, first_ranks)] if starts else []
    chunk_counts = [int(v) for v in np.add.reduceat(value_counts, first_ranks)] if starts else []
    return Layout(chunk_of_rank, first_ranks, chunk_sizes, chunk_counts, jumbo, _deal(chunk_sizes, shards))


def _deal(chunk_sizes: list[int], shards: int) -> list[int]:
    """Contiguous runs of chunks with equal data per shard, as far as chunk sizes allow."""
    total = sum(chunk_sizes) or 1
    owner, before = [], 0
    for size in chunk_sizes:
        middle = before + size / 2
        owner.append(min(shards - 1, int(middle * shards / total)))
        before += size
    return owner


def moved_by_chunks(owner: list[int], chunk_sizes: list[int], chunk_counts: list[int], shards: int) -> float:
    """A new shard takes whole chunks from the fullest shards until it holds its share; what moves."""
    loads = [0] * shards
    for chunk, shard in enumerate(owner):
        loads[shard] += chunk_sizes[chunk]
    target = sum(chunk_sizes) / (shards + 1)
    new_load = moved = 0
    by_shard: dict[int, list[int]] = {}
    for chunk, shard in enumerate(owner):
        by_shard.setdefault(shard, []).append(chunk)
    while True:
        donor = max(range(shards), key=loads.__getitem__)
        if not by_shard.get(donor):
            break
        chunk = by_shard[donor][-1]
        if new_load + chunk_sizes[chunk] / 2 > target:
            break
        by_shard[donor].pop()
        loads[donor] -= chunk_sizes[chunk]
        new_load += chunk_sizes[chunk]
        moved += chunk_counts[chunk]
    documents = sum(chunk_counts) or 1
    return moved / documents
