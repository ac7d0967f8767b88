"""What the commands read: models, filters, candidate keys, topology files, and where cluster facts come from."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from .output import fail

if TYPE_CHECKING:  # pragma: no cover
    from ..deploy.topology import Topology
    from ..model.declaration import ShardSpec
    from ..routing.table import RoutingTable

__all__ = ["model_spec", "parse_filter", "parse_candidate", "routing_table_for", "load_cli_topology", "cluster_source",
           "uri_credentials"]

def model_spec(target: str, database: str | None) -> "ShardSpec":
    from ..model.declaration import spec_for
    from ..model.discovery import load_model

    document_class = load_model(target)
    spec = spec_for(document_class, database=database)
    if spec is None:
        fail(f"{document_class.__name__} declares no shard key; add meta['shard_key'] or @sharded(key=...)")
    return spec


def parse_filter(text: str) -> dict[str, Any]:
    from bson import json_util

    try:
        document = json_util.loads(text)
    except (ValueError, TypeError) as exc:
        fail(f"the filter is not valid JSON ({exc}); quote it, e.g. '{{\"user_id\": 7}}'")
    if not isinstance(document, dict):
        fail("the filter must be a JSON object, e.g. '{\"user_id\": 7}'")
    return document


def parse_candidate(entry: str) -> tuple[str, dict[str, Any]]:
    namespace, separator, text = entry.partition("=")
    if not separator or "." not in namespace:
        fail(f"--key '{entry}' must be NAMESPACE=KEY_JSON, e.g. 'game.creatures={{\"species\": 1}}'")
    pattern = parse_filter(text)
    if not pattern or any(kind not in (1, -1, "hashed") for kind in pattern.values()):
        fail(f"--key '{entry}': each key field must be 1 or \"hashed\"")
    return namespace, pattern


def routing_table_for(spec: "ShardSpec", path: str | None, shard_count: int) -> "RoutingTable":
    from ..cluster.offline import PredictedSource, SnapshotSource

    if path:
        return SnapshotSource(path).routing_table(spec.namespace)
    return PredictedSource([spec], [f"shard{i}" for i in range(shard_count)]).routing_table(spec.namespace)


def load_cli_topology(path: str, no_auth: bool = False) -> "Topology":
    from dataclasses import replace

    from ..deploy.topology import load_topology

    topology = load_topology(path)
    for warning in topology.warnings:
        print(f"mongoshard: warning: {warning}", file=sys.stderr)
    return replace(topology, auth=False) if no_auth else topology


def cluster_source(uri: str | None, file: str, snapshot_file: str | None = None) -> Any:
    """Where report facts come from: a snapshot file, --uri, or the topology's router, else its config server."""
    from ..cluster.connection import ConnectionFailed, connect
    from ..cluster.live import ConfigDatabaseSource
    from ..cluster.offline import SnapshotSource
    from ..deploy.credentials import admin_client_options

    if snapshot_file:
        return SnapshotSource(snapshot_file)
    if uri:
        return ConfigDatabaseSource(connect(uri), shard_options=uri_credentials(uri))
    topology = load_cli_topology(file)
    options = admin_client_options(topology.data_dir)
    try:
        client = connect(topology.router_uri, timeout_ms=1500, **options)
    except ConnectionFailed:
        config_port = topology.config_server.ports[0]
        client = connect(f"mongodb://127.0.0.1:{config_port}/?directConnection=true", **options)
    return ConfigDatabaseSource(client, shard_options=options)


def uri_credentials(uri: str) -> dict[str, Any]:
    """The URI's login, for the direct shard connections a config-server URI needs."""
    from pymongo.uri_parser import parse_uri

    parsed = parse_uri(uri)
    if not parsed.get("username"):
        return {}
    options = {"username": parsed["username"], "password": parsed["password"]}
    if parsed["options"].get("authsource"):
        options["authSource"] = parsed["options"]["authsource"]
    return options
