"""Summarising a large config database: server-side aggregation against reading chunks into Python.

A real mongod (PyPI) holds a copy of a config database's shape: 50 sharded
collections with 20,000 chunks each (1,000,000 chunks) over 4 shards, with the
config server's own {uuid: 1, min: 1} and {uuid: 1, shard: 1, min: 1} indexes.
Measured side by side in one run:

* ``balance()``: the whole report (keys, chunks and jumbo chunks per shard,
  the top chunk's shard, imbalance, and the 8.0 balancer's verdict per
  collection) with chunks counted on the server (``cluster/chunk_digest.py``).
  Goal: under one second.
* the naive way: every chunk document read into Python and counted there.
* what the verdict over every chunk costs: ``balancing_state()``, which reads
  every chunk (``balance --plan`` needs them all).

Per-shard data figures need real shards and are not part of this measurement.
"""

from __future__ import annotations

import statistics
import sys
import time
import uuid
from collections import Counter

from bson import Binary, MaxKey, MinKey
from pymongo import MongoClient

from _mongod import scratch_mongod  # benchmarks/, the script's own folder
from mongoshard import balance
from mongoshard.cluster.live import ConfigDatabaseSource
from mongoshard.cluster.source import ShardData

MB = 1024 * 1024
QUICK = "--quick" in sys.argv  # the small size .ci/run runs: the work checked, the timings only printed
COLLECTIONS, CHUNKS_PER_COLLECTION, SHARDS, ROUNDS = (5, 200, ("s0", "s1", "s2", "s3"), 1) if QUICK else (
    50, 20_000, ("s0", "s1", "s2", "s3"), 3)


class MetadataOnly(ConfigDatabaseSource):
    """The config database alone, with data figures made up as shards would report them (64 MB a chunk): the first
    collection has 4 GB too many on its first shard, so its verdict reads that shard's chunks."""

    def data_distribution(self, namespaces: list[str]) -> dict[str, dict[str, ShardData]]:
        even = CHUNKS_PER_COLLECTION // len(SHARDS) * 64 * MB
        return {ns: {shard: ShardData(None, even + (4096 * MB if (ns, shard) == ("app.c0", SHARDS[0]) else 0))
                     for shard in SHARDS} for ns in namespaces}


def fill(database) -> list[str]:
    database.shards.insert_many([{"_id": s, "host": f"{s}/h:1", "state": 1} for s in SHARDS])
    namespaces = []
    for c in range(COLLECTIONS):
        collection_uuid = Binary.from_uuid(uuid.uuid4())
        namespace = f"app.c{c}"
        namespaces.append(namespace)
        database.collections.insert_one({"_id": namespace, "uuid": collection_uuid, "key": {"k": 1}})
        bounds = [MinKey(), *range(1, CHUNKS_PER_COLLECTION), MaxKey()]
        database.chunks.insert_many([
            {"uuid": collection_uuid, "min": {"k": bounds[i]}, "max": {"k": bounds[i + 1]},
             "shard": SHARDS[(i * len(SHARDS)) // CHUNKS_PER_COLLECTION], "jumbo": i % 500 == 0}
            for i in range(CHUNKS_PER_COLLECTION)])
    database.chunks.create_index([("uuid", 1), ("min", 1)], unique=True)
    database.chunks.create_index([("uuid", 1), ("shard", 1), ("min", 1)], unique=True)
    return namespaces


def naive(database) -> Counter:
    return Counter((doc["uuid"], doc["shard"]) for doc in database.chunks.find({}, {"uuid": 1, "shard": 1, "_id": 0}))


def median_seconds(action) -> float:
    timings = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def main() -> None:
    with scratch_mongod() as port:
        with MongoClient(f"mongodb://127.0.0.1:{port}/?directConnection=true") as client:
            database = client.bench_config
            namespaces = fill(database)
            source = MetadataOnly(database)
            report = balance(source, namespaces)
            assert sum(c.chunks for c in report.collections) == COLLECTIONS * CHUNKS_PER_COLLECTION
            assert sum(naive(database).values()) == COLLECTIONS * CHUNKS_PER_COLLECTION
            assert [c.status for c in report.collections] == ["chunksImbalance"] + ["compliant"] * (COLLECTIONS - 1)
            ours = median_seconds(lambda: balance(source, namespaces))
            pulled = median_seconds(lambda: naive(database))
            every_chunk = median_seconds(lambda: source.balancing_state(namespaces))
    title = f"summary of {COLLECTIONS * CHUNKS_PER_COLLECTION} chunks over {COLLECTIONS} collections, median of {ROUNDS}"
    print(f"{title:<60} {'seconds':>8}")
    print(f"{'  balance() report, chunks counted on the server (goal < 1)':<60} {ours:>8.3f}")
    print(f"{'  chunk documents read into Python and counted':<60} {pulled:>8.3f}")
    print(f"{'  ratio naive / balance()':<60} {pulled / ours:>8.2f}")
    print(f"{'  every chunk read for the verdict (balancing_state)':<60} {every_chunk:>8.3f}")


if __name__ == "__main__":
    main()
