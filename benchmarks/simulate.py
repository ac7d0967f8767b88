"""simulate() at analyzeShardKey's scale: seconds and peak memory for 1 and 3 keys against the floor, at 1M and 10M.

The floor is the part no simulation can avoid: generating every sample
document (``examples.sensors.data.readings``, streamed) and BSON-encoding it
once.  Each case runs in a process of its own, so that its peak resident
memory is its own; all cases run side by side in one run of this script,
at 1M documents three times each, in turn (medians).

Goals: 3 keys within 1.5 x the floor at 1M documents (issue 22; 1.93 x
before the columns read in batches); 10M documents x 3 keys under 2 minutes
and under 1 GB (issue 14).  Each case checks its work: every document counted
once per key, on some shard.

    python benchmarks/simulate.py            # 1M and 10M (about 5 minutes here)
    python benchmarks/simulate.py 200000     # other sizes
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ONE_KEY = [{"taken_at": "hashed"}]
THREE_KEYS = [{"taken_at": "hashed"}, {"sensor_id": 1, "taken_at": 1}, {"taken_at": 1}]

CASE = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
import bson
from examples.sensors.data import readings
from mongoshard.advice.simulate import simulate
count, keys = {count}, {keys!r}
started = time.perf_counter()
if keys is None:
    encode = bson.encode
    for document in readings(count):
        len(encode(document))
else:
    report = simulate(readings(count), keys, shards=4)
    assert report.documents == count, report.documents
    assert [sum(c.documents_per_shard) for c in report.candidates] == [count] * len(keys)
seconds = time.perf_counter() - started
print(json.dumps({{"seconds": seconds, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def measure(count: int, keys: list | None) -> dict:
    code = CASE.format(root=str(ROOT), count=count, keys=keys)
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(output.strip().splitlines()[-1])


CASES = (("floor: generate + encode once", None), ("1 key  {taken_at: hashed}", ONE_KEY),
         ("3 keys (+ {sensor_id, taken_at}, {taken_at})", THREE_KEYS))


def main() -> None:
    quick = "--quick" in sys.argv  # the small size .ci/run runs
    given = [int(argument) for argument in sys.argv[1:] if argument != "--quick"]
    sizes = given or ([20_000] if quick else [1_000_000, 10_000_000])
    print(f"{'documents':>12} {'case':<46} {'rounds':>6} {'seconds':>8} {'x floor':>8} {'peak MB':>8} "
          f"{'bytes/doc over floor':>21}")
    for count in sizes:
        # Up to a million documents the cases run in rounds, each case going first in turn, and each figure is a
        # median: the machine's speed drifts by a third from one minute to the next.
        rounds = 3 if count <= 1_000_000 else 1
        runs: dict[str, list[dict]] = {label: [] for label, _ in CASES}
        for round_number in range(rounds):
            for label, keys in CASES[round_number % 3:] + CASES[:round_number % 3]:
                runs[label].append(measure(count, keys))
        floor_seconds = statistics.median(run["seconds"] for run in runs[CASES[0][0]])
        floor_mb = max(run["peak_mb"] for run in runs[CASES[0][0]])
        for label, _ in CASES:
            seconds = statistics.median(run["seconds"] for run in runs[label])
            peak_mb = max(run["peak_mb"] for run in runs[label])
            extra = (peak_mb - floor_mb) * 1024 * 1024 / count
            print(f"{count:>12,} {label:<46} {rounds:>6} {seconds:>8.1f} {seconds / floor_seconds:>8.2f} "
                  f"{peak_mb:>8.0f} {extra:>21.0f}", flush=True)


if __name__ == "__main__":
    main()
