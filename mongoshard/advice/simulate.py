"""What-if: how candidate shard keys would spread real data over N shards, before sharding anything.

For each candidate key, from a sample of documents in insertion order:

* **chunks and data per shard after balancing**: the documents sorted by key
  (MongoDB's hashed values for hashed fields, BSON order otherwise) are cut
  into chunks of at most ``chunk_bytes``, never inside one key value (such a
  chunk is *jumbo*: it cannot split, so it cannot move), and the chunks are
  dealt to shards in contiguous runs of equal data, as the balancer aims for;
* **hot inserts**: the share of the most recent inserts that land on the
  busiest shard (a monotonic key sends them all to the last chunk);
* **queries** (with an audit log): the share single-shard, multi-shard,
  scatter-gather or unknown under the key;
* **adding one shard**: the fraction of documents that change shard when
  chunk ranges are rebalanced (only the moved chunks) against naive
  ``hash mod N`` partitioning (almost everything moves).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import bson
from bson import Int64, MaxKey, MinKey

from ..reports.audit import KINDS, classify
from ..routing.hashing import hashed_value
from ..routing.ordering import sort_key
from ..routing.table import RoutingTable

__all__ = ["simulate", "grown_layout", "write_simulation_plot", "SimulationReport", "CandidateResult"]

CHUNKS_PER_SHARD = 8  # default chunk size: the data cut into this many chunks per shard
RECENT_SHARE = 0.10  # "recent inserts": the last tenth of the sample


@dataclass(frozen=True)
class CandidateResult:
    key: dict[str, Any]
    chunks_per_shard: tuple[int, ...]
    documents_per_shard: tuple[int, ...]
    bytes_per_shard: tuple[int, ...]
    largest_share: float
    jumbo_chunks: int
    hot_insert_share: float  # of the recent inserts, the share taken by the busiest shard
    moved_by_chunks: float  # fraction of documents moving when a shard is added, chunk ranges
    moved_by_modulo: float  # the same with hash(key) mod N
    queries: dict[str, float] | None = None


@dataclass(frozen=True)
class SimulationReport:
    documents: int
    shards: int
    chunk_bytes: int
    candidates: tuple[CandidateResult, ...]


def _value(document: Mapping[str, Any], path: str) -> Any:
    current: Any = document
    for part in path.split("."):
        if not isinstance(current, Mapping):
            return None
        current = current.get(part)
    return current


def _key_of(document: Mapping[str, Any], key: Sequence[tuple[str, Any]]) -> tuple[Any, ...]:
    return tuple((0, hashed_value(_value(document, name))) if kind == "hashed" else sort_key(_value(document, name))
                 for name, kind in key)


def simulate(documents: Iterable[Mapping[str, Any]], keys: Sequence[Mapping[str, Any]], shards: int = 2, *,
             chunk_bytes: int | None = None, audit_records: Sequence[Mapping[str, Any]] = ()) -> SimulationReport:
    """Simulate every candidate key on the same documents (given in insertion order)."""
    if shards < 1:
        raise ValueError("simulate needs at least one shard")
    sample = list(documents)
    sizes = [len(bson.encode(document)) for document in sample]
    total = sum(sizes)
    limit = chunk_bytes or max(1, total // (shards * CHUNKS_PER_SHARD))
    candidates = tuple(_candidate(sample, sizes, list(key.items()), shards, limit, audit_records) for key in keys)
    return SimulationReport(len(sample), shards, limit, candidates)


@dataclass(frozen=True)
class _Layout:
    """The sample cut into chunks in key order and dealt to shards."""

    order: list[int]  # document indexes in key order
    chunk_of: list[int]  # document index -> chunk
    chunk_sizes: list[int]
    chunk_counts: list[int]
    jumbo: int
    owner: list[int]  # chunk -> shard


def _layout(sample: list[Mapping[str, Any]], sizes: list[int], key: list[tuple[str, Any]], shards: int, limit: int) -> _Layout:
    keyed = [_key_of(document, key) for document in sample]
    order = sorted(range(len(sample)), key=keyed.__getitem__)
    chunk_of, chunk_sizes, chunk_counts, jumbo = _chunks(order, keyed, sizes, limit)
    return _Layout(order, chunk_of, chunk_sizes, chunk_counts, jumbo, _deal(chunk_sizes, shards))


def grown_layout(documents: Iterable[Mapping[str, Any]], key: Mapping[str, Any], namespace: str, shards: int = 2, *,
                 chunk_bytes: int | None = None) -> RoutingTable:
    """The routing table of a collection grown to this sample and balanced over ``shards`` (the simulation's chunks),
    where a new ranged collection has one chunk and so tells nothing about targeting."""
    sample = list(documents)
    sizes = [len(bson.encode(document)) for document in sample]
    items = list(key.items())
    layout = _layout(sample, sizes, items, shards, chunk_bytes or max(1, sum(sizes) // (shards * CHUNKS_PER_SHARD)))
    first_of: dict[int, int] = {}
    for index in layout.order:
        first_of.setdefault(layout.chunk_of[index], index)
    starts = [_bound(sample[first_of[chunk]], items) for chunk in range(1, len(layout.chunk_sizes))]
    bounds = [{name: MinKey() for name in key}, *starts, {name: MaxKey() for name in key}]
    owners = layout.owner or [0]
    return RoutingTable(namespace, key, [{"min": low, "max": high, "shard": f"shard{owners[chunk]}"}
                                         for chunk, (low, high) in enumerate(zip(bounds, bounds[1:]))])


def _bound(document: Mapping[str, Any], key: list[tuple[str, Any]]) -> dict[str, Any]:
    return {name: Int64(hashed_value(_value(document, name))) if kind == "hashed" else _value(document, name) for name, kind in key}


def _candidate(sample: list[Mapping[str, Any]], sizes: list[int], key: list[tuple[str, Any]], shards: int, limit: int,
               audit_records: Sequence[Mapping[str, Any]]) -> CandidateResult:
    layout = _layout(sample, sizes, key, shards, limit)
    chunk_of, chunk_sizes, chunk_counts, jumbo, owner = (layout.chunk_of, layout.chunk_sizes, layout.chunk_counts,
                                                         layout.jumbo, layout.owner)
    per_shard_bytes, per_shard_docs, per_shard_chunks = [0] * shards, [0] * shards, [0] * shards
    for chunk, shard in enumerate(owner):
        per_shard_bytes[shard] += chunk_sizes[chunk]
        per_shard_docs[shard] += chunk_counts[chunk]
        per_shard_chunks[shard] += 1
    total = sum(sizes) or 1
    return CandidateResult(
        dict(key), tuple(per_shard_chunks), tuple(per_shard_docs), tuple(per_shard_bytes),
        max(per_shard_bytes) / total, jumbo, _hot_share(chunk_of, owner, shards),
        _moved_by_chunks(owner, chunk_sizes, chunk_counts, shards), _moved_by_modulo(sample, key, shards),
        _query_shares(audit_records, key) if audit_records else None,
    )


def _chunks(order: list[int], keyed: list[tuple[Any, ...]], sizes: list[int],
            limit: int) -> tuple[list[int], list[int], list[int], int]:
    """Cut the key-ordered documents into chunks of at most ``limit`` bytes, as the splitter does.

    Cuts fall only between key values: a run of one value bigger than the limit
    becomes a chunk of its own that cannot split (jumbo).
    """
    chunk_of = [0] * len(order)
    chunk_sizes: list[int] = []
    chunk_counts: list[int] = []
    jumbo = 0
    current_size = current_count = 0
    position = 0
    while position < len(order):
        run_end, run_size = position, 0
        while run_end < len(order) and keyed[order[run_end]] == keyed[order[position]]:
            run_size += sizes[order[run_end]]
            run_end += 1
        if current_count and current_size + run_size > limit:
            chunk_sizes.append(current_size)
            chunk_counts.append(current_count)
            current_size = current_count = 0
        for index in order[position:run_end]:
            chunk_of[index] = len(chunk_sizes)
        current_size += run_size
        current_count += run_end - position
        if run_size > limit:
            jumbo += 1
        position = run_end
    if current_count:
        chunk_sizes.append(current_size)
        chunk_counts.append(current_count)
    return chunk_of, chunk_sizes, chunk_counts, jumbo


def _deal(chunk_sizes: list[int], shards: int) -> list[int]:
    """Contiguous runs of chunks with equal data per shard, as far as chunk sizes allow."""
    total = sum(chunk_sizes) or 1
    owner, before = [], 0
    for size in chunk_sizes:
        middle = before + size / 2
        owner.append(min(shards - 1, int(middle * shards / total)))
        before += size
    return owner


def _hot_share(chunk_of: list[int], owner: list[int], shards: int) -> float:
    recent = chunk_of[len(chunk_of) - max(1, int(len(chunk_of) * RECENT_SHARE)):]
    counts = [0] * shards
    for chunk in recent:
        counts[owner[chunk]] += 1
    return max(counts) / len(recent) if recent else 0.0


def _moved_by_chunks(owner: list[int], chunk_sizes: list[int], chunk_counts: list[int], shards: int) -> float:
    """A new shard takes whole chunks from the fullest shards until it holds its share; what moves."""
    loads = [0] * shards
    for chunk, shard in enumerate(owner):
        loads[shard] += chunk_sizes[chunk]
    target = sum(chunk_sizes) / (shards + 1)
    new_load = moved = 0
    by_shard: dict[int, list[int]] = {}
    for chunk, shard in enumerate(owner):
        by_shard.setdefault(shard, []).append(chunk)
    while True:
        donor = max(range(shards), key=loads.__getitem__)
        if not by_shard.get(donor):
            break
        chunk = by_shard[donor][-1]
        if new_load + chunk_sizes[chunk] / 2 > target:
            break
        by_shard[donor].pop()
        loads[donor] -= chunk_sizes[chunk]
        new_load += chunk_sizes[chunk]
        moved += chunk_counts[chunk]
    documents = sum(chunk_counts) or 1
    return moved / documents


def _moved_by_modulo(sample: list[Mapping[str, Any]], key: list[tuple[str, Any]], shards: int) -> float:
    """MongoDB's hash of the key values, mod N against mod N+1: the share of documents whose shard changes."""
    if not sample:
        return 0.0
    moved = 0
    for document in sample:
        values = {name: _value(document, name) for name, _ in key}
        digest = hashed_value(values[key[0][0]] if len(key) == 1 else values)
        moved += digest % shards != digest % (shards + 1)
    return moved / len(sample)


def _query_shares(records: Sequence[Mapping[str, Any]], key: list[tuple[str, Any]]) -> dict[str, float]:
    shares = dict.fromkeys(KINDS, 0.0)
    for record in records:
        shares[classify(record["shape"], key, record.get("collation"))[0]] += 1 / len(records)
    return shares


def write_simulation_plot(report: SimulationReport, path: str | Path, *, force: bool = False) -> Path:
    """Data per shard for each candidate key of a simulation, as .svg or .html."""
    from ..reports.plot import bar_chart, write_svg_or_html

    rows = []
    for candidate in report.candidates:
        total = sum(candidate.bytes_per_shard) or 1
        label = ", ".join(f"{k}: {v}" for k, v in candidate.key.items())
        rows += [(label, f"shard{i}", candidate.chunks_per_shard[i] / max(sum(candidate.chunks_per_shard), 1), b / total)
                 for i, b in enumerate(candidate.bytes_per_shard)]
    return write_svg_or_html(bar_chart(rows), path, force=force)
