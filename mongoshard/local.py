"""A topology run as local processes: ``up``, ``status`` and ``down``.

Everything about a running cluster lives in its state directory: ``state.json``
(pid and port of each process), ``data/<process>``, ``logs/<process>.log``, and
the generated keyfile and admin password.  Processes are recorded the moment
they start, so a failure half-way never leaves one that ``down`` cannot find,
and ``up`` itself stops what it started when it cannot finish.
"""

from __future__ import annotations

import json
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from .binaries import BinaryNotFound, find_binary
from .credentials import Credentials, ensure_credentials, load_credentials
from .errors import MongoshardError
from .processes import ProcessFailed, is_ours, port_in_use, spawn, stop, wait_answering
from .topology import Process, ReplicaSet, Topology

if TYPE_CHECKING:  # pragma: no cover
    from .sources import ShardInfo

__all__ = ["up", "down", "status", "UpResult", "DownResult", "ClusterStatus", "ProcessStatus",
           "LocalClusterError", "admin_client_options", "router_uri", "recorded_pids", "wait_for_router"]

STATE_FILE = "state.json"
DEFAULT_TIMEOUT_S = 60.0
Progress = Callable[[str], None]
# A member of a replica set answers "not yet initiated" with this code.
_NOT_YET_INITIALIZED = 94


class LocalClusterError(MongoshardError):
    """The local cluster cannot be started or reached as described."""


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
    purged: Path | None


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


class _State:
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


def _marker(state_dir: Path, process: Process) -> str:
    """Text found in the process's command line and nobody else's: its log path."""
    return str(_log_path(state_dir, process))


def _log_path(state_dir: Path, process: Process) -> Path:
    return state_dir.resolve() / "logs" / f"{process.name}.log"


def _running(state: _State, process: Process) -> bool:
    pid = state.pid(process.name)
    return pid is not None and is_ours(pid, _marker(state.directory, process))


def _arguments(binary: Path, process: Process, topology: Topology, state_dir: Path,
               credentials: Credentials | None) -> list[str]:
    common = ["--port", str(process.port), "--bind_ip", "127.0.0.1", "--logpath", str(_log_path(state_dir, process)),
              "--logappend", "--setParameter", "diagnosticDataCollectionEnabled=false"]
    if credentials is not None:
        common += ["--keyFile", str(credentials.keyfile.resolve())]
    if process.role == "mongos":
        config = topology.config_server
        return [str(binary), "--configdb", f"{config.name}/{_hosts(config)}", *common]
    data = state_dir.resolve() / "data" / process.name
    data.mkdir(parents=True, exist_ok=True)
    return [str(binary), f"--{process.role}", "--replSet", str(process.replica_set), "--dbpath", str(data),
            "--wiredTigerCacheSizeGB", "0.25", *common]


def _hosts(replica_set: ReplicaSet) -> str:
    return ",".join(f"127.0.0.1:{port}" for port in replica_set.ports)


def recorded_pids(topology: Topology, state_dir: str | Path | None = None) -> dict[str, int]:
    """Pid of every process the state directory records, by process name."""
    state = _State(Path(state_dir or topology.data_dir))
    return {name: int(record["pid"]) for name, record in state.records.items()}


def admin_client_options(state_dir: str | Path) -> dict[str, str]:
    """pymongo options for the admin user of the cluster in ``state_dir`` (empty without auth)."""
    credentials = load_credentials(state_dir)
    return credentials.admin_options() if credentials else {}


def router_uri(topology: Topology) -> str:
    """The first mongos of a local or compose cluster; credentials go in client options, never here."""
    return f"mongodb://127.0.0.1:{topology.router_ports[0]}/"


def up(topology: Topology, *, state_dir: str | Path | None = None, bin_dir: str | Path | None = None,
       timeout: float = DEFAULT_TIMEOUT_S, progress: Progress | None = None, parallel: bool = True) -> UpResult:
    """Start whatever of ``topology`` is not running, initiate, create the admin user, add shards.

    Idempotent: running processes are left alone, so a second call is a no-op
    and a call after a crash restarts only the dead.  On failure, the processes
    this call started are stopped again before the error is raised.
    """
    directory = Path(state_dir or topology.data_dir)
    say = progress or (lambda message: None)
    mongod = find_binary("mongod", bin_dir)
    try:
        mongos: Path | None = find_binary("mongos", bin_dir)
        missing_router = None
    except BinaryNotFound as exc:
        mongos, missing_router = None, str(exc)
    state = _State(directory)
    credentials = ensure_credentials(directory) if topology.auth else None
    already = tuple(p.name for p in topology.processes() if _running(state, p))
    wanted = [p for p in topology.processes() if p.name not in already and (p.role != "mongos" or mongos)]
    _refuse_taken_ports(wanted)
    started: list[Process] = []
    deadline = time.monotonic() + timeout
    try:
        members = [p for p in wanted if p.role != "mongos"]
        _start(members, mongod, topology, state, credentials, deadline, say, started, parallel)
        internal = credentials.internal_options() if credentials else {}
        say("initiating replica sets")
        initiated = tuple(name for name in _map(lambda rs: _initiate(rs, internal, credentials, deadline),
                                                topology.replica_sets, parallel) if name)
        added: tuple[str, ...] = ()
        if mongos is not None:
            routers = [p for p in wanted if p.role == "mongos"]
            _start(routers, mongos, topology, state, credentials, deadline, say, started, parallel)
            say("adding shards")
            added = _add_shards(topology, internal, deadline)
    except BaseException:
        say("stopping what this run started")
        _stop_all(reversed(started), state)
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


