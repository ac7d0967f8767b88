"""``plan_balancing``: the next rounds of the 8.0 balancer, and why nothing moves where nothing does.

Each round is ``routing.balancer.balance_round`` over every balanceable collection, a shard taking part in one
migration per round.  A migration moves about one chunk size from the donor's chunk (``moveRange`` without a max:
the donor cuts at ``maxChunkSizeBytes``); with no per-chunk sizes, a chunk is taken to hold the donor's data
divided by its chunks there, and moves whole when that is at most a chunk size.  Rounds repeat until nothing
moves (or ``max_rounds``).  Time: the bytes moved at ``rate`` bytes per second, one round after another.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any
from collections.abc import Sequence

from ..cluster.live import as_source
from ..cluster.source import ClusterSource, SourceError
from ..routing.balancer import BalancingState, CollectionState, Migration, Obstacle, Placement, Rounds, blocked_collection

__all__ = ["plan_balancing", "BalancingPlan", "PlannedRound", "PlannedMigration", "DEFAULT_RATE"]

# A migration's copy rate, bytes per second: 20 MB/s, a cautious figure for a loaded replica set with secondary
# throttling (the server's own docs give no number; measure yours and pass --rate).
DEFAULT_RATE = 20 * 1024 * 1024
MAX_ROUNDS = 10_000


@dataclass(frozen=True)
class PlannedMigration:
    namespace: str
    from_shard: str
    to_shard: str
    min: dict[str, Any]
    bytes: int
    reason: str


@dataclass(frozen=True)
class PlannedRound:
    number: int
    migrations: tuple[PlannedMigration, ...]

    @property
    def bytes(self) -> int:
        return sum(m.bytes for m in self.migrations)


@dataclass(frozen=True)
class BalancingPlan:
    rounds: tuple[PlannedRound, ...]
    obstacles: tuple[Obstacle, ...]  # what keeps something from moving, after the last round
    converged: bool  # nothing left to move (within max_rounds)
    rate: int
    balancer: str  # "on", or why it is off / waiting

    @property
    def total_bytes(self) -> int:
        return sum(r.bytes for r in self.rounds)

    @property
    def seconds(self) -> float:
        """One round after another, each as long as its largest migration (they run in parallel)."""
        return sum(max((m.bytes for m in r.migrations), default=0) / self.rate for r in self.rounds)


def plan_balancing(source: ClusterSource | Any, namespaces: Sequence[str] | None = None, *, rate: int = DEFAULT_RATE,
                   max_rounds: int = MAX_ROUNDS) -> BalancingPlan:
    """The balancer's next rounds on ``source`` (a live cluster: the plan needs data figures)."""
    source = as_source(source)
    chosen = list(namespaces or source.sharded_namespaces())
    state = source.balancing_state(chosen)
    if state is None:
        raise SourceError("this source has no data figures (a snapshot or a prediction), and the balancer decides by "
                          "data size: plan against a live cluster (--uri, -f)")
    plan = plan_from_state(state, rate=rate, max_rounds=max_rounds)
    known = {collection.namespace for collection in state.collections}
    unknown = tuple(Obstacle(ns, "data", "no data figures for this collection: the balancer decides by data size, so "
                                         "nothing is planned for it") for ns in chosen if ns not in known)
    return replace(plan, obstacles=plan.obstacles + unknown) if unknown else plan


def plan_from_state(state: BalancingState, *, rate: int = DEFAULT_RATE, max_rounds: int = MAX_ROUNDS) -> BalancingPlan:
    collections = {c.namespace: c for c in state.collections}
    played = Rounds(state.shards, state.collections)
    averages: dict[str, dict[str, int]] = {}  # per collection, its bytes per chunk on each shard, as it was
    carried: dict[str, dict[str, int]] = {ns: {} for ns in collections}  # a migrated chunk's bytes still to move
    rounds: list[PlannedRound] = []
    obstacles: tuple[Obstacle, ...] = ()
    converged = False
    for number in range(1, max_rounds + 1):
        result = played.next_round()
        obstacles = result.obstacles
        if not result.migrations:
            converged = True
            break
        planned = []
        for migration in result.migrations:
            collection = collections[migration.namespace]
            if migration.namespace not in averages:
                placement = played.placement(collection)
                assert isinstance(placement, Placement)  # a plan plays every chunk (Rounds without a digest)
                averages[migration.namespace] = _average_chunk_bytes(collection, placement)
            moved, left = _moved_bytes(collection, averages[migration.namespace], carried[migration.namespace], migration)
            played.apply(migration, moved, whole=left == 0)
            planned.append(PlannedMigration(migration.namespace, migration.from_shard, migration.to_shard,
                                            dict(migration.min), moved, migration.reason))
        rounds.append(PlannedRound(number, tuple(planned)))
    return BalancingPlan(tuple(rounds), _with_balancer_obstacles(state, obstacles), converged, rate, _balancer_word(state))


def _average_chunk_bytes(collection: CollectionState, placement: Placement) -> dict[str, int]:
    """Bytes per chunk on each shard: its data over its chunks there (no per-chunk sizes without a scan), taken
    before the collection's first migration."""
    counts = {shard: placement.count_on(shard) for shard in placement.on_shard}
    return {shard: collection.data_bytes.get(shard, 0) // count for shard, count in counts.items() if count}


def _moved_bytes(collection: CollectionState, averages: dict[str, int], carried: dict[str, int],
                 migration: Migration) -> tuple[int, int]:
    """(carried, left on the donor): the chunk's estimate (its first shard's average until it has moved), at most
    one chunk size (the donor cuts the rest off)."""
    identity = repr(sorted(dict(migration.min).items()))
    estimate = carried.get(identity, averages.get(migration.from_shard, collection.max_chunk_size_bytes))
    moved = min(estimate, collection.max_chunk_size_bytes)
    carried[identity] = estimate - moved
    return moved, estimate - moved


def _with_balancer_obstacles(state: BalancingState, obstacles: tuple[Obstacle, ...]) -> tuple[Obstacle, ...]:
    found = list(obstacles)
    if state.settings.problem:
        found.insert(0, Obstacle("*", "balancer", f"the balancer settings cannot be read: {state.settings.problem}"))
    elif (word := _balancer_word(state)) != "on":
        found.insert(0, Obstacle("*", "balancer", f"the balancer is {word}: nothing moves until it runs, and then "
                                                  "these rounds would"))
    for collection in state.collections:
        if (blocked := blocked_collection(collection)) and not any(o.namespace == collection.namespace for o in found):
            found.append(Obstacle(collection.namespace, "collection", blocked))
    return tuple(found)


def _balancer_word(state: BalancingState) -> str:
    if state.settings.mode != "full":
        return "off (mode off, stopped, or a mode other than full)"
    if state.in_window is False and state.settings.window:
        start, stop = state.settings.window
        opens = f"{start // 60}:{start % 60:02d}"
        return f"outside its window {opens}-{stop // 60}:{stop % 60:02d} (opens at {opens})"
    return "on"
