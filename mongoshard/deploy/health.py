"""Health of a local cluster: each recorded process (alive, answering, replica set state) and what the config server records."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..cluster.connection import direct_client
from ..cluster.source import ShardInfo
from .bootstrap import CONFIG_SHARD_NAME, NOT_YET_INITIALIZED
from .credentials import admin_client_options
from ..parallel import in_parallel
from .state import StateFile, adopt_running, is_running
from .topology import Process, Topology

__all__ = ["status", "ClusterStatus", "ProcessStatus", "HEALTHY_STATES"]

HEALTHY_STATES = ("PRIMARY", "SECONDARY", "router")


@dataclass(frozen=True)
class ProcessStatus:
    name: str
    role: str
    port: int
    pid: int | None
    alive: bool
    answering: bool
    state: str  # PRIMARY, SECONDARY, ..., "router", "not started", "down", "not initiated"


@dataclass(frozen=True)
class ClusterStatus:
    processes: tuple[ProcessStatus, ...]
    shards: tuple[ShardInfo, ...] = ()
    routers: tuple[str, ...] = ()
    problems: tuple[str, ...] = field(default=())

    @property
    def healthy(self) -> bool:
        return not self.problems


def status(topology: Topology, *, state_dir: str | Path | None = None) -> ClusterStatus:
    """Each process's health, and the shards and routers the config server knows."""
    directory = Path(state_dir) if state_dir else topology.state_dir
    state = StateFile(directory)
    adopt_running(state, topology.processes())
    options = admin_client_options(directory)
    processes = tuple(in_parallel(lambda p: _process_status(p, state, options), topology.processes()))
    problems = [f"{p.name} is {p.state}" for p in processes if p.state not in HEALTHY_STATES]
    shards, routers = _config_view(processes, options)
    expected = {s.name for s in topology.shards} | ({CONFIG_SHARD_NAME} if topology.config_shard else set())
    missing = sorted(expected - {s.name for s in shards})
    if missing and not problems:
        problems.append(f"shard(s) {', '.join(missing)} not added yet")
    return ClusterStatus(processes, shards, routers, tuple(problems))


def _process_status(process: Process, state: StateFile, options: dict[str, Any]) -> ProcessStatus:
    from pymongo.errors import OperationFailure, PyMongoError

    pid = state.pid(process.name)
    alive = is_running(state, process)
    answering, role_state = False, "not started" if pid is None else "down"
    if alive:
        with direct_client(process.port, **options) as client:
            try:
                client.admin.command("ping")
                answering = True
                role_state = "router" if process.role == "mongos" else _member_state(client)
            except OperationFailure as exc:
                role_state = "not initiated" if exc.code == NOT_YET_INITIALIZED else f"refusing ({exc.code})"
            except PyMongoError:
                role_state = "not answering"
    return ProcessStatus(process.name, process.role, process.port, pid, alive, answering, role_state)


def _member_state(client: Any) -> str:
    members = client.admin.command("replSetGetStatus")["members"]
    return next(m["stateStr"] for m in members if m.get("self"))


def _config_view(processes: tuple[ProcessStatus, ...], options: dict[str, Any]) -> tuple[tuple[ShardInfo, ...], tuple[str, ...]]:
    """Shards and routers as recorded on the config server (readable without a mongos)."""
    from ..cluster.live import ConfigDatabaseSource
    from ..cluster.source import SourceError

    config = next((p for p in processes if p.role == "configsvr" and p.state == "PRIMARY"), None)
    if config is None:
        return (), ()
    with direct_client(config.port, **options) as client:
        source = ConfigDatabaseSource(client)
        try:
            shards = tuple(source.shards())
            routers = tuple(r.name for r in source.routers())
        except SourceError:
            return (), ()
    return shards, routers
