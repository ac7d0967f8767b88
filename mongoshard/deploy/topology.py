"""A cluster's topology: the ``mongoshard.yaml`` file, validated field by field.

One description serves both ways of running a cluster (compose and local
processes), so every port, replica set name and member count is decided here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Mapping

from ..errors import MongoshardError
from ..files import read_text
from .kubernetes_settings import KUBERNETES_COMMENTS, KubernetesSettings, parse_kubernetes_settings

__all__ = ["Topology", "ReplicaSet", "Process", "TopologyError", "load_topology", "parse_topology", "commented_topology"]

DEFAULT_FILE = "mongoshard.yaml"
# The official image tag a new cluster runs (8.0 is the long-term support release; 6.0 and 7.0 are past end of life).
DEFAULT_VERSION = "8.0"
# A mongo image tag's version: no leading zeros and no absurd lengths (`08.00` or a 20-digit major is a typo, and
# there is no such image).
_VERSION = re.compile(r"(0|[1-9]\d?)\.(0|[1-9]\d?)(?:\.(?:0|[1-9]\d{0,3}))?(?:-[a-z0-9.]+)?")
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
    version: str = DEFAULT_VERSION
    data_dir: str = ".mongoshard"
    config_members: int = 1
    shard_count: int = 2
    shard_members: int = 1
    router_count: int = 1
    base_port: int = 27017
    auth: bool = True
    config_shard: bool = False
    kubernetes: KubernetesSettings = field(default_factory=KubernetesSettings)  # read by 'mongoshard kubernetes' only
    warnings: tuple[str, ...] = field(default=(), compare=False)
    # The directory of the topology file (the project): data_dir is relative to it.  None: the current directory.
    root: Path | None = field(default=None, compare=False)

    @property
    def version_tuple(self) -> tuple[int, int]:
        """(major, minor) of ``version``; (0, 0) when it is not a version at all (refused when the file is read)."""
        match = _VERSION.fullmatch(self.version)
        return (int(match.group(1)), int(match.group(2))) if match else (0, 0)

    @property
    def state_dir(self) -> Path:
        """The state directory as an absolute path: data_dir, relative to the topology file's directory."""
        return ((self.root or Path.cwd()) / Path(self.data_dir).expanduser()).resolve()

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
            ReplicaSet(f"shard{i}", tuple(range(start + i * self.shard_members, start + (i + 1) * self.shard_members)),
                       "shardsvr")
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


# name in the file -> (attribute, type, minimum, maximum).  A replica set has at most 50 members (7 voting);
# more than a thousand shards or a hundred routers is a typo, and every port must fit below 65536.
_FIELDS: dict[str, tuple[str, type[Any], int | None, int | None]] = {
    "name": ("name", str, None, None),
    "version": ("version", str, None, None),
    "data_dir": ("data_dir", str, None, None),
    "config_members": ("config_members", int, 1, 50),
    "shards": ("shard_count", int, 0, 1024),
    "shard_members": ("shard_members", int, 1, 50),
    "routers": ("router_count", int, 1, 100),
    "base_port": ("base_port", int, 1024, 65535),
    "auth": ("auth", bool, None, None),
    "config_shard": ("config_shard", bool, None, None),
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def parse_topology(document: Any, origin: str = DEFAULT_FILE, root: Path | None = None) -> Topology:
    """A validated Topology from a parsed YAML document (of a file in ``root``); every problem is one sentence."""
    if document is None:
        document = {}
    if not isinstance(document, Mapping):
        raise TopologyError(f"{origin} must be a mapping of settings, not {type(document).__name__}")
    unknown = sorted(str(k) for k in document if k not in _FIELDS and k != "kubernetes")
    if unknown:
        raise TopologyError(f"{origin}: unknown setting(s) {', '.join(unknown)}; known settings are "
                            f"{', '.join(_FIELDS)}, kubernetes")
    values: dict[str, Any] = {}
    if "kubernetes" in document:
        try:
            values["kubernetes"] = parse_kubernetes_settings(document["kubernetes"], origin)
        except MongoshardError as exc:
            raise TopologyError(str(exc)) from None
    for key, value in document.items():
        if key == "kubernetes":
            continue
        attribute, kind, minimum, maximum = _FIELDS[key]
        if kind is str and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)  # `version: 6.0` reads as a float
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise TopologyError(f"{origin}: '{key}' must be {_describe(kind)}, not {value!r}")
        if minimum is not None and value < minimum:
            raise TopologyError(f"{origin}: '{key}' must be at least {minimum}, not {value}")
        if maximum is not None and value > maximum:
            raise TopologyError(f"{origin}: '{key}' must be at most {maximum}, not {value}")
        if kind is str and _CONTROL.search(value):
            raise TopologyError(f"{origin}: '{key}' must not hold control characters (a newline, a NUL, ...), "
                                f"not {value!r}")
        values[attribute] = value
    topology = Topology(**values, root=root)
    if not _PROJECT_NAME.fullmatch(topology.name):
        raise TopologyError(f"{origin}: 'name' must be lowercase letters, digits, '-' or '_' (a compose project name), "
                            f"not {topology.name!r}")
    if not _VERSION.fullmatch(topology.version):
        raise TopologyError(f"{origin}: 'version' must be a MongoDB version such as '8.0' or '9.0' (the mongo image tag), "
                            f"not {topology.version!r}")
    if topology.shard_count == 0 and not topology.config_shard:
        raise TopologyError(f"{origin}: 'shards' must be at least 1 unless 'config_shard' is true "
                            "(then the config server replica set holds data too)")
    if topology.config_shard and topology.version_tuple < CONFIG_SHARD_SINCE:
        raise TopologyError(f"{origin}: 'config_shard' needs MongoDB 8.0 or later (transitionFromDedicatedConfigServer), "
                            f"not {topology.version}; set version: '8.0'")
    processes = topology.router_count + topology.config_members + topology.shard_count * topology.shard_members
    last_port = topology.base_port + processes - 1
    if last_port > 65535:
        raise TopologyError(f"{origin}: ports run past 65535 from base_port {topology.base_port}; lower base_port")
    _check_data_dir(topology, origin)
    return Topology(**values, root=root, warnings=tuple(_warnings(topology)))


