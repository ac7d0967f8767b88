"""mongoshard: declare shard keys on mongoengine models, provision, apply and report.

The public API is re-exported here and imported on first use, so that
``mongoshard --help`` does not pay for pymongo and mongoengine.  The code
behind it is layered, one folder a layer, each importing only the ones before
it: ``routing`` (pure), ``model``, ``cluster``, ``deploy``, ``reports``,
``advice``, ``cli``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "ShardSpec": "model.declaration",
    "Zone": "model.declaration",
    "sharded": "model.declaration",
    "spec_for": "model.declaration",
    "discover": "model.discovery",
    "scan": "model.discovery",
    "ShardKeyWriteError": "model.safe_writes",
    "Salting": "model.salting",
    "Lookup": "model.lookups",
    "LookupWriteError": "model.lookup_entries",
    "build_lookup": "cluster.lookups",
    "verify_lookup": "cluster.lookups",
    "DeclarationError": "errors",
    "MongoshardError": "errors",
    "hashed_value": "routing.hashing",
    "RoutingTable": "routing.table",
    "Targeting": "routing.table",
    "Chunk": "routing.table",
    "RoutingError": "routing.table",
    "ClusterSource": "cluster.source",
    "ConfigDatabaseSource": "cluster.live",
    "SnapshotSource": "cluster.offline",
    "PredictedSource": "cluster.offline",
    "write_snapshot": "cluster.offline",
    "apply": "cluster.apply",
    "ApplyResult": "cluster.apply",
    "ApplyError": "cluster.apply",
    "Topology": "deploy.topology",
    "load_topology": "deploy.topology",
    "balance": "reports.balance",
    "BalanceReport": "reports.balance",
    "explain": "reports.explain",
    "explain_query": "reports.explain",
    "parse_explain": "reports.explain",
    "overview": "reports.status",
    "capture": "reports.capture",
    "read_log": "reports.capture",
    "audit": "reports.audit",
    "advise": "advice.advise",
    "simulate": "advice.simulate",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:  # pragma: no cover
    from .advice.advise import advise  # noqa: F401
    from .advice.simulate import simulate  # noqa: F401
    from .cluster.apply import ApplyError, ApplyResult, apply  # noqa: F401
    from .cluster.live import ConfigDatabaseSource  # noqa: F401
    from .cluster.offline import PredictedSource, SnapshotSource, write_snapshot  # noqa: F401
    from .cluster.source import ClusterSource  # noqa: F401
    from .deploy.topology import Topology, load_topology  # noqa: F401
    from .errors import DeclarationError, MongoshardError  # noqa: F401
    from .model.declaration import ShardSpec, Zone, sharded, spec_for  # noqa: F401
    from .model.discovery import discover, scan  # noqa: F401
    from .model.safe_writes import ShardKeyWriteError  # noqa: F401
    from .model.salting import Salting  # noqa: F401
    from .reports.audit import audit  # noqa: F401
    from .reports.balance import BalanceReport, balance  # noqa: F401
    from .reports.capture import capture, read_log  # noqa: F401
    from .reports.explain import explain, explain_query, parse_explain  # noqa: F401
    from .reports.status import overview  # noqa: F401
    from .routing.hashing import hashed_value  # noqa: F401
    from .routing.table import Chunk, RoutingError, RoutingTable, Targeting  # noqa: F401


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mongoshard' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
