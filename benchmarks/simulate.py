"""simulate() at analyzeShardKey's scale: seconds and peak memory for 1 and 3 keys against the floor, at 1M and 10M.

The floor is the part no simulation can avoid: generating every sample
document (``examples.sensors.data.readings``, streamed) and BSON-encoding it
once.  Each case runs in a process of its own, so that its peak resident
memory is its own; all cases run side by side in one run of this script.

Goals: 3 keys within 1.5 x the floor at 1M documents (issue 22; 1.93 x
before the columns read in batches); 10M documents x 3 keys under 2 minutes
and under 1 GB (issue 14).  Each case checks its work: every document counted
once per key, on some shard.

    python benchmarks/simulate.py            # 1M and 10M (about 5 minutes here)
    python benchmarks/simulate.py 200000     # other sizes
"""

from __future__ import annotations

import json
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


def main() -> None:
    quick = "--quick" in sys.argv  # the small size .ci/run runs
    given = [int(argument) for argument in sys.argv[1:] if argument != "--quick"]
    sizes = given or ([20_000] if quick else [1_000_000, 10_000_000])
    print(f"{'documents':>12} {'case':<34} {'seconds':>8} {'x floor':>8} {'peak MB':>8} {'bytes/doc over floor':>21}")
    for count in sizes:
        floor = measure(count, None)
        for label, keys in (("floor: generate + encode once", None), ("1 key  {taken_at: hashed}", ONE_KEY),
                            ("3 keys (+ {sensor_id, taken_at}, {taken_at})", THREE_KEYS)):
            figures = floor if keys is None else measure(count, keys)
            extra = (figures["peak_mb"] - floor["peak_mb"]) * 1024 * 1024 / count
            print(f"{count:>12,} {label:<34} {figures['seconds']:>8.1f} {figures['seconds'] / floor['seconds']:>8.2f} "
                  f"{figures['peak_mb']:>8.0f} {extra:>21.0f}", flush=True)


if __name__ == "__main__":
    main()
