"""balancerCollectionStatus of a live collection without reading its chunks: counted and looked up on the server.

The verdict of ``balance`` is one balancer round for each collection alone (``routing.balancer.collection_status``).
That round needs each shard's chunk count per zone, the first movable chunk of a donor's zone, and whether a chunk
straddles a zone bound, not every chunk: the config server counts chunks per (shard, zone) in one aggregation, a
cursor reads a donor's chunks of a zone in key order only when the round asks, and each zone bound is one index
lookup.  A million chunk documents never reach the client (reading them costs seconds; benchmarks/balance.py).

The server compares the bounds: chunk and zone bounds are documents of the shard key's fields in key order (the server
writes them so, and zone bounds are extended with MinKey here as ``extendRangeBound`` does), and BSON compares such
documents field by field, canonical type first, which is the order of the key (``Document::compare``,
``BSONObj::woCompare``).  The tests hold this path to the one over every chunk, on a real mongod.
"""

from __future__ import annotations

from typing import Any
from collections.abc import Callable, Iterator, Mapping, Sequence

from bson import MinKey

from ..routing.balancer import ChunkState, CollectionState, ShardState, collection_status
from ..routing.balancing_state import NO_ZONE, ChunkDigest, bound_position
from ..routing.splitting import ZoneRange

__all__ = ["digest_status", "PAGE"]

PAGE = 16  # chunks a donor's cursor reads at a time: the first movable one is nearly always the first
_PROJECTION = {"min": 1, "max": 1, "shard": 1, "jumbo": 1, "_id": 0}


def digest_status(chunks: Any, read: Callable[..., Any], shards: Sequence[ShardState],
                  collection: CollectionState, selector: Mapping[str, Any], per_shard: Mapping[str, int] | None = None) -> str:
    """The status of ``collection`` (its ``chunks`` left empty) from config.chunks (``chunks``, a pymongo collection)
    documents matching ``selector``; ``read(call, *arguments)`` makes each server call (translating its errors).
    ``per_shard``: the chunk counts already read, which are the counts per zone of a collection without zones."""
    key = list(collection.key)
    zone_of_chunk = _zone_expression(collection.zones, key)
    if per_shard is not None and not collection.zones:
        counts = {(shard, NO_ZONE): count for shard, count in per_shard.items()}
    else:
        counts = {(row["_id"]["shard"], row["_id"]["zone"]): row["chunks"] for row in read(lambda: list(chunks.aggregate([
            {"$match": dict(selector)},
            {"$group": {"_id": {"shard": "$shard", "zone": zone_of_chunk}, "chunks": {"$sum": 1}}}])))}

    def read_chunks(shard: str, zone: str) -> Iterator[ChunkState]:
        query: dict[str, Any] = {**selector, "shard": shard, "$expr": {"$eq": [zone_of_chunk, zone]}}
        while True:
            page = read(lambda: list(chunks.find(query, _PROJECTION).sort("min", 1).limit(PAGE)))
            yield from (ChunkState(c["min"], c["max"], c["shard"], bool(c.get("jumbo"))) for c in page)
            if len(page) < PAGE:
                return
            query["min"] = {"$gt": page[-1]["min"]}

    return collection_status(shards, collection, ChunkDigest(counts, read_chunks),
                             straddles=_straddles(chunks, read, collection.zones, key, selector))


def _full(bound: Mapping[str, Any], key: Sequence[str]) -> dict[str, Any]:
    return {name: bound.get(name, MinKey()) for name in key}


def _zone_expression(zones: Sequence[ZoneRange], key: Sequence[str]) -> Any:
    """An aggregation expression naming the zone that holds a chunk whole (ZoneInfo::getZoneForRange), else none."""
    if not zones:
        return {"$literal": NO_ZONE}
    return {"$switch": {"branches": [
        {"case": {"$and": [{"$gte": ["$min", {"$literal": _full(zone.min, key)}]},
                           {"$lte": ["$max", {"$literal": _full(zone.max, key)}]}]}, "then": {"$literal": zone.name}}
        for zone in zones], "default": {"$literal": NO_ZONE}}}


def _straddles(chunks: Any, read: Callable[..., Any], zones: Sequence[ZoneRange], key: Sequence[str],
               selector: Mapping[str, Any]) -> bool:
    """Whether a zone bound falls strictly inside a chunk (selectChunksToSplit): the chunk before each bound ends
    after it."""
    for bound in {repr(b): b for zone in zones for b in (_full(zone.min, key), _full(zone.max, key))}.values():
        before = read(chunks.find_one, {**selector, "min": {"$lt": bound}}, {"max": 1}, sort=[("min", -1)])
        if before is not None and bound_position(before["max"], key) > bound_position(bound, key):
            return True
    return False
