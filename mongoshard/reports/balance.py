"""Chunk and data balance per shard, from any ``ClusterSource``.

Since MongoDB 6.0.3 the balancer balances data size, not chunk counts, so the
imbalance is measured on data when the source knows it (bytes, else
documents) and on chunks only for sources without data (a snapshot, a
prediction).  ``imbalance`` is the largest shard's share against the even
share: 1.0 is perfect, 2.0 means one shard holds twice its part.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from ..cluster.live import as_source
from ..cluster.source import BalancerState, ChunkCount, ChunkSummary, ClusterSource, ShardData, SourceError

__all__ = ["balance", "BalanceReport", "CollectionBalance", "ShardBalance", "DEFAULT_MAX_IMBALANCE"]

DEFAULT_MAX_IMBALANCE = 1.5


@dataclass(frozen=True)
class ShardBalance:
    shard: str
    chunks: int
    jumbo: int
    documents: int | None
    bytes: int | None
    share: float  # of the collection's measure


@dataclass(frozen=True)
class CollectionBalance:
    namespace: str
    key: dict[str, Any]
    strategy: str
    shards: tuple[ShardBalance, ...]
    measure: str  # "bytes", "documents" or "chunks"
    imbalance: float
    spread: float  # largest minus smallest shard, in the measure's unit
    balanced: bool
    verdict: str
    balancer_status: dict[str, Any] | None = None

    @property
    def chunks(self) -> int:
        return sum(s.chunks for s in self.shards)

    @property
    def jumbo(self) -> int:
        return sum(s.jumbo for s in self.shards)


@dataclass(frozen=True)
class BalanceReport:
    collections: tuple[CollectionBalance, ...]
    balancer: BalancerState
    max_imbalance: float

    @property
    def balanced(self) -> bool:
        return all(c.balanced for c in self.collections)


def balance(source: ClusterSource | Any, namespaces: Sequence[str] | None = None, *,
            max_imbalance: float = DEFAULT_MAX_IMBALANCE) -> BalanceReport:
    """Balance of ``namespaces`` (default: every sharded collection); ``source`` may be a pymongo client."""
    source = as_source(source)
    chosen = list(namespaces or source.sharded_namespaces())
    shards = source.shard_names()
    summaries = source.chunk_summary(chosen)
    missing = [ns for ns in chosen if ns not in summaries]
    if missing:
        raise SourceError(f"{', '.join(missing)} is not a sharded collection in this cluster; check the name")
    data = source.data_distribution(chosen)
    collections = tuple(
        _collection(source, namespace, shards, summaries[namespace], data.get(namespace, {}), max_imbalance)
        for namespace in chosen
    )
    return BalanceReport(collections, source.balancer(), max_imbalance)


def _collection(source: ClusterSource, namespace: str, shards: list[str], summary: ChunkSummary,
                data: dict[str, ShardData], max_imbalance: float) -> CollectionBalance:
    counts = summary.per_shard
    measure, values = _measure(shards, counts, data)
    total = sum(values.values())
    rows = tuple(
        ShardBalance(shard, counts.get(shard, ChunkCount(0)).chunks, counts.get(shard, ChunkCount(0)).jumbo,
                     data[shard].documents if shard in data else None, data[shard].bytes if shard in data else None,
                     values[shard] / total if total else 0.0)
        for shard in shards
    )
    largest = max((r.share for r in rows), default=0.0)
    imbalance = largest * len(shards) if total else 1.0
    strategy = "hashed" if "hashed" in summary.key.values() else "ranged"
    return CollectionBalance(
        namespace, summary.key, strategy, rows, measure, round(imbalance, 4),
        max(values.values(), default=0) - min(values.values(), default=0),
        imbalance <= max_imbalance, _verdict(strategy, imbalance, max_imbalance, measure, rows, summary.top_shard, bool(data)),
        source.collection_balancer_status(namespace),
    )


def _measure(shards: list[str], counts: dict[str, ChunkCount],
             data: dict[str, ShardData]) -> tuple[str, dict[str, float]]:
    if data and sum(d.bytes for d in data.values()):
        return "bytes", {s: float(data[s].bytes) if s in data else 0.0 for s in shards}
    if data and sum(d.documents for d in data.values()):
        return "documents", {s: float(data[s].documents) if s in data else 0.0 for s in shards}
    return "chunks", {s: float(counts[s].chunks) if s in counts else 0.0 for s in shards}


def _verdict(strategy: str, imbalance: float, max_imbalance: float, measure: str, rows: tuple[ShardBalance, ...],
             top_shard: str | None, has_data: bool) -> str:
    even = imbalance <= max_imbalance
    if measure == "chunks":
        why = "the collection is empty" if has_data else "this source has no data figures"
        return f"{'even' if even else 'uneven'} chunk counts ({why})"
    if strategy == "hashed":
        if even:
            return "even, as a hashed key promises"
        return ("uneven for a hashed key: a few key values hold most documents (low cardinality or celebrity values); "
                "hashing spreads distinct values, not repeated ones")
    top = next((r for r in rows if r.shard == top_shard), None)
    if top is not None and top.share >= 0.5 and len(rows) > 1:
        return (f"ranged key: {top.shard} owns the top chunk (where increasing keys land) and {top.share:.0%} of the data; "
                "a monotonic key keeps it hot")
    return "ranged key: data follows the key ranges, " + ("evenly" if even else "unevenly; the balancer moves ranges by data size")
