"""mongoshard: declare shard keys on mongoengine models, provision, apply and report.

The public API is re-exported here and imported on first use, so that
``mongoshard --help`` does not pay for pymongo and mongoengine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "ShardSpec": "declaration",
    "Zone": "declaration",
    "sharded": "declaration",
    "discover": "declaration",
    "spec_for": "declaration",
    "DeclarationError": "declaration",
    "hashed_value": "hashing",
    "RoutingTable": "routing",
    "Targeting": "routing",
    "Chunk": "routing",
    "RoutingError": "routing",
    "ClusterSource": "sources",
    "ConfigDatabaseSource": "sources",
    "SnapshotSource": "sources",
    "PredictedSource": "sources",
    "write_snapshot": "sources",
    "MongoshardError": "errors",
    "apply": "operations",
    "ApplyResult": "operations",
    "ApplyError": "operations",
    "balance": "balance_report",
    "BalanceReport": "balance_report",
    "explain": "query_plans",
    "explain_query": "query_plans",
    "parse_explain": "query_plans",
    "overview": "overview",
    "Topology": "topology",
    "load_topology": "topology",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:  # pragma: no cover
    from .balance_report import BalanceReport, balance
    from .declaration import DeclarationError, ShardSpec, Zone, discover, sharded, spec_for
    from .errors import MongoshardError
    from .hashing import hashed_value
    from .overview import overview
    from .query_plans import explain, explain_query, parse_explain
    from .operations import ApplyError, ApplyResult, apply
    from .routing import Chunk, RoutingError, RoutingTable, Targeting
    from .sources import ClusterSource, ConfigDatabaseSource, PredictedSource, SnapshotSource, write_snapshot
    from .topology import Topology, load_topology


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mongoshard' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
