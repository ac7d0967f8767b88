"""``balance --plan`` at a million chunks: the balancer's rounds planned over 50 collections of 20,000 chunks each.

The plan runs the 8.0 ``BalancerPolicy`` (``routing/balancer.py``) round after round until nothing moves (at most
10,000 rounds).  Measured side by side in one run, each the median of three:

* the floor: building the cluster state itself (1,000,000 ``ChunkState`` objects), which any planner must hold;
* three plans on that state: a compliant cluster (nothing to move), five collections 4 GB out of balance (a few
  hundred rounds), and a fifth, empty shard just added (every collection gives to it, one migration a round: the
  plan stops at 10,000 rounds).  Goal: under 2 seconds.

Reading the state from a config server or a snapshot file is not part of this measurement (``benchmarks/balance.py``
measures reading a config database).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

from bson import MaxKey, MinKey

from mongoshard.reports.plan import plan_from_state
from mongoshard.routing.balancer import BalancingState, ChunkState, CollectionState, ShardState
from mongoshard.routing.balancer_settings import read_balancer_settings

QUICK = "--quick" in sys.argv  # the small size .ci/run runs: the work checked, the timings only printed
COLLECTIONS, CHUNKS_PER_COLLECTION, REPEAT = (5, 2_000, 1) if QUICK else (50, 20_000, 3)
MB = 1024 * 1024
CHUNK_BYTES = 64 * MB  # data per chunk: half the 128 MB chunk size, as migrations and merges leave them


def cluster(shards: int, excess_on_first: int = 0, *, new_empty_shard: bool = False) -> BalancingState:
    names = [f"shard{n}" for n in range(shards)]
    holders = names[:-1] if new_empty_shard else names
    bounds = [MinKey(), *range(1, CHUNKS_PER_COLLECTION), MaxKey()]
    collections = []
    for number in range(COLLECTIONS):
        chunks = tuple(ChunkState({"k": bounds[i]}, {"k": bounds[i + 1]}, holders[i * len(holders) // CHUNKS_PER_COLLECTION],
                                  jumbo=i % 5000 == 0) for i in range(CHUNKS_PER_COLLECTION))
        data = {name: (CHUNKS_PER_COLLECTION // len(holders)) * CHUNK_BYTES if name in holders else 0 for name in names}
        if number < 5:
            data[names[0]] += excess_on_first
        collections.append(CollectionState(f"app.c{number}", {"k": 1}, chunks, data, 128 * MB))
    return BalancingState(tuple(ShardState(name) for name in names), tuple(collections), read_balancer_settings(None))


def median_seconds(action: Callable[[BalancingState], object], make: Callable[[], BalancingState]) -> float:
    """The median time of ``action`` on a fresh state each time (a plan caches each collection's chunk index)."""
    timings = []
    for _ in range(REPEAT):
        state = make()
        started = time.perf_counter()
        action(state)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def main() -> None:
    floor = median_seconds(lambda _: cluster(4), lambda: BalancingState((), (), read_balancer_settings(None)))
    cases = [("compliant: nothing to move", lambda: cluster(4)),
             ("5 collections 4 GB out of balance", lambda: cluster(4, 4096 * MB)),
             ("a fifth, empty shard added", lambda: cluster(5, new_empty_shard=True))]
    print(f"{f'{COLLECTIONS * CHUNKS_PER_COLLECTION:,} chunks over {COLLECTIONS} collections, median of {REPEAT}':<48} "
          f"{'rounds':>7} {'seconds':>8} {'x floor':>8}")
    print(f"{'  floor: build the cluster state':<48} {'':>7} {floor:>8.2f} {1:>8.2f}")
    for label, make in cases:
        plan = plan_from_state(make())
        moved = {(m.namespace, m.from_shard, m.to_shard) for r in plan.rounds for m in r.migrations}
        assert (not plan.rounds) == label.startswith("compliant"), label  # the work is right, whatever the time
        assert all(source != target for _, source, target in moved)
        seconds = median_seconds(plan_from_state, make)
        rounds = f"{len(plan.rounds):,}" + ("" if plan.converged else "+")
        print(f"{'  plan: ' + label:<48} {rounds:>7} {seconds:>8.2f} {seconds / floor:>8.2f}")


if __name__ == "__main__":
    main()
