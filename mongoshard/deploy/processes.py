"""Server processes by pid: start detached, check, wait for, and stop.

The CLI exits while the servers it started keep running, so everything here
works from a recorded pid, not from a ``Popen`` object, and never signals a
pid that no longer belongs to the process it was recorded for.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from ..errors import MongoshardError

__all__ = ["spawn", "is_alive", "is_ours", "stop", "port_in_use", "free_port", "wait_answering", "in_parallel", "ProcessFailed"]

POLL_S = 0.1
# Children started by this Python process, kept so they can be reaped (no zombies, no ResourceWarning).
_children: dict[int, subprocess.Popen] = {}


class ProcessFailed(MongoshardError):
    """A server process exited, or did not answer in time."""


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
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True  # no /proc (not Linux): kill(0) is all we know


def is_ours(pid: int, marker: str) -> bool:
    """True when ``pid`` runs and its command line contains ``marker`` (guards against reused pids)."""
    if not is_alive(pid):
        return False
    try:
        command_line = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return True
    return marker in command_line


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


def wait_answering(port: int, pid: int, deadline: float, describe: Callable[[], str],
                   client_options: dict[str, Any] | None = None) -> None:
    """Wait until the server at ``port`` answers a ping; fail at once if its process exits."""
    from pymongo.errors import PyMongoError

    from ..cluster.connection import direct_client

    with direct_client(port, timeout_ms=500, connectTimeoutMS=500, **(client_options or {})) as client:
        while True:
            if not is_alive(pid):
                raise ProcessFailed(f"{describe()} exited during start-up")
            try:
                client.admin.command("ping")
                return
            except PyMongoError:
                if time.monotonic() > deadline:
                    raise ProcessFailed(f"{describe()} did not answer on port {port} in time") from None
            time.sleep(POLL_S)


def in_parallel(function: Callable[[Any], Any], items: Iterable[Any], parallel: bool = True) -> list[Any]:
    """``function`` over ``items`` in threads (servers start and answer independently), results in order."""
    items = list(items)
    if not parallel or len(items) < 2:
        return [function(item) for item in items]
    with ThreadPoolExecutor(len(items)) as pool:
        return list(pool.map(function, items))


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
