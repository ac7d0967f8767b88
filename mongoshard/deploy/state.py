"""The state directory of a local cluster: which process runs with which pid, and where its files are.

``state.json`` records the pid, port and role of each process the moment it
starts; ``data/<process>`` and ``logs/<process>.log`` sit beside it, with the
generated keyfile and admin password.  A recorded pid counts as ours only while
that process's command line still names its own log file, so a reused pid is
never mistaken for a server, let alone signalled.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import MongoshardError
from .processes import is_ours
from .topology import Process, Topology

__all__ = ["StateFile", "LocalClusterError", "STATE_FILE", "log_path", "marker", "is_running", "recorded_pids"]

STATE_FILE = "state.json"


class LocalClusterError(MongoshardError):
    """The local cluster cannot be started or reached as described."""


class StateFile:
    """``state.json``: what runs, by process name."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / STATE_FILE
        self.records: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            try:
                self.records = json.loads(self.path.read_text())["processes"]
            except (ValueError, KeyError, TypeError):
                raise LocalClusterError(f"{self.path} is damaged; stop any mongod/mongos of this cluster by hand and delete it") from None

    def record(self, process: Process, pid: int) -> None:
        self.records[process.name] = {"pid": pid, "port": process.port, "role": process.role}
        self.save()

    def forget(self, name: str) -> None:
        self.records.pop(name, None)
        self.save()

    def save(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"processes": self.records}, indent=2, sort_keys=True))
        temporary.replace(self.path)

    def pid(self, name: str) -> int | None:
        record = self.records.get(name)
        return int(record["pid"]) if record else None


def log_path(state_dir: Path, process: Process) -> Path:
    return state_dir.resolve() / "logs" / f"{process.name}.log"


def marker(state_dir: Path, process: Process) -> str:
    """Text found in the process's command line and nobody else's: its log path."""
    return str(log_path(state_dir, process))


def is_running(state: StateFile, process: Process) -> bool:
    pid = state.pid(process.name)
    return pid is not None and is_ours(pid, marker(state.directory, process))


def recorded_pids(topology: Topology, state_dir: str | Path | None = None) -> dict[str, int]:
    """Pid of every process the state directory records, by process name."""
    state = StateFile(Path(state_dir or topology.data_dir))
    return {name: int(record["pid"]) for name, record in state.records.items()}