def _start(processes: list[Process], binary: Path, topology: Topology, state: _State, credentials: Credentials | None,
           deadline: float, say: Progress, started: list[Process], parallel: bool) -> None:
    if not processes:
        return
    say(f"starting {', '.join(p.name for p in processes)}")
    if parallel:
        for process in processes:
            _spawn(process, binary, topology, state, credentials, started)
        _map(lambda p: _wait(p, state, deadline), processes, parallel)
        return
    for process in processes:
        _spawn(process, binary, topology, state, credentials, started)
        _wait(process, state, deadline)


def _spawn(process: Process, binary: Path, topology: Topology, state: _State, credentials: Credentials | None,
           started: list[Process]) -> None:
    log = _log_path(state.directory, process)
    pid = spawn(_arguments(binary, process, topology, state.directory, credentials), log.with_suffix(".out"))
    started.append(process)
    state.record(process, pid)


def _wait(process: Process, state: _State, deadline: float) -> None:
    pid = state.pid(process.name)
    assert pid is not None
    log = _log_path(state.directory, process)
    wait_answering(process.port, pid, deadline, lambda: f"{process.name} (port {process.port}, log {log}){_last_error(log)}")


def _last_error(log: Path) -> str:
    """The reason a server gave for exiting: its last error line, if any."""
    lines: list[str] = []
    for path in (log.with_suffix(".out"), log):
        if path.exists():
            lines += path.read_text(errors="replace").splitlines()[-40:]
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


def _map(function: Callable[[Any], Any], items: Iterable[Any], parallel: bool) -> list[Any]:
    items = list(items)
    if not parallel or len(items) < 2:
        return [function(item) for item in items]
    with ThreadPoolExecutor(len(items)) as pool:
        return list(pool.map(function, items))


def _client(port: int, options: dict[str, str]) -> Any:
    from pymongo import MongoClient

    return MongoClient(f"mongodb://127.0.0.1:{port}/?directConnection=true", serverSelectionTimeoutMS=2000, **options)


def _initiate(replica_set: ReplicaSet, internal: dict[str, str], credentials: Credentials | None,
              deadline: float) -> str | None:
    """Initiate ``replica_set`` unless it is, wait for its first member to be primary, create the admin user."""
    from pymongo.errors import OperationFailure

    initiated = None
    with _client(replica_set.ports[0], internal) as client:
        try:
            client.admin.command("replSetGetStatus")
        except OperationFailure as exc:
            if exc.code != _NOT_YET_INITIALIZED:
                raise
            client.admin.command("replSetInitiate", _replica_set_config(replica_set))
            initiated = replica_set.name
        _until(deadline, lambda: client.admin.command("hello").get("isWritablePrimary"),
               f"{replica_set.name} elected no primary in time")
        if credentials is not None and not client.admin.command("usersInfo", "admin")["users"]:
            client.admin.command("createUser", "admin", pwd=credentials.password, roles=["root"])
    return initiated


def _replica_set_config(replica_set: ReplicaSet) -> dict[str, Any]:
    # The first member gets a higher priority so it is the primary we wait for.
    members = [{"_id": i, "host": f"127.0.0.1:{port}", "priority": 2 if i == 0 else 1}
               for i, port in enumerate(replica_set.ports)]
    config: dict[str, Any] = {"_id": replica_set.name, "members": members}
    if replica_set.role == "configsvr":
        config["configsvr"] = True
    return config


def _add_shards(topology: Topology, internal: dict[str, str], deadline: float) -> tuple[str, ...]:
    """addShard through the first mongos for every shard it does not list yet."""
    added = []
    with _client(topology.router_ports[0], internal) as client:
        present = {shard["_id"] for shard in client.admin.command("listShards")["shards"]}
        for shard in topology.shards:
            if shard.name not in present:
                _until(deadline, lambda shard=shard: client.admin.command("addShard", f"{shard.name}/{_hosts(shard)}", name=shard.name),
                       f"mongos could not add {shard.name} in time")
                added.append(shard.name)
    return tuple(added)


