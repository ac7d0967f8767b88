"""A throwaway real mongod for the benchmarks that need the server (not a benchmark: ``make bench`` skips ``_*.py``)."""

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from mongoshard.deploy.binaries import find_binary
from mongoshard.deploy.processes import Deadline, free_port, spawn, stop, wait_answering


@contextlib.contextmanager
def scratch_mongod(*options: str) -> Iterator[int]:
    """The port of a mongod on a temporary data directory, its cache capped (2 cores, shared with the benchmark);
    stopped and its files removed on the way out, also after a failure."""
    port = free_port()
    with tempfile.TemporaryDirectory() as directory:
        log = Path(directory) / "mongod.log"
        pid = spawn([str(find_binary("mongod")), "--port", str(port), "--bind_ip", "127.0.0.1", "--dbpath", directory,
                     "--wiredTigerCacheSizeGB", "0.25", "--logpath", str(log), *options], Path(directory) / "out")
        try:
            wait_answering(port, pid, Deadline(60), lambda: "mongod")
            yield port
        finally:
            stop(pid, str(log))
