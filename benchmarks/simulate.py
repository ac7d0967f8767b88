"""simulate() on a million sample documents: seconds for one and for two candidate keys, in one run.

Goal: well under a minute for a million documents.  The floor beside it is
the unavoidable part, measured the same way: BSON-encoding every document
once (sizes) and hashing every key value once (MongoDB's hash).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import bson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from examples.sensors.data import readings  # noqa: E402
from mongoshard.advice.simulate import simulate  # noqa: E402
from mongoshard.routing.hashing import hashed_value  # noqa: E402

DOCUMENTS = 1_000_000


def seconds(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    documents = list(readings(DOCUMENTS))
    floor = seconds(lambda: ([len(bson.encode(d)) for d in documents], [hashed_value(d["taken_at"]) for d in documents]))
    one = seconds(lambda: simulate(documents, [{"taken_at": "hashed"}], shards=4))
    two = seconds(lambda: simulate(documents, [{"taken_at": "hashed"}, {"sensor_id": 1, "taken_at": 1}], shards=4))
    print(f"{'simulate, %d documents, 4 shards' % DOCUMENTS:<56} {'seconds':>8}")
    print(f"{'  floor: encode every document + hash every key once':<56} {floor:>8.1f}")
    print(f"{'  one key   {taken_at: hashed}':<56} {one:>8.1f}")
    print(f"{'  two keys  (+ {sensor_id: 1, taken_at: 1}) (goal < 60)':<56} {two:>8.1f}")
    print(f"{'  ratio one key / floor':<56} {one / floor:>8.2f}")


if __name__ == "__main__":
    main()
