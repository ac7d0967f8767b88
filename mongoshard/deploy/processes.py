"""Server processes by pid: start detached, find, check, wait for, and stop.

The CLI exits while the servers it started keep running, so everything here
works from a pid, not from a ``Popen`` object, and never signals a pid that no
longer belongs to the process it was recorded for: a process is identified by
a marker in its command line (its log path), which also finds it again when
the record of its pid is lost.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any
from collections.abc import Callable, Iterable, Sequence

from ..errors import MongoshardError

__all__ = ["spawn", "is_alive", "is_ours", "pids_by_marker", "stop", "port_in_use", "free_port", "wait_answering",
           "Deadline", "ProcessFailed"]

POLL_S = 0.1
# Children started by this Python process, kept so they can be reaped (no zombies, no ResourceWarning).
_children: dict[int, subprocess.Popen] = {}


class ProcessFailed(MongoshardError):
    """A server process exited, or did not answer in time."""


class Deadline:
    """A point in time that work waiting in other threads can also be cancelled at (an interrupted ``up``)."""

    def __init__(self, seconds: float) -> None:
        self._end = time.monotonic() + seconds
        self._cancelled = threading.Event()

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    @property
    def passed(self) -> bool:
        return self.cancelled or time.monotonic() > self._end


def spawn(arguments: Sequence[str], output: Path) -> int:
    """Start a server in its own session (it outlives the CLI); early errors go to ``output``."""
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output, "ab") as sink:
        process = subprocess.Popen(list(arguments), stdin=subprocess.DEVNULL, stdout=sink, stderr=sink,
                                   start_new_session=True)
    _children[process.pid] = process
    return process.pid


def is_alive(pid: int) -> bool:
    """True when ``pid`` runs; a zombie (exited, not yet reaped) does not."""
    _reap(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OverflowError:  # not a pid at all
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True  # no /proc (not Linux): kill(0) is all we know


def _command_line(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [argument.decode(errors="replace") for argument in raw.rstrip(b"\0").split(b"\0")] if raw else []


_SERVERS = ("mongod", "mongos")


def _has_marker(arguments: list[str], marker: str) -> bool:
    """A server mongoshard started: the executable is a mongod or a mongos, and its log path is ``marker``, as a whole
    argument after ``--logpath`` (never any process that mentions the path: a ``tail -f`` of the log is not the server;
    "x/shard1-0.log" is not "x/shard1-0.log.out")."""
    if not arguments or Path(arguments[0]).name not in _SERVERS:
        return False
    return any((argument == "--logpath" and following == marker) or argument == f"--logpath={marker}"
               for argument, following in zip(arguments, [*arguments[1:], ""]))


def is_ours(pid: int, marker: str) -> bool:
    """True when ``pid`` runs and is the server recorded under ``marker`` (guards against reused pids): a child this
    process started and has not reaped, whatever it became (a ``--bin-dir`` wrapper script that runs something else),
    or a mongod or mongos whose log path is ``marker``."""
    if pid <= 0 or not is_alive(pid):
        return False
    if pid in _children:  # an unreaped child's pid cannot have been reused
        return True
    command_line = _command_line(pid)
    return command_line is None or _has_marker(command_line, marker)


def pids_by_marker(markers: Iterable[str]) -> dict[str, int]:
    """The live process whose command line holds each marker (Linux /proc), for markers that have one."""
    wanted = set(markers)
    found: dict[str, int] = {}
    proc = Path("/proc")
    if not wanted or not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        command_line = _command_line(int(entry.name))
        if not command_line:
            continue
        for marker in wanted:
            if _has_marker(command_line, marker) and is_alive(int(entry.name)):
                found[marker] = int(entry.name)
    return found


def stop(pid: int, marker: str, timeout: float = 30.0) -> bool:
    """SIGTERM (a clean shutdown for mongod and mongos), SIGKILL after ``timeout``; False if it was not running."""
    if not is_ours(pid, marker):
        return False
    _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while is_alive(pid):
        if time.monotonic() > deadline:
            _signal(pid, signal.SIGKILL)
            deadline = time.monotonic() + timeout
        time.sleep(POLL_S)
    return True


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_answering(port: int, pid: int, deadline: Deadline, describe: Callable[[], str],
                   client_options: dict[str, Any] | None = None) -> None:
    """Wait until the server at ``port`` answers a ping; fail at once if its process exits or the wait is cancelled."""
    from pymongo.errors import PyMongoError

    from ..cluster.connection import direct_client

    with direct_client(port, timeout_ms=500, connectTimeoutMS=500, **(client_options or {})) as client:
        while True:
            if deadline.cancelled:
                raise ProcessFailed(f"{describe()}: start-up cancelled")
            if not is_alive(pid):
                raise ProcessFailed(f"{describe()} exited during start-up")
            try:
                client.admin.command("ping")
                return
            except PyMongoError:
                if deadline.passed:
                    raise ProcessFailed(f"{describe()} did not answer on port {port} in time") from None
            time.sleep(POLL_S)


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _reap(pid: int) -> None:
    # Our own exited children stay zombies until waited for; other processes' are not ours to reap.
    child = _children.get(pid)
    if child is not None and child.poll() is not None:
        del _children[pid]
