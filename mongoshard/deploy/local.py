"""A topology run as local processes: ``up`` and ``down``.

Processes are recorded in the state directory (``state``) the moment they
start, so a failure half-way never leaves one that ``down`` cannot find, and
``up`` itself stops what it started when it cannot finish.  Once the members
answer, ``bootstrap`` makes them a cluster; ``health`` reports on it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable, Iterable

from ..errors import Interrupted
from .binaries import BinaryNotFound, binary_version, find_binary
from .bootstrap import DEFAULT_TIMEOUT_S, add_shards, initiate
from .credentials import Credentials, ensure_credentials
from ..parallel import in_parallel, signals_deferred
from .processes import Deadline, port_in_use, spawn, stop, wait_answering
from .state import (
    LocalClusterError,
    PurgeResult,
    StateFile,
    adopt_running,
    is_running,
    log_path,
    marker,
    purge_state_dir,
    is_created,
    record_created,
)
from .topology import CONFIG_SHARD_SINCE, Process, Topology

__all__ = ["up", "down", "UpResult", "DownResult", "Progress"]

Progress = Callable[[str], None]


@dataclass(frozen=True)
class UpResult:
    started: tuple[str, ...]
    already_running: tuple[str, ...]
    initiated: tuple[str, ...]
    shards_added: tuple[str, ...]
    missing_router: str | None = None  # why no mongos runs, when none could be started

    @property
    def complete(self) -> bool:
        return self.missing_router is None


@dataclass(frozen=True)
class DownResult:
    stopped: tuple[str, ...]
    not_running: tuple[str, ...]
    purged: PurgeResult | None


def up(topology: Topology, *, state_dir: str | Path | None = None, bin_dir: str | Path | None = None,
       timeout: float = DEFAULT_TIMEOUT_S, progress: Progress | None = None, parallel: bool = True) -> UpResult:
    """Start whatever of ``topology`` is not running, initiate, create the admin user, add shards.

    Idempotent: running processes are left alone, so a second call is a no-op
    and a call after a crash restarts only the dead.  On failure, the processes
    this call started are stopped again before the error is raised.
    """
    directory = Path(state_dir) if state_dir else topology.state_dir
    say = progress or (lambda message: None)
    mongod = find_binary("mongod", bin_dir)
    if topology.config_shard:
        version = binary_version(mongod)
        if version < CONFIG_SHARD_SINCE:
            raise LocalClusterError(f"config_shard needs mongod 8.0 or later, and {mongod} is {version[0]}.{version[1]}; "
                                    "give an 8.0 mongod with --bin-dir or $MONGOSHARD_MONGOD, or set config_shard: false")
    try:
        mongos: Path | None = find_binary("mongos", bin_dir)
        missing_router = None
    except BinaryNotFound as exc:
        mongos, missing_router = None, str(exc)
    state = StateFile(directory)
    adopt_running(state, topology.processes())
    credentials = ensure_credentials(directory) if topology.auth else None
    already = tuple(p.name for p in topology.processes() if is_running(state, p))
    wanted = [p for p in topology.processes() if p.name not in already and (p.role != "mongos" or mongos)]
    _refuse_taken_ports(wanted)
    started: list[Process] = []
    deadline = Deadline(timeout)
    try:
        members = [p for p in wanted if p.role != "mongos"]
        _start(members, mongod, topology, state, credentials, deadline, say, started, parallel)
        internal = credentials.internal_options() if credentials else {}
        say("initiating replica sets")
        initiated = tuple(name for name in in_parallel(lambda rs: initiate(rs, internal, credentials, deadline),
                                                       topology.replica_sets, parallel) if name)
        added: tuple[str, ...] = ()
        if mongos is not None:
            routers = [p for p in wanted if p.role == "mongos"]
            _start(routers, mongos, topology, state, credentials, deadline, say, started, parallel)
            say("adding shards")
            added = add_shards(topology, internal, deadline)
    except BaseException as exc:
        # Interrupted or failed: cancel the waits in other threads, then stop everything this run started,
        # also a process spawned an instant before the interruption and not yet recorded (found by its marker).
        deadline.cancel()
        say("stopping what this run started")
        adopt_running(state, wanted)
        stopped, _ = _stop_all(reversed(wanted), state)
        if isinstance(exc, Interrupted):
            exc.stopped = stopped
        raise
    return UpResult(tuple(p.name for p in started), already, initiated, added,
                    _missing_router_sentence(topology, missing_router))


def _missing_router_sentence(topology: Topology, missing: str | None) -> str | None:
    if missing is None:
        return None
    return (f"the config server and {topology.shard_count} shard(s) are running, but {missing[0].lower()}{missing[1:]}; "
            "then run 'mongoshard up' again to start mongos and add the shards ('mongoshard down' stops the rest)")


def _refuse_taken_ports(processes: Iterable[Process]) -> None:
    taken = [f"{p.port} ({p.name})" for p in processes if port_in_use(p.port)]
    if taken:
        raise LocalClusterError(f"port(s) {', '.join(taken)} already in use by another program; "
                                "stop it or set a different base_port in mongoshard.yaml")


def _arguments(binary: Path, process: Process, topology: Topology, state_dir: Path,
               credentials: Credentials | None) -> list[str]:
    common = ["--port", str(process.port), "--bind_ip", "127.0.0.1", "--logpath", str(log_path(state_dir, process)),
              "--logappend", "--setParameter", "diagnosticDataCollectionEnabled=false"]
    if credentials is not None:
        common += ["--keyFile", str(credentials.keyfile.resolve())]
    if process.role == "mongos":
        config = topology.config_server
        return [str(binary), "--configdb", f"{config.name}/{config.local_hosts}", *common]
    data = state_dir.resolve() / "data" / process.name
    if data.exists() and not is_created(state_dir, f"data/{process.name}"):
        # a folder of the user's (or of another tool's): mongod would fill it, or start the user's own database
        raise LocalClusterError(f"{data} exists and mongoshard did not create it; move it away, or set another data_dir "
                                "in the topology file")
    record_created(state_dir, f"data/{process.name}")
    data.mkdir(parents=True, exist_ok=True)
    return [str(binary), f"--{process.role}", "--replSet", str(process.replica_set), "--dbpath", str(data),
            "--wiredTigerCacheSizeGB", "0.25", *common]


def _start(processes: list[Process], binary: Path, topology: Topology, state: StateFile, credentials: Credentials | None,
           deadline: Deadline, say: Progress, started: list[Process], parallel: bool) -> None:
    if not processes:
        return
    say(f"starting {', '.join(p.name for p in processes)}")
    if parallel:
        for process in processes:
            _spawn(process, binary, topology, state, credentials, started)
        in_parallel(lambda p: _wait(p, state, deadline), processes, parallel)
        return
    for process in processes:
        _spawn(process, binary, topology, state, credentials, started)
        _wait(process, state, deadline)


def _spawn(process: Process, binary: Path, topology: Topology, state: StateFile, credentials: Credentials | None,
           started: list[Process]) -> None:
    log = log_path(state.directory, process)
    record_created(state.directory, f"logs/{log.name}", f"logs/{log.with_suffix('.out').name}")
    arguments = _arguments(binary, process, topology, state.directory, credentials)
    with signals_deferred():  # a process is recorded before an interruption can be acted on
        pid = spawn(arguments, log.with_suffix(".out"))
        started.append(process)
        state.record(process, pid)


def _wait(process: Process, state: StateFile, deadline: Deadline) -> None:
    pid = state.pid(process.name)
    assert pid is not None
    log = log_path(state.directory, process)
    wait_answering(process.port, pid, deadline, lambda: f"{process.name} (port {process.port}, log {log}){_last_error(log)}")


def _last_error(log: Path) -> str:
    """The reason a server gave for exiting: its last error line, if any."""
    lines: list[str] = []
    for path in (log.with_suffix(".out"), log):
        if path.is_file():
            with open(path, "rb") as handle:  # only the tail: a server's log grows without bound
                handle.seek(max(0, handle.seek(0, 2) - 64 * 1024))
                lines += handle.read().decode(errors="replace").splitlines()[-40:]
    for line in reversed(lines):
        try:
            entry = json.loads(line)
        except ValueError:
            if line.strip():
                return f": {line.strip()[:200]}"
            continue
        if entry.get("s") in ("E", "F"):
            return f": {entry.get('msg', '')} {json.dumps(entry.get('attr', {}))[:200]}"
    return ""


def down(topology: Topology, *, state_dir: str | Path | None = None, purge: bool = False,
         progress: Progress | None = None) -> DownResult:
    """Stop every process of the cluster (routers, then shards, then config servers), gracefully first.

    Processes are found by their record, or by their command lines when the
    record is lost.  Data, logs and secrets stay unless ``purge``, which
    deletes only what mongoshard created in the state directory.
    """
    directory = Path(state_dir) if state_dir else topology.state_dir
    state = StateFile(directory)
    adopt_running(state, topology.processes())
    say = progress or (lambda message: None)
    order = list(reversed(topology.processes()))
    say(f"stopping {', '.join(p.name for p in order if p.name in state.records) or 'nothing'}")
    stopped, not_running = _stop_all(order, state)
    purged = purge_state_dir(directory) if purge and directory.exists() else None
    return DownResult(stopped, not_running, purged)


def _stop_all(processes: Iterable[Process], state: StateFile) -> tuple[tuple[str, ...], tuple[str, ...]]:
    recorded = [(p, state.pid(p.name)) for p in processes if state.pid(p.name) is not None]
    outcomes = in_parallel(lambda entry: stop(entry[1], marker(state.directory, entry[0])), recorded)
    for process, _ in recorded:
        state.forget(process.name)
    stopped = tuple(p.name for (p, _), done in zip(recorded, outcomes) if done)
    return stopped, tuple(p.name for (p, _), done in zip(recorded, outcomes) if not done)
