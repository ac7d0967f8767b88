"""Routing throughput and CLI cold start, measured side by side in one run.

* shard_for on a hashed key over 1M documents, against the floor of the same
  work done bare (BSON-encode the value, MD5 it) in a tight loop.  Goal: at
  least half the floor's throughput.
* Cold start of ``mongoshard --help`` (median of several runs), beside a bare
  ``python -c pass``.  Goal: under 200 ms.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from hashlib import md5

import bson

from mongoshard import PredictedSource, ShardSpec

QUICK = "--quick" in sys.argv  # the small size .ci/run runs: the work checked, the timings only printed
DOCUMENTS = 20_000 if QUICK else 1_000_000
STARTS = 9


def floor_rate(values: list[int]) -> float:
    encode = bson.encode
    started = time.perf_counter()
    for value in values:
        md5(encode({"": value})).digest()
    return len(values) / (time.perf_counter() - started)


def shard_for_rate(documents: list[dict]) -> float:
    spec = ShardSpec("bench", "users", (("user_id", "hashed"),))
    shard_for = PredictedSource([spec], ["s0", "s1", "s2", "s3"]).routing_table("bench.users").shard_for
    started = time.perf_counter()
    for document in documents:
        shard_for(document)
    return len(documents) / (time.perf_counter() - started)


def median_start(arguments: list[str]) -> float:
    timings = []
    for _ in range(STARTS):
        started = time.perf_counter()
        subprocess.run(arguments, check=True, capture_output=True)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


def main() -> None:
    values = list(range(DOCUMENTS))
    documents = [{"_id": i, "user_id": i, "name": "x"} for i in values]
    floor = floor_rate(values)
    ours = shard_for_rate(documents)
    spec = ShardSpec("bench", "users", (("user_id", "hashed"),))
    table = PredictedSource([spec], ["s0", "s1", "s2", "s3"]).routing_table("bench.users")
    routed = {table.shard_for(document) for document in documents}
    assert routed == {"s0", "s1", "s2", "s3"}, routed  # a hashed key spreads over every shard
    print(f"{f'documents routed per second, hashed key ({DOCUMENTS:,} docs)':<52} {'rate':>12}")
    print(f"{'  floor: bson.encode + md5':<52} {floor:>12,.0f}")
    print(f"{'  RoutingTable.shard_for':<52} {ours:>12,.0f}")
    print(f"{'  ratio shard_for / floor (goal >= 0.50)':<52} {ours / floor:>12.2f}")
    bare = median_start([sys.executable, "-c", "pass"])
    help_ms = median_start([sys.executable, "-m", "mongoshard", "--help"])
    print(f"{'cold start, median of %d runs' % STARTS:<52} {'ms':>12}")
    print(f"{'  python -c pass':<52} {bare:>12.0f}")
    print(f"{'  mongoshard --help (goal < 200)':<52} {help_ms:>12.0f}")


if __name__ == "__main__":
    main()
