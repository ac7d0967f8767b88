"""What-if: how candidate shard keys would spread real data over N shards, before sharding anything.

One pass over a sample (in insertion order) keeps, per document, its BSON size
and its key values in compact columns (``columns``), never the document; every
candidate key is then computed from those:

* **what analyzeShardKey reports** (7.0+, live only; here offline, on every
  sampled document): cardinality, the most common values with their
  frequency, and monotonicity, the correlation between key order and
  insertion order, "monotonic" from |r| >= 0.7 as the server's
  ``calculateMonotonicity`` (analyze_shard_key_cmd_util.cpp) types it, "not
  monotonic" with r = 0 for a key led by a hashed field, "unknown" for a
  hashed field in a later position;
* **chunks and data per shard after balancing**, for a collection of
  ``data_bytes`` (the sample scaled to the real size): on 7.0+ (the default,
  8.0) as the server grows it, one chunk on the primary shard, then the 8.0
  balancer's rounds of one-chunk-size migrations until the shards are within
  3 x chunk size, merged as the AutoMerger merges them (``growth``); jumbo as
  the server defines it, one key value over 2 x chunk size.  With
  ``server_version`` before 7.0, the old autosplitter model: the documents in
  key order cut into chunks of at most ``chunk_bytes`` (an eighth of a shard's
  share by default), never inside one key value, and dealt to shards in
  contiguous runs of equal data;
* **hot inserts**: the share of the most recent inserts that land on the
  busiest shard (a monotonic key sends them all to the last chunk);
* **queries** (with an audit log): the share single-shard, multi-shard,
  scatter-gather or unknown under the key;
* **adding one shard**: the fraction of documents that change shard when
  chunk ranges are rebalanced (only the moved chunks) against naive
  ``hash mod N`` partitioning (almost everything moves);
* a one-line **verdict**.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any
from collections.abc import Callable, Iterable, Mapping, Sequence

import bson
import numpy as np
from bson import MaxKey, MinKey

from ..errors import brief
from ..units import size_text
from ..reports.audit import KINDS, classify
from ..routing.table import RoutingTable, key_pattern_problem
from ..routing.writes import check_server_version
from .columns import FieldColumn, HashedColumn, KeyRanks, SampleError, key_ranks
from .autosplitter import Layout, autosplit_layout, moved_by_chunks
from .growth import Growth, grow

__all__ = ["simulate", "grown_layout", "SimulationReport", "CandidateResult", "MONOTONIC_THRESHOLD"]

CHUNKS_PER_SHARD = 8  # pre-7.0 model's default chunk size: the data cut into this many chunks per shard
DEFAULT_CHUNK_BYTES = 128 * 1024 * 1024  # the server's default chunk size (config.settings chunksize, 128 MB)
NO_AUTOSPLITTER_SINCE = (7, 0)
# configureCollectionBalancing / the chunksize setting: "chunkSize must be between 1 and 1024 MB"
MIN_CHUNK_BYTES, MAX_CHUNK_BYTES = 1024**2, 1024**3
MAX_SHARDS = 1024
MAX_DATA_BYTES = 1024**5 * 64  # 64 PiB, past any collection
RECENT_SHARE = 0.10  # "recent inserts": the last tenth of the sample
MONOTONIC_THRESHOLD = 0.7  # analyzeShardKeyMonotonicityCorrelationCoefficientThreshold's default
MOST_COMMON = 5  # analyzeShardKeyNumMostCommonValues's default
PROGRESS_EVERY = 100_000
BATCH = 4096  # documents the columns read at a time


# BSONObjMaxUserSize: the largest document a collection holds.
MAX_BSON_SIZE = 16 * 1024 * 1024


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
    cardinality: int = 0  # distinct key values in the sample (analyzeShardKey's numDistinctValues)
    most_common: tuple[tuple[dict[str, Any], int], ...] = ()  # (key value, documents), most frequent first
    monotonicity: str = "unknown"  # "monotonic", "not monotonic" or "unknown", as analyzeShardKey types it
    correlation: float | None = None  # between key order and insertion order
    verdict: str = ""
    recent_inserts_per_shard: tuple[float, ...] = ()  # where the most recent tenth of the inserts land
    rounds: int | None = None  # balancer rounds until nothing moves (7.0+ model)
    converged: bool = True  # within growth.MAX_ROUNDS
    moved_bytes: int = 0  # what those rounds migrate


@dataclass(frozen=True)
class SimulationReport:
    documents: int
    shards: int
    chunk_bytes: int
    candidates: tuple[CandidateResult, ...]
    taken: str = ""  # when the simulation ran (UTC), for plots and reports
    data_bytes: int = 0  # the collection's size the sample stands for
    model: str = ""  # which server behaviour the chunks follow


class _Sample:
    """The sample as simulate keeps it: sizes and one column per distinct (field, hashed) of the keys."""

    def __init__(self, keys: Sequence[Mapping[str, Any]]) -> None:
        self.columns: dict[str, FieldColumn] = {}
        for key in keys:
            for name in key:
                self.columns.setdefault(name, FieldColumn(name))
        self.sizes = np.zeros(0, dtype=np.int32)

    def read(self, documents: Iterable[Mapping[str, Any]], report: Callable[[int], None] | None) -> int:
        from array import array

        sizes = array("i")  # a document is at most 16 MiB
        columns = list(self.columns.values())
        encode = bson.encode
        count = 0
        batch: list[Mapping[str, Any]] = []
        for count, document in enumerate(documents, 1):
            try:
                size = len(encode(document))
            except Exception as exc:  # InvalidDocument, OverflowError, UnicodeEncodeError, RecursionError, ...
                raise SampleError(f"sample document {count} cannot be stored in MongoDB ({type(exc).__name__}: "
                                  f"{brief(exc)})") from None
            if size > MAX_BSON_SIZE:  # the server's maxBsonObjectSize: no collection holds such a document
                raise SampleError(f"sample document {count} is {size:,} bytes, over the 16 MiB MongoDB stores "
                                  f"({MAX_BSON_SIZE:,}); fix or leave it out of the sample")
            sizes.append(size)
            batch.append(document)
            if len(batch) == BATCH:  # columns read a batch at a time: a tight loop per field, not a call per value
                for column in columns:
                    column.add_all(batch, count - BATCH)
                batch = []
            if report is not None and count % PROGRESS_EVERY == 0:
                report(count)
        for column in columns:
            column.add_all(batch, count - len(batch))
        self.sizes = np.frombuffer(sizes, dtype=np.int32) if count else np.zeros(0, dtype=np.int32)
        return count

    def ranks(self, key: Mapping[str, Any]) -> KeyRanks:
        return key_ranks([HashedColumn(self.columns[name]) if kind == "hashed" else self.columns[name]
                          for name, kind in key.items()])


def simulate(documents: Iterable[Mapping[str, Any]], keys: Sequence[Mapping[str, Any]], shards: int = 2, *,
             chunk_bytes: int | None = None, data_bytes: int | None = None, server_version: tuple[int, int] = (8, 0),
             audit_records: Sequence[Mapping[str, Any]] = (),
             progress: Callable[[int], None] | None = None) -> SimulationReport:
    """Simulate every candidate key on the same documents (given in insertion order), read once.

    ``data_bytes`` is the real collection's size when the sample is a part of it (default: the sample's own size);
    ``chunk_bytes`` the chunk size (default 128 MB, the server's).  ``progress`` is called with the number of
    documents read so far, every 100,000.
    """
    if not isinstance(shards, int) or isinstance(shards, bool) or not 1 <= shards <= MAX_SHARDS:
        raise SampleError(f"simulate needs a whole number of shards from 1 to {MAX_SHARDS}, not {shards!r:.40}")
    for name, value in (("chunk_bytes", chunk_bytes), ("data_bytes", data_bytes)):
        if value is not None and (not isinstance(value, (int, np.integer)) or isinstance(value, bool)
                                  or not 1 <= value <= MAX_DATA_BYTES):
            raise SampleError(f"{name} must be a whole number of bytes from 1 to {MAX_DATA_BYTES:,}, not {value!r:.40}")
    check_server_version(server_version)
    if isinstance(keys, (str, bytes, Mapping)) or not isinstance(keys, Sequence) or not keys:
        raise SampleError("simulate needs a list of candidate keys such as [{'user_id': 1}, {'user_id': 'hashed'}]")
    for key in keys:
        problem = key_pattern_problem(list(key.items())) if isinstance(key, Mapping) else "is not a document"
        if problem:
            raise SampleError(f"the candidate key {key!r:.60} {problem}" if not isinstance(key, Mapping) or not key
                              else f"the candidate key {key!r:.60}: {problem}")
    if isinstance(documents, (str, bytes, Mapping)) or not isinstance(documents, Iterable):
        raise SampleError("simulate needs the documents as an iterable of dicts (a list, a generator, a cursor)")
    if not all(isinstance(record, Mapping) and "shape" in record for record in audit_records):
        raise SampleError("audit_records are the records capture or read_log gives, each with its 'shape'")
    sample = _Sample(keys)
    count = sample.read(documents, progress)
    total = int(sample.sizes.sum())
    balancer = tuple(server_version[:2]) >= NO_AUTOSPLITTER_SINCE
    if balancer:
        limit = chunk_bytes or DEFAULT_CHUNK_BYTES
        model = (f"{server_version[0]}.{server_version[1]}: one chunk on the primary shard, then the balancer's "
                 "migrations (no autosplitter since 7.0) and the AutoMerger")
    else:
        limit = chunk_bytes or max(1, total // (shards * CHUNKS_PER_SHARD))
        model = "pre-7.0: the autosplitter cuts chunks of the chunk size, dealt to shards in even runs"
    scale = (data_bytes or total) / total if total else 1.0
    candidates = tuple(_candidate(sample, dict(key), shards, limit, audit_records, scale, balancer) for key in keys)
    taken = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return SimulationReport(count, shards, limit, candidates, taken, int(data_bytes or total), model)


def grown_layout(documents: Iterable[Mapping[str, Any]], key: Mapping[str, Any], namespace: str, shards: int = 2, *,
                 chunk_bytes: int | None = None) -> RoutingTable:
    """The routing table of a collection grown to this sample and balanced over ``shards`` (the simulation's chunks),
    where a new ranged collection has one chunk and so tells nothing about targeting."""
    sample = _Sample([key])
    sample.read(documents, None)
    keyed = sample.ranks(key)
    layout = autosplit_layout(keyed, sample.sizes, shards,
                              chunk_bytes or max(1, int(sample.sizes.sum()) // (shards * CHUNKS_PER_SHARD)))
    names = list(key)
    starts = [dict(zip(names, keyed.value(int(rank)))) for rank in layout.first_ranks[1:]]
    bounds = [{name: MinKey() for name in key}, *starts, {name: MaxKey() for name in key}]
    owners = layout.owner or [0]
    return RoutingTable(namespace, dict(key), [{"min": low, "max": high, "shard": f"shard{owners[chunk]}"}
                                               for chunk, (low, high) in enumerate(zip(bounds, bounds[1:]))])


def _candidate(sample: _Sample, key: dict[str, Any], shards: int, limit: int,
               audit_records: Sequence[Mapping[str, Any]], scale: float, balancer: bool) -> CandidateResult:
    keyed = sample.ranks(key)
    growth: Growth | None = None
    if balancer:
        value_bytes = np.bincount(keyed.ranks, weights=sample.sizes, minlength=keyed.cardinality) * scale
        growth = grow(value_bytes, shards, limit)
        layout = _grown(keyed, value_bytes, growth, shards)
        added = grow(value_bytes, shards + 1, limit, after=growth)
        moved_share = added.moved_bytes / max(float(value_bytes.sum()), 1.0)
    else:
        layout = autosplit_layout(keyed, sample.sizes, shards, limit)
        moved_share = moved_by_chunks(layout.owner, layout.chunk_sizes, layout.chunk_counts, shards)
    per_shard_bytes, per_shard_docs, per_shard_chunks = [0] * shards, [0] * shards, [0] * shards
    for chunk, shard in enumerate(layout.owner):
        per_shard_bytes[shard] += layout.chunk_sizes[chunk]
        per_shard_docs[shard] += layout.chunk_counts[chunk]
        per_shard_chunks[shard] += 1
    total = sum(per_shard_bytes) or 1
    monotonicity, correlation = _monotonicity(keyed, key)
    recent = _recent_inserts(keyed.ranks, layout, shards)
    queries = _query_shares(audit_records, list(key.items())) if audit_records else None
    result = CandidateResult(
        key, tuple(per_shard_chunks), tuple(per_shard_docs), tuple(per_shard_bytes),
        max(per_shard_bytes) / total, layout.jumbo, max(recent, default=0.0),
        moved_share, _moved_by_modulo(keyed.ranks, shards), queries,
        keyed.cardinality, _most_common(sample, keyed, key), monotonicity, correlation, "", recent,
        growth.rounds if growth else None, growth.converged if growth else True, growth.moved_bytes if growth else 0,
    )
    return _with_verdict(result, shards, limit if balancer else None)


def _grown(keyed: KeyRanks, value_bytes: np.ndarray, growth: Growth, shards: int) -> Layout:
    """The balancer's layout in the shape the figures read."""
    if not len(growth.starts):
        return Layout(np.zeros(0, dtype=np.int64), growth.starts, [], [], 0, [])
    chunk_of_rank = np.searchsorted(growth.starts, np.arange(keyed.cardinality), side="right") - 1
    sizes = [int(round(v)) for v in np.add.reduceat(value_bytes, growth.starts)]
    counts = [int(v) for v in np.add.reduceat(np.bincount(keyed.ranks, minlength=keyed.cardinality), growth.starts)]
    return Layout(chunk_of_rank, growth.starts, sizes, counts, sum(growth.jumbo), growth.owner)


def _most_common(sample: _Sample, keyed: KeyRanks, key: dict[str, Any]) -> tuple[tuple[dict[str, Any], int], ...]:
    """The most frequent key values, by their values (hashed fields too), with the number of documents."""
    if not keyed.cardinality:
        return ()
    counts = np.bincount(keyed.ranks)
    top = np.argsort(-counts, kind="stable")[:MOST_COMMON]
    return tuple(({name: sample.columns[name].value_at(int(keyed.firsts[rank])) for name in key}, int(counts[rank]))
                 for rank in top)


def _monotonicity(keyed: KeyRanks, key: dict[str, Any]) -> tuple[str, float | None]:
    """analyzeShardKey's calculateMonotonicity: Pearson's r between position in key order (ties in insertion order, as
    an index orders equal keys by record id) and insertion order; a hashed first field is "not monotonic" (0), a
    hashed later field "unknown", a single value "not monotonic" (0)."""
    kinds = list(key.values())
    if kinds[0] == "hashed":
        return "not monotonic", 0.0
    if "hashed" in kinds:
        return "unknown", None
    if keyed.cardinality <= 1:
        return "not monotonic", 0.0
    correlation = _permutation_correlation(np.argsort(keyed.ranks, kind="stable"))
    return ("monotonic" if abs(correlation) >= MONOTONIC_THRESHOLD else "not monotonic"), round(correlation, 4)


def _permutation_correlation(insertion_in_key_order: np.ndarray) -> float:
    """Pearson's r between positions 0..n-1 and a permutation of them, without float copies of either: both have the
    same mean (n-1)/2 and variance (n^2-1)/12, so r = (sum(i * y_i)/n - mean^2) / variance."""
    n = len(insertion_in_key_order)
    if n < 2:
        return 0.0
    total = 0.0
    for start in range(0, n, 1 << 20):  # blocks: small temporaries
        block = insertion_in_key_order[start:start + (1 << 20)].astype(np.float64)  # int64 would overflow at 10M
        total += float(np.dot(np.arange(start, start + len(block), dtype=np.float64), block))
    mean = (n - 1) / 2
    return (total / n - mean * mean) / ((n * n - 1) / 12)


def _with_verdict(result: CandidateResult, shards: int, chunk_bytes: int | None) -> CandidateResult:
    """One line a person can act on: the worst problem first, else what makes the key good.  ``chunk_bytes`` is given
    for the 7.0+ model, where a collection below the balancer's threshold stays on its primary shard, whatever the key."""
    from dataclasses import replace

    even = 1 / shards
    data = sum(result.bytes_per_shard)
    if result.jumbo_chunks:
        verdict = (f"avoid: {result.jumbo_chunks} value(s) bigger than a chunk make jumbo chunks, which cannot split or "
                   f"move ({result.cardinality:,} distinct values)")
    elif chunk_bytes is not None and shards > 1 and not result.rounds:
        verdict = (f"no movement yet: {size_text(data)} stays in one chunk on the primary shard until a shard holds "
                   f"{size_text(3 * chunk_bytes)} (3 x chunk size) more than another; judge the key on the expected size "
                   "(--data-size)")
    elif result.cardinality < shards * (1 if chunk_bytes is not None else CHUNKS_PER_SHARD):
        verdict = f"avoid: {result.cardinality:,} distinct values cannot make enough chunks to balance {shards} shards"
    elif result.monotonicity == "monotonic" or shards > 1 and result.hot_insert_share >= 0.9:
        why = f" (monotonic, r = {result.correlation:.2f})" if result.monotonicity == "monotonic" else ""
        if result.hot_insert_share >= 0.9 or result.monotonicity != "monotonic":
            verdict = f"avoid for insert-heavy data: {result.hot_insert_share:.0%} of recent inserts land on one shard{why}"
        else:  # the sample's recent tenth is spread (many shards), but what comes next sorts after all of it
            verdict = f"avoid for insert-heavy data: new inserts sort after every stored key, into one chunk on one shard{why}"
    elif result.largest_share > even * 1.25:
        verdict = f"uneven: the largest shard holds {result.largest_share:.0%} of the data (even share {even:.0%})"
    else:
        targeted = ""
        if result.queries is not None:
            targeted = f"; {result.queries['single-shard'] + result.queries['multi-shard']:.0%} of audited queries targeted"
        verdict = (f"good: the largest shard holds {result.largest_share:.0%} (even share {even:.0%}), recent inserts "
                   f"spread ({result.hot_insert_share:.0%} on the busiest shard){targeted}")
    return replace(result, verdict=verdict)


def _recent_inserts(ranks: np.ndarray, layout: Layout, shards: int) -> tuple[float, ...]:
    """The share of the most recent inserts (the last tenth of the sample) that each shard takes."""
    if not len(ranks):
        return (0.0,) * shards
    recent = layout.chunk_of_rank[ranks[len(ranks) - max(1, int(len(ranks) * RECENT_SHARE)):]]
    counts = np.bincount(np.asarray(layout.owner, dtype=np.int64)[recent], minlength=shards)
    return tuple(float(count / len(recent)) for count in counts)


def _moved_by_modulo(ranks: np.ndarray, shards: int) -> float:
    """Naive partitioning by a hash of the key value mod N against mod N+1: the share of documents whose shard changes.
    Any uniform hash gives the same share; splitmix64 of the value's rank is used, equal values hashing equally."""
    if not len(ranks):
        return 0.0
    mixed = ranks.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    mixed = (mixed ^ (mixed >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    mixed = (mixed ^ (mixed >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    mixed = mixed ^ (mixed >> np.uint64(31))
    return float(np.mean((mixed % np.uint64(shards)) != (mixed % np.uint64(shards + 1))))


def _query_shares(records: Sequence[Mapping[str, Any]], key: list[tuple[str, Any]]) -> dict[str, float]:
    shares = dict.fromkeys(KINDS, 0.0)
    for record in records:
        shares[classify(record["shape"], key, record.get("collation"))[0]] += 1 / len(records)
    return shares
