"""Where cluster facts come from: one small interface, several transports.

Routing, reports and advice ask a ``ClusterSource`` for shards and routing
tables and never learn which one they got:

* ``ConfigDatabaseSource`` (``live``) reads a live config database, through a
  router or a config server member;
* ``SnapshotSource`` (``offline``) reads a saved snapshot file;
* ``PredictedSource`` (``offline``) derives the tables a fresh cluster would
  create from the declared specs, for predictions before anything is sharded.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from collections.abc import Mapping, Sequence

from ..errors import MongoshardError
from ..routing.balancer_settings import read_balancer_settings
from ..routing.table import RoutingTable

if TYPE_CHECKING:  # pragma: no cover
    from ..routing.balancer import BalancingState

__all__ = ["ClusterSource", "SourceError", "ChunkCount", "ChunkSummary", "ShardData", "BalancerState", "ShardInfo",
           "RouterInfo", "DatabaseInfo"]


class SourceError(MongoshardError):
    """Cluster facts could not be read."""


@dataclass(frozen=True)
class ChunkCount:
    chunks: int
    jumbo: int = 0


@dataclass(frozen=True)
class ChunkSummary:
    """A collection's chunks in figures: enough for reports, without its routing table."""

    key: dict[str, Any]
    per_shard: dict[str, ChunkCount]
    top_shard: str | None  # owner of the chunk that ends at MaxKey, where increasing keys land


@dataclass(frozen=True)
class ShardData:
    """A collection's documents and bytes owned by one shard (orphans excluded where the server tells them apart)."""

    documents: int | None  # None where the source knows bytes only (a snapshot)
    bytes: int
    orphans: int = 0


@dataclass(frozen=True)
class BalancerState:
    """What is known about the balancer; None where the source cannot tell."""

    enabled: bool | None = None
    running: bool | None = None
    window: tuple[str, str] | None = None
    in_window: bool | None = None


def balancer_state(document: Mapping[str, Any] | None, *, running: bool | None = None,
                   inside: bool | None = None) -> BalancerState:
    """The ``balancer`` settings document as a report shows it: on when the server reads mode ``full``, its window
    as written, and whether the config server's clock is inside it (``inside``, when known)."""
    window_document = (document or {}).get("activeWindow")
    window = (str(window_document.get("start")), str(window_document.get("stop"))) if isinstance(
        window_document, Mapping) else None
    return BalancerState(read_balancer_settings(document).mode == "full", running, window, inside if window else None)


@dataclass(frozen=True)
class ShardInfo:
    name: str
    host: str | None = None
    state: int | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class RouterInfo:
    name: str
    version: str | None = None
    last_ping: datetime.datetime | None = None


@dataclass(frozen=True)
class DatabaseInfo:
    name: str
    primary: str | None = None


@runtime_checkable
class ClusterSource(Protocol):
    """Facts about a sharded cluster, wherever they are read from."""

    def shard_names(self) -> list[str]:
        """Every shard of the cluster, sorted."""
        ...

    def sharded_namespaces(self) -> list[str]:
        """Every sharded collection, sorted."""
        ...

    def routing_table(self, namespace: str) -> RoutingTable:
        """The collection's routing table; SourceError when it is not sharded."""
        ...

    def chunk_summary(self, namespaces: Sequence[str]) -> dict[str, ChunkSummary]:
        """Key, chunks (and jumbo chunks) per shard, and the top chunk's shard, for each sharded collection."""
        ...

    def data_distribution(self, namespaces: Sequence[str]) -> dict[str, dict[str, ShardData]]:
        """Documents and bytes per shard for each collection; empty where the source has no data."""
        ...

    def balancer(self) -> BalancerState:
        ...

    def collection_balancer_status(self, namespace: str) -> dict[str, Any] | None:
        """The server's ``balancerCollectionStatus`` (a router only), else None."""
        ...

    def balancing_state(self, namespaces: Sequence[str]) -> BalancingState | None:
        """What the balancer decides from (data per shard included); None for a source without data figures."""
        ...

    def collection_statuses(self, namespaces: Sequence[str], data: Mapping[str, Mapping[str, ShardData]] | None = None,
                            summaries: Mapping[str, ChunkSummary] | None = None) -> dict[str, str]:
        """balancerCollectionStatus of each collection as the 8.0 balancer decides it (``data``, ``summaries``: the
        data per shard and chunk summaries already read, if any); empty for a source without data figures."""
        ...

    def shards(self) -> list[ShardInfo]:
        ...

    def routers(self) -> list[RouterInfo]:
        ...

    def databases(self) -> list[DatabaseInfo]:
        ...

    def server_version(self) -> str | None:
        ...
