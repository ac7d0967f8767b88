"""The state directory of a local cluster: which process runs with which pid, and where its files are.

``state.json`` records the pid, port and role of each process the moment it
starts; ``data/<process>`` and ``logs/<process>.log`` sit beside it, with the
generated keyfile and admin password.  A pid counts as ours only while that
process's command line still names its own log file, so a reused pid is never
mistaken for a server, let alone signalled; the same marker finds the
processes again when ``state.json`` is lost.

Everything mongoshard creates here is recorded in ``created.json`` as it is
created; ``purge_state_dir`` deletes exactly what that record lists (and the
rotated logs of the servers it started), nothing else: a file the user put
in the directory stays, even one with the same name, and so does the
directory while anything is left in it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from collections.abc import Iterable

from ..errors import MongoshardError
from ..files import FileProblem, read_text
from .processes import is_ours, pids_by_marker
from .topology import Process, Topology

__all__ = ["StateFile", "LocalClusterError", "PurgeResult", "STATE_FILE", "log_path", "marker", "is_running", "recorded_pids",
           "adopt_running", "purge_state_dir", "has_cluster_data", "record_created", "is_created"]

STATE_FILE = "state.json"
CREATED_FILE = "created.json"
_MAX_STATE_BYTES = 1024**2
# The names mongoshard gives its processes (topology.processes): cfgrs-0, shard3-2, mongos-1.
_PROCESS_NAME = re.compile(r"(cfgrs|shard\d+|mongos)-\d+")
# The only entries the record may name: anything else in it is not acted on.
_OURS = re.compile(r"state\.json|state\.tmp|keyfile|admin-password|data/(cfgrs|shard\d+)-\d+|"
                   r"logs/(cfgrs|shard\d+|mongos)-\d+\.(log|out)")
# "!logs/shard0-0.log.2024-05-01T10-00-00": a file named like one of mongod's rotated logs that was there before the
# log was created, so not mongod's: purge keeps it.
_FOREIGN = re.compile(r"!logs/(cfgrs|shard\d+|mongos)-\d+\.log\.[0-9T:.-]+")


class LocalClusterError(MongoshardError):
    """The local cluster cannot be started or reached as described."""


class StateFile:
    """``state.json``: what runs, by process name."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / STATE_FILE
        self.records: dict[str, dict[str, Any]] = {}
        if self.path.exists() or self.path.is_symlink():
            self.records = self._load()

    def _load(self) -> dict[str, dict[str, Any]]:
        fix = "delete it: mongoshard finds this cluster's running processes by their command lines"
        try:
            document = json.loads(read_text(self.path, "the state file", hint=fix, limit=_MAX_STATE_BYTES))
            records = document["processes"]
            if not isinstance(records, dict):
                raise TypeError("'processes' is not an object")
            for name, record in records.items():
                if not (_PROCESS_NAME.fullmatch(name) and isinstance(record, dict) and type(record.get("pid")) is int
                        and type(record.get("port")) is int):
                    raise TypeError(f"entry {name!r} is not a process record")
        except FileProblem as exc:
            raise LocalClusterError(f"{exc}") from None
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            problem = exc if isinstance(exc, TypeError) else "not the JSON mongoshard writes"
            raise LocalClusterError(f"{self.path} is damaged ({problem}); {fix}") from None
        return records

    def record(self, process: Process, pid: int) -> None:
        self.records[process.name] = {"pid": pid, "port": process.port, "role": process.role}
        self.save()

    def forget(self, name: str) -> None:
        self.records.pop(name, None)
        self.save()

    def save(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        record_created(self.directory, STATE_FILE, "state.tmp")
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


def adopt_running(state: StateFile, processes: Iterable[Process]) -> tuple[str, ...]:
    """Record the processes of this cluster that run without a (valid) record: found by their command lines.

    This is how ``up``, ``down`` and ``status`` still see a cluster whose
    ``state.json`` was lost or damaged and deleted.
    """
    missing = {marker(state.directory, p): p for p in processes if not is_running(state, p)}
    adopted = []
    for found, pid in pids_by_marker(missing).items():
        state.record(missing[found], pid)
        adopted.append(missing[found].name)
    return tuple(sorted(adopted))


def recorded_pids(topology: Topology, state_dir: str | Path | None = None) -> dict[str, int]:
    """Pid of every process the state directory records, by process name."""
    state = StateFile(Path(state_dir) if state_dir else topology.state_dir)
    return {name: int(record["pid"]) for name, record in state.records.items()}


def has_cluster_data(state_dir: Path) -> bool:
    """Whether a member of a local cluster has written data here (so its secrets are already in use)."""
    data = state_dir / "data"
    return data.is_dir() and any(_PROCESS_NAME.fullmatch(entry.name) and entry.is_dir() and any(entry.iterdir())
                                 for entry in data.iterdir())


@dataclass(frozen=True)
class PurgeResult:
    directory: Path
    removed: tuple[str, ...]  # entries deleted, relative to the directory
    kept: tuple[str, ...]  # entries mongoshard did not create, left in place


def record_created(state_dir: Path, *entries: str) -> None:
    """Note that mongoshard created ``entries`` (paths relative to the state directory), before it creates them.  A
    path that exists already and is not on the record was not made by mongoshard: it is never adopted (a user's log
    or folder in a shared ``data_dir`` stays the user's, and ``purge`` leaves it)."""
    path = state_dir / CREATED_FILE
    known = _created(state_dir)
    entries = tuple(entry for entry in entries
                    if entry in known or not ((state_dir / entry).exists() or (state_dir / entry).is_symlink()))
    for entry in [e for e in entries if e.endswith(".log") and e not in known]:  # names mongod's rotation would use
        log = state_dir / entry
        entries += tuple(f"!{entry}{p.name[len(log.name):]}" for p in (log.parent.glob(log.name + ".*") if log.parent.is_dir()
                         else ()) if _ROTATED.fullmatch(p.name[len(log.name):]))
    if set(entries) <= known:
        return
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(CREATED_FILE + ".tmp")
    temporary.write_text(json.dumps(sorted(known | set(entries)), indent=1))
    temporary.replace(path)


def is_created(state_dir: Path, entry: str) -> bool:
    """Whether mongoshard's record says it created ``entry`` (relative to the state directory)."""
    return entry in _created(state_dir)


def _created(state_dir: Path) -> set[str]:
    path = state_dir / CREATED_FILE
    if not path.is_file() or path.is_symlink():
        return set()
    try:
        entries = json.loads(read_text(path, "the record of created files", limit=_MAX_STATE_BYTES))
    except (FileProblem, ValueError, RecursionError):
        return set()
    return {entry for entry in entries if isinstance(entry, str) and (_OURS.fullmatch(entry) or _FOREIGN.fullmatch(entry))} \
        if isinstance(entries, list) else set()


def purge_state_dir(state_dir: Path) -> PurgeResult:
    """Delete what mongoshard recorded creating in ``state_dir``, then the record, then the folders left empty.

    Refuses while a recorded process still runs, and when there is no record (nothing proves what is ours).
    """
    state = StateFile(state_dir)
    running = [name for name, record in state.records.items()
               if is_ours(int(record["pid"]), str(state_dir.resolve() / "logs" / f"{name}.log"))]
    if running:
        raise LocalClusterError(f"{', '.join(sorted(running))} still run; stop them with 'mongoshard down' before purging")
    created = _created(state_dir)
    if not created:
        raise LocalClusterError(f"{state_dir} holds no record of what mongoshard created there ({CREATED_FILE}); "
                                "nothing was deleted: remove what you want gone yourself")
    removed: list[str] = []
    foreign = {entry[1:] for entry in created if entry.startswith("!")}
    for entry in sorted(e for e in created if not e.startswith("!")):
        path = state_dir / entry
        # mongod's rotated logs (logRotate renames shard0-0.log to shard0-0.log.2024-05-01T10-00-00) are the server's;
        # any other name beside them (shard0-0.log.my-copy, a folder shard0-0.log.d) is the user's.
        siblings = sorted(p for p in path.parent.glob(path.name + ".*") if _ROTATED.fullmatch(p.name[len(path.name):])
                          and p.is_file() and not p.is_symlink() and str(p.relative_to(state_dir)) not in foreign
                          ) if entry.endswith(".log") and path.parent.is_dir() else []
        for target in (path, *siblings):
            if target.is_symlink() or not target.exists():
                continue  # replaced by a link, or gone: not ours to touch
            if target.is_dir():
                removed += _remove_server_files(target, state_dir)
            else:
                target.unlink()
                removed.append(str(target.relative_to(state_dir)))
    (state_dir / CREATED_FILE).unlink(missing_ok=True)
    for folder in ("data", "logs"):
        _remove_if_empty(state_dir / folder)
    _remove_if_empty(state_dir)
    kept = tuple(sorted(str(p.relative_to(state_dir)) for p in state_dir.rglob("*"))) if state_dir.exists() else ()
    return PurgeResult(state_dir, tuple(removed), kept)


# What mongod 6.0 to 8.0 writes in a --dbpath, by name: WiredTiger's files at the top (collection-*.wt, index-*.wt,
# _mdb_catalog.wt, sizeStorer.wt, WiredTiger*), the journal's logs, FTDC's metrics, the lock, storage.bson and the
# temporary folder's files; anything else, a look-alike in a subfolder included, is the user's.
_SERVER_FILE = re.compile(r"((collection|index)-[0-9]+-+-?[0-9]+\.wt|_mdb_catalog\.wt|sizeStorer\.wt|"
                          r"WiredTiger[A-Za-z]*(\.wt|\.lock|\.turtle|\.backup)?|"
                          r"mongod\.lock|storage\.bson|journal/WiredTiger(Log|Preplog|Tmplog)\.[0-9]+|"
                          r"diagnostic\.data/metrics\.[0-9TZ:.-]+|diagnostic\.data/metrics\.interim(\.temp)?|_tmp/[^/]+)")
_ROTATED = re.compile(r"\.\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(\.\d+)?")


def _remove_server_files(directory: Path, state_dir: Path) -> list[str]:
    """Delete a data directory mongoshard created, file by file: only what mongod writes there; anything else (a
    user's notes put inside) is kept, with the folders holding it."""
    removed = []
    for path in sorted(directory.rglob("*"), key=lambda p: -len(p.parts)):
        relative = path.relative_to(directory).as_posix()
        if path.is_symlink() or path.is_dir():
            if path.is_dir() and not path.is_symlink() and not any(path.iterdir()):
                path.rmdir()
            continue
        if _SERVER_FILE.fullmatch(relative):
            path.unlink()
            removed.append(str(path.relative_to(state_dir)))
    if not any(directory.iterdir()):
        directory.rmdir()
        removed.append(str(directory.relative_to(state_dir)))
    return removed


def _remove_if_empty(directory: Path) -> None:
    if directory.is_dir() and not directory.is_symlink() and not any(directory.iterdir()):
        directory.rmdir()