def _until(deadline: float, attempt: Callable[[], Any], failure: str) -> Any:
    """Retry ``attempt`` until it returns something true; servers refuse work while electing."""
    from pymongo.errors import PyMongoError

    while True:
        try:
            result = attempt()
            if result:
                return result
        except PyMongoError as exc:
            if time.monotonic() > deadline:
                raise ProcessFailed(f"{failure} ({str(exc).split(', full error')[0]})") from None
        if time.monotonic() > deadline:
            raise ProcessFailed(failure)
        time.sleep(0.2)


def wait_for_router(topology: Topology, *, state_dir: str | Path | None = None,
                    timeout: float = DEFAULT_TIMEOUT_S) -> None:
    """Wait until the first mongos answers and lists every shard (a compose cluster's init has finished)."""
    options = admin_client_options(state_dir or topology.data_dir)
    wanted = {shard.name for shard in topology.shards}
    with _client(topology.router_ports[0], options) as client:
        _until(time.monotonic() + timeout,
               lambda: wanted <= {s["_id"] for s in client.admin.command("listShards")["shards"]},
               f"mongos on port {topology.router_ports[0]} did not list shards {', '.join(sorted(wanted))} in time")


def down(topology: Topology, *, state_dir: str | Path | None = None, purge: bool = False,
         progress: Progress | None = None) -> DownResult:
    """Stop every recorded process (routers, then shards, then config servers), gracefully first.

    Data, logs and secrets stay unless ``purge``; purging refuses while anything still runs.
    """
    directory = Path(state_dir or topology.data_dir)
    state = _State(directory)
    say = progress or (lambda message: None)
    order = [p for p in reversed(topology.processes())]
    say(f"stopping {', '.join(p.name for p in order if p.name in state.records) or 'nothing'}")
    stopped, not_running = _stop_all(order, state)
    purged = None
    if purge and directory.exists():
        shutil.rmtree(directory)
        purged = directory
    return DownResult(stopped, not_running, purged)


def _stop_all(processes: Iterable[Process], state: _State) -> tuple[tuple[str, ...], tuple[str, ...]]:
    recorded = [(p, state.pid(p.name)) for p in processes if state.pid(p.name) is not None]
    outcomes = _map(lambda entry: stop(entry[1], _marker(state.directory, entry[0])), recorded, parallel=True)
    for process, _ in recorded:
        state.forget(process.name)
    stopped = tuple(p.name for (p, _), done in zip(recorded, outcomes) if done)
    return stopped, tuple(p.name for (p, _), done in zip(recorded, outcomes) if not done)


def status(topology: Topology, *, state_dir: str | Path | None = None) -> ClusterStatus:
    """Each process's health, and the shards and routers the config server knows."""
    directory = Path(state_dir or topology.data_dir)
    state = _State(directory)
    options = admin_client_options(directory)
    processes = tuple(_map(lambda p: _process_status(p, state, options), topology.processes(), parallel=True))
    problems = [f"{p.name} is {p.state}" for p in processes if p.state not in ("PRIMARY", "SECONDARY", "router")]
    shards, routers = _config_view(processes, options)
    missing = sorted({s.name for s in topology.shards} - {s.name for s in shards})
    if missing and not problems:
        problems.append(f"shard(s) {', '.join(missing)} not added yet")
    return ClusterStatus(processes, shards, routers, tuple(problems))


def _process_status(process: Process, state: _State, options: dict[str, str]) -> ProcessStatus:
    from pymongo.errors import OperationFailure, PyMongoError

    pid = state.pid(process.name)
    alive = _running(state, process)
    answering, role_state = False, "not started" if pid is None else "down"
    if alive:
        with _client(process.port, options) as client:
            try:
                client.admin.command("ping")
                answering = True
                role_state = "router" if process.role == "mongos" else _member_state(client)
            except OperationFailure as exc:
                role_state = "not initiated" if exc.code == _NOT_YET_INITIALIZED else f"refusing ({exc.code})"
            except PyMongoError:
                role_state = "not answering"
    return ProcessStatus(process.name, process.role, process.port, pid, alive, answering, role_state)


def _member_state(client: Any) -> str:
    members = client.admin.command("replSetGetStatus")["members"]
    return next(m["stateStr"] for m in members if m.get("self"))


def _config_view(processes: tuple[ProcessStatus, ...], options: dict[str, str]) -> tuple[tuple[ShardInfo, ...], tuple[str, ...]]:
    """Shards and routers as recorded on the config server (readable without a mongos)."""
    from .sources import ConfigDatabaseSource, SourceError

    config = next((p for p in processes if p.role == "configsvr" and p.state == "PRIMARY"), None)
    if config is None:
        return (), ()
    with _client(config.port, options) as client:
        source = ConfigDatabaseSource(client)
        try:
            shards = tuple(source.shards())
            routers = tuple(r.name for r in source.routers())
        except SourceError:
            return (), ()
    return shards, routers
