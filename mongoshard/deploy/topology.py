"""A cluster's topology: the ``mongoshard.yaml`` file, validated field by field.

One description serves both ways of running a cluster (compose and local
processes), so every port, replica set name and member count is decided here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..errors import MongoshardError

__all__ = ["Topology", "ReplicaSet", "Process", "TopologyError", "load_topology", "parse_topology", "commented_topology"]

DEFAULT_FILE = "mongoshard.yaml"
_PROJECT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")


class TopologyError(MongoshardError):
    """The topology file is malformed or describes an impossible cluster."""


@dataclass(frozen=True)
class ReplicaSet:
    """A replica set: its name and its members' ports on the host."""

    name: str
    ports: tuple[int, ...]
    role: str  # "configsvr" or "shardsvr"

    @property
    def local_hosts(self) -> str:
        """The members as a local cluster reaches them: "127.0.0.1:port,..."."""
        return ",".join(f"127.0.0.1:{port}" for port in self.ports)


@dataclass(frozen=True)
class Process:
    """One server process of the cluster; ``name`` is also its compose service and state entry."""

    name: str
    role: str  # "configsvr", "shardsvr" or "mongos"
    port: int
    replica_set: str | None = None


@dataclass(frozen=True)
class Topology:
    name: str = "mongoshard"
    version: str = "6.0"
    data_dir: str = ".mongoshard"
    config_members: int = 1
    shard_count: int = 2
    shard_members: int = 1
    router_count: int = 1
    base_port: int = 27017
    auth: bool = True
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def router_ports(self) -> tuple[int, ...]:
        return tuple(self.base_port + i for i in range(self.router_count))

    @property
    def config_server(self) -> ReplicaSet:
        start = self.base_port + self.router_count
        return ReplicaSet("cfgrs", tuple(range(start, start + self.config_members)), "configsvr")

    @property
    def shards(self) -> tuple[ReplicaSet, ...]:
        start = self.base_port + self.router_count + self.config_members
        return tuple(
            ReplicaSet(f"shard{i}", tuple(range(start + i * self.shard_members, start + (i + 1) * self.shard_members)), "shardsvr")
            for i in range(self.shard_count)
        )

    @property
    def all_ports(self) -> tuple[int, ...]:
        return (*self.router_ports, *self.config_server.ports, *(p for s in self.shards for p in s.ports))

    @property
    def router_uri(self) -> str:
        """The first mongos of a local or compose cluster; credentials go in client options, never here."""
        return f"mongodb://127.0.0.1:{self.router_ports[0]}/"

    @property
    def replica_sets(self) -> tuple[ReplicaSet, ...]:
        return (self.config_server, *self.shards)

    def processes(self) -> tuple[Process, ...]:
        """Every process, config servers first and routers last: the order they must start in."""
        members = tuple(
            Process(f"{rs.name}-{index}", rs.role, port, rs.name)
            for rs in self.replica_sets for index, port in enumerate(rs.ports)
        )
        routers = tuple(Process(f"mongos-{index}", "mongos", port) for index, port in enumerate(self.router_ports))
        return members + routers


# name in the file -> (attribute, type, minimum)
_FIELDS: dict[str, tuple[str, type, int | None]] = {
    "name": ("name", str, None),
    "version": ("version", str, None),
    "data_dir": ("data_dir", str, None),
    "config_members": ("config_members", int, 1),
    "shards": ("shard_count", int, 1),
    "shard_members": ("shard_members", int, 1),
    "routers": ("router_count", int, 1),
    "base_port": ("base_port", int, 1024),
    "auth": ("auth", bool, None),
}


def parse_topology(document: Any, origin: str = DEFAULT_FILE) -> Topology:
    """A validated Topology from a parsed YAML document; every problem is one sentence."""
    if document is None:
        document = {}
    if not isinstance(document, Mapping):
        raise TopologyError(f"{origin} must be a mapping of settings, not {type(document).__name__}")
    unknown = sorted(str(k) for k in document if k not in _FIELDS)
    if unknown:
        raise TopologyError(f"{origin}: unknown setting(s) {', '.join(unknown)}; known settings are {', '.join(_FIELDS)}")
    values: dict[str, Any] = {}
    for key, value in document.items():
        attribute, kind, minimum = _FIELDS[key]
        if kind is str and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)  # `version: 6.0` reads as a float
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise TopologyError(f"{origin}: '{key}' must be {_describe(kind)}, not {value!r}")
        if minimum is not None and value < minimum:
            raise TopologyError(f"{origin}: '{key}' must be at least {minimum}, not {value}")
        values[attribute] = value
    topology = Topology(**values)
    if not _PROJECT_NAME.fullmatch(topology.name):
        raise TopologyError(f"{origin}: 'name' must be lowercase letters, digits, '-' or '_' (a compose project name), not {topology.name!r}")
    if topology.all_ports[-1] > 65535:
        raise TopologyError(f"{origin}: ports run past 65535 from base_port {topology.base_port}; lower base_port")
    return Topology(**values, warnings=tuple(_warnings(topology)))


def _warnings(topology: Topology) -> list[str]:
    found = []
    for label, members in (("config_members", topology.config_members), ("shard_members", topology.shard_members)):
        if members > 1 and members % 2 == 0:
            found.append(f"{label} is {members}: an even-sized replica set tolerates no more failures than {members - 1} members")
    return found


def _describe(kind: type) -> str:
    return {str: "text", int: "a whole number", bool: "true or false"}[kind]


def load_topology(path: str | Path = DEFAULT_FILE) -> Topology:
    """Read and validate a topology file; a missing file means the defaults."""
    import yaml

    target = Path(path)
    if not target.exists():
        return Topology()
    try:
        document = yaml.safe_load(target.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise TopologyError(f"{target} is not valid YAML{where}; fix the indentation or quoting there") from None
    return parse_topology(document, str(target))


_COMMENTS: dict[str, str] = {
    "name": "Cluster name: the compose project name.",
    "version": "MongoDB version: the tag of the official 'mongo' image used by compose (6.0 or later).",
    "data_dir": "State directory: pids, ports, logs, data, keyfile and admin password (keep it out of git).",
    "config_members": "Members of the config server replica set (cfgrs); use an odd number.",
    "shards": "Number of shards, each its own replica set (shard0, shard1, ...).",
    "shard_members": "Members of each shard replica set; use an odd number.",
    "routers": "Number of mongos routers.",
    "base_port": "Ports on 127.0.0.1 are numbered from here: routers, then config servers, then shards.",
    "auth": "Internal keyfile authentication and an admin user; false only for throw-away clusters.",
}


def commented_topology(topology: Topology) -> str:
    """``mongoshard.yaml`` text for ``topology``, every setting explained in a comment."""
    import yaml

    lines = ["# mongoshard cluster topology: read by 'mongoshard up', 'compose', 'status', 'down' and 'apply'.", ""]
    for key, (attribute, _, _) in _FIELDS.items():
        lines.append(f"# {_COMMENTS[key]}")
        lines.append(yaml.safe_dump({key: getattr(topology, attribute)}, default_flow_style=False).strip())
    return "\n".join(lines) + "\n"
