"""Seconds from `up` to a ready config server and two shards: parallel start against one-at-a-time.

Each round starts a fresh cluster (empty state directory, real PyPI mongod,
no auth so that only process start-up and initiation are measured), waits
until every replica set has a writable primary, and stops it again.  The two
ways alternate so that both see the same machine.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from harness import topology_with_free_ports  # noqa: E402

from mongoshard.deploy import local  # noqa: E402
from mongoshard.deploy.binaries import find_binary  # noqa: E402

QUICK = "--quick" in sys.argv  # the small size .ci/run runs: the work checked, the timings only printed
ROUNDS = 1 if QUICK else 3


def seconds_to_ready(parallel: bool) -> float:
    mongod = find_binary("mongod")
    topology = topology_with_free_ports()
    with tempfile.TemporaryDirectory() as state_dir:
        started = time.perf_counter()
        try:
            result = local.up(topology, state_dir=state_dir, bin_dir=mongod.parent, parallel=parallel)
            seconds = time.perf_counter() - started
            assert len(result.started) == len([p for p in topology.processes() if p.role != "mongos"]), result
            return seconds
        finally:
            local.down(topology, state_dir=state_dir)


def main() -> None:
    timings: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(ROUNDS):
        for parallel in (True, False):
            timings[parallel].append(seconds_to_ready(parallel))
    parallel, sequential = statistics.median(timings[True]), statistics.median(timings[False])
    print(f"{f'up to a ready config server + 2 shards, median of {ROUNDS}':<56} {'seconds':>8}")
    print(f"{'  one at a time':<56} {sequential:>8.2f}")
    print(f"{'  in parallel':<56} {parallel:>8.2f}")
    print(f"{'  speed-up (one at a time / parallel)':<56} {sequential / parallel:>8.2f}")


if __name__ == "__main__":
    main()
