"""Chunk and data balance per shard, from any ``ClusterSource``, and the 8.0 balancer's verdict on it.

``balanced`` is the server's rule (``routing.balancer``): the 8.0 balancer would schedule nothing for the collection
(``status`` in balancerCollectionStatus's words: compliant, draining, zoneViolation, chunksImbalance,
defragmentingChunks).  A source without data figures (a snapshot, a prediction) gives no verdict (None): chunk
counts decide nothing since 7.0.  ``imbalance``, the largest shard's share against the even share (1.0 is perfect),
stays as information, and ``max_imbalance``, when given, is an extra gate of the user's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from collections.abc import Sequence

from ..cluster.live import as_source
from ..cluster.source import BalancerState, ChunkCount, ChunkSummary, ClusterSource, ShardData, SourceError

__all__ = ["balance", "BalanceReport", "CollectionBalance", "ShardBalance", "DEFAULT_MAX_IMBALANCE"]

DEFAULT_MAX_IMBALANCE = 1.5  # what the verdict text calls even, for information


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
    balanced: bool | None  # the 8.0 balancer would schedule nothing; None without data figures
    verdict: str
    balancer_status: dict[str, Any] | None = None
    status: str | None = None  # balancerCollectionStatus's words, as mongoshard predicts them
    beyond_limit: bool = False  # imbalance above the max_imbalance the caller gave

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
    max_imbalance: float | None

    @property
    def balanced(self) -> bool:
        """Nothing for the balancer to do, and nothing beyond the caller's own limit (collections without a verdict
        count as balanced: nothing says otherwise)."""
        return all(c.balanced is not False and not c.beyond_limit for c in self.collections)


def balance(source: ClusterSource | Any, namespaces: Sequence[str] | None = None, *,
            max_imbalance: float | None = None) -> BalanceReport:
    """Balance of ``namespaces`` (default: every sharded collection); ``source`` may be a pymongo client."""
    source = as_source(source)
    chosen = list(namespaces or source.sharded_namespaces())
    shards = source.shard_names()
    summaries = source.chunk_summary(chosen)
    missing = [ns for ns in chosen if ns not in summaries]
    if missing:
        raise SourceError(f"{', '.join(missing)} is not a sharded collection in this cluster; check the name")
    data = source.data_distribution(chosen)
    statuses = source.collection_statuses(chosen, data, summaries)
    collections = tuple(
        _collection(source, namespace, shards, summaries[namespace], data.get(namespace, {}), max_imbalance,
                    statuses.get(namespace))
        for namespace in chosen
    )
    return BalanceReport(collections, source.balancer(), max_imbalance)


def _collection(source: ClusterSource, namespace: str, shards: list[str], summary: ChunkSummary,
                data: dict[str, ShardData], max_imbalance: float | None, status: str | None) -> CollectionBalance:
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
    verdict = _verdict(strategy, imbalance, max_imbalance or DEFAULT_MAX_IMBALANCE, measure, rows, summary.top_shard,
                       bool(data))
    return CollectionBalance(
        namespace, summary.key, strategy, rows, measure, round(imbalance, 4),
        max(values.values(), default=0) - min(values.values(), default=0),
        None if status is None else status == "compliant", verdict, source.collection_balancer_status(namespace),
        status, max_imbalance is not None and imbalance > max_imbalance,
    )


def _measure(shards: list[str], counts: dict[str, ChunkCount],
             data: dict[str, ShardData]) -> tuple[str, dict[str, float]]:
    if data and sum(d.bytes for d in data.values()):
        return "bytes", {s: float(data[s].bytes) if s in data else 0.0 for s in shards}
    if data and sum(d.documents or 0 for d in data.values()):
        return "documents", {s: float(data[s].documents or 0) if s in data else 0.0 for s in shards}
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
    return "ranged key: data follows the key ranges, " + (
        "evenly" if even else "unevenly; the balancer moves ranges by data size")
