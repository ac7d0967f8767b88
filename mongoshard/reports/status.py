"""One screen about a cluster: version, shards, routers, balancer, databases, sharded collections."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..cluster.live import as_source
from ..cluster.source import BalancerState, ClusterSource, DatabaseInfo, RouterInfo, ShardInfo

__all__ = ["overview", "ClusterOverview", "CollectionOverview"]


@dataclass(frozen=True)
class CollectionOverview:
    namespace: str
    key: dict[str, Any]
    chunks: int


@dataclass(frozen=True)
class ClusterOverview:
    version: str | None
    shards: tuple[ShardInfo, ...]
    routers: tuple[RouterInfo, ...]
    balancer: BalancerState
    databases: tuple[DatabaseInfo, ...]
    collections: tuple[CollectionOverview, ...]


def overview(source: ClusterSource | Any) -> ClusterOverview:
    """The cluster as a whole, from any source (a pymongo client is read as a live cluster)."""
    source = as_source(source)
    namespaces = source.sharded_namespaces()
    summaries = source.chunk_summary(namespaces)
    collections = tuple(
        CollectionOverview(ns, summaries[ns].key, sum(c.chunks for c in summaries[ns].per_shard.values()))
        for ns in namespaces if ns in summaries
    )
    return ClusterOverview(source.server_version(), tuple(source.shards()), tuple(source.routers()), source.balancer(),
                           tuple(source.databases()), collections)