def _check_data_dir(topology: Topology, origin: str) -> None:
    """The state directory holds data that ``down --purge`` deletes: it must be a directory of its own."""
    state, project = topology.state_dir, (topology.root or Path.cwd()).resolve()
    home = Path.home().resolve()
    reason = None
    if state == project or state in project.parents:
        reason = "is the project directory or contains it"
    elif state == home or state in home.parents:
        reason = "is your home directory or contains it"
    elif state == Path(state.anchor):
        reason = "is the root of the file system"
    if reason:
        raise TopologyError(f"{origin}: 'data_dir' {topology.data_dir!r} ({state}) {reason}; mongoshard keeps data, logs and "
                            "secrets in a directory of its own: use the default '.mongoshard' or another new directory")


def _warnings(topology: Topology) -> list[str]:
    found = []
    if topology.version_tuple < SUPPORTED_SINCE:
        found.append(f"MongoDB {topology.version} is past its end of life (6.0 in July 2025, 7.0 in August 2026); "
                     "prefer version: '8.0' or '9.0'")
    for label, members in (("config_members", topology.config_members), ("shard_members", topology.shard_members)):
        if members > 1 and members % 2 == 0:
            found.append(f"{label} is {members}: an even-sized replica set tolerates no more failures than {members - 1} members")
    return found


def _describe(kind: type[Any]) -> str:
    return {str: "text", int: "a whole number", bool: "true or false"}[kind]


def load_topology(path: str | Path | None = None) -> Topology:
    """Read and validate a topology file.

    Without ``path``, ``mongoshard.yaml`` of the current directory, or the
    defaults when there is none; a file named explicitly must exist.
    """
    import yaml

    target = Path(path or DEFAULT_FILE)
    if path is None and not target.exists():
        return Topology(root=Path.cwd())
    text = read_text(target, "the topology file", hint="check the name, or create it with 'mongoshard init -f FILE'",
                     limit=_MAX_TOPOLOGY_BYTES)
    try:
        document = yaml.load(text, Loader=_loader())
    except RecursionError:
        raise TopologyError(f"{target} nests too deeply to be a topology file (a few settings)") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise TopologyError(f"{target} is not valid YAML{where} ({problem}); fix it there") from None
    return parse_topology(document, str(target), target.resolve().parent)


_MAX_TOPOLOGY_BYTES = 64 * 1024
# Supported server versions (late 2026): 8.0 (LTS) and 9.0; a config shard exists from 8.0.
SUPPORTED_SINCE = (8, 0)
CONFIG_SHARD_SINCE = (8, 0)


def _loader() -> type[Any]:
    """The strict loader (no aliases, no setting given twice: files.strict_yaml_loader), with a float kept as written
    (``version: 8.10`` is "8.10", not 8.1)."""
    from ..files import strict_yaml_loader

    Loader = strict_yaml_loader("setting")
    Loader.add_constructor("tag:yaml.org,2002:float", lambda loader, node: loader.construct_scalar(node))
    # YAML 1.1 reads 10:30:00 (base 60) and 0x9000 as numbers: only plain decimal digits are, the rest stays text
    Loader.add_constructor("tag:yaml.org,2002:int", lambda loader, node: int(node.value)
                           if re.fullmatch(r"[-+]?[0-9]+", node.value) else loader.construct_scalar(node))
    return Loader


_COMMENTS: dict[str, str] = {
    "name": "Cluster name: the compose project name.",
    "version": "MongoDB version: the tag of the official 'mongo' image used by compose (8.0 or 9.0; 7.0 is past end of life).",
    "data_dir": "State directory: pids, ports, logs, data, keyfile and admin password (keep it out of git).",
    "config_members": "Members of the config server replica set (cfgrs); use an odd number.",
    "shards": "Number of shards, each its own replica set (shard0, shard1, ...).",
    "shard_members": "Members of each shard replica set; use an odd number.",
    "routers": "Number of mongos routers.",
    "base_port": "Ports on 127.0.0.1 are numbered from here: routers, then config servers, then shards.",
    "auth": "Internal keyfile authentication and an admin user; false only for throw-away clusters.",
    "config_shard": "MongoDB 8.0+: the config server replica set also holds data (a config shard), so 'shards' may be 0.",
}


def commented_topology(topology: Topology) -> str:
    """``mongoshard.yaml`` text for ``topology``, every setting explained in a comment."""
    import yaml

    lines = ["# mongoshard cluster topology: read by 'mongoshard up', 'compose', 'status', 'down' and 'apply'.", ""]
    for key, (attribute, *_) in _FIELDS.items():
        lines.append(f"# {_COMMENTS[key]}")
        lines.append(yaml.safe_dump({key: getattr(topology, attribute)}, default_flow_style=False).strip())
    lines += ["", "# Kubernetes through the Percona operator ('mongoshard kubernetes MODULE'): uncomment and adapt.",
              "# kubernetes:"]
    for key, comment in KUBERNETES_COMMENTS.items():
        value = yaml.safe_dump({key: getattr(topology.kubernetes, key)}, default_flow_style=False).strip()
        lines += [f"#   # {comment}", f"#   {value}"]
    return "\n".join(lines) + "\n"
