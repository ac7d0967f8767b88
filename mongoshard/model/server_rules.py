"""What the server refuses in a shard key declaration, refused when the class is defined instead of at apply time.

Each rule names the server code that enforces it.  A declaration that passes
here is one ``apply`` can send as it is; the tests generate declarations over
the whole space the declaration API accepts and check that the real server
refuses nothing that passed (and report what was refused here that it would
have taken).
"""

from __future__ import annotations

from typing import Any
from collections.abc import Mapping, Sequence

from bson import Int64, MaxKey, MinKey

from ..errors import DeclarationError
from ..routing.ordering import sort_key

__all__ = ["check_declaration", "MAX_INITIAL_CHUNKS"]

HASHED = "hashed"
# create_collection_coordinator.cpp: numInitialChunks "cannot be more than either: 8192 * number of shards; or 1000000".
MAX_INITIAL_CHUNKS = 1_000_000

Key = Sequence[tuple[str, Any]]


def check_declaration(model: str, key: Key, *, unique: bool, initial_chunks: int | None,
                      split_points: Sequence[Mapping[str, Any]], zones: Sequence[Any]) -> None:
    """Raise DeclarationError, one sentence naming the model, the field and the fix, for what the server refuses."""
    fields = [name for name, _ in key]
    hashed = next((name for name, kind in key if kind == HASHED), None)
    hashed_first = hashed is not None and fields[0] == hashed
    if unique and hashed:
        # create_collection_coordinator.cpp checkCommandArguments: "Hashed shard keys cannot be declared unique."
        raise DeclarationError(f"Model {model}: a hashed shard key cannot be unique (MongoDB refuses it); "
                               "drop shard_unique or shard on a ranged key")
    if initial_chunks is not None:
        _check_chunk_count(model, initial_chunks, hashed, hashed_first, zones)
    if split_points:
        _check_split_points(model, key, fields, hashed, hashed_first, split_points, zones)
    if zones:
        _check_zones(model, key, fields, hashed, zones)
        if initial_chunks is not None:
            _check_presplit_hashed_zones(model, key, fields, hashed, hashed_first, zones)


def _check_chunk_count(model: str, count: int, hashed: str | None, hashed_first: bool, zones: Sequence[Any]) -> None:
    if count > MAX_INITIAL_CHUNKS:
        raise DeclarationError(f"Model {model}: presplit={count} is more initial chunks than MongoDB creates "
                               f"({MAX_INITIAL_CHUNKS:,} at most); give a smaller count")
    if hashed and not hashed_first and not zones:
        # initial_split_policy.cpp calculateOptimizationStrategy (6.0): InvalidOptions "When the prefix of the hashed
        # shard key is a range field, 'numInitialChunks' can only be used when the 'presplitHashedZones' is true".
        raise DeclarationError(f"Model {model}: presplit={count} needs the hashed field '{hashed}' first in the key "
                               "(MongoDB refuses a chunk count behind a ranged prefix unless zones pre-split it); "
                               "put it first, declare zones for the prefix, or drop presplit")


def _check_split_points(model: str, key: Key, fields: list[str], hashed: str | None, hashed_first: bool,
                        points: Sequence[Mapping[str, Any]], zones: Sequence[Any]) -> None:
    if zones:
        # initial_split_policy.cpp lays out a new collection from split points or from zones, never both ("Cannot have
        # both initial split points and tags set"); apply follows it, so it could not honour the split points.
        raise DeclarationError(f"Model {model}: split points and zones cannot both be declared: the zones lay out the "
                               "initial chunks (MongoDB's initial split takes one or the other); drop presplit")
    if hashed_first:
        # A hashed collection starts from the server's own hashed split points, so moveChunk bounds at raw
        # values match no chunk (cluster_move_chunk_cmd.cpp, uassert 656452), and a split of a hashed field
        # at a value that is not a NumberLong is refused (split_chunk.cpp, CannotSplit).
        raise DeclarationError(f"Model {model}: split points on the hashed field '{hashed}' never match the chunks "
                               f"MongoDB creates for it; give a number of initial chunks instead, e.g. presplit=8")
    seen = set()
    for point in points:
        label = f"split point {_text(point)}"
        _check_prefix(model, fields, point, label)
        if hashed is not None and hashed in point and not isinstance(point[hashed], (Int64, MinKey, MaxKey)):
            # split_chunk.cpp: a split key's hashed field must be a NumberLong, MinKey or MaxKey (CannotSplit).
            raise DeclarationError(f"Model {model}: {label} gives the hashed field '{hashed}' the value {point[hashed]!r}; "
                                   "leave it out (a split point fills it with MinKey) or give a hashed value, Int64(...)")
        full = _full(fields, point)
        edges = [all(isinstance(value, edge) for value in full.values()) for edge in (MinKey, MaxKey)]
        if any(edges):
            # cluster_split_cmd.cpp: "new split key ... is a boundary key of existing chunk".
            where = "starts" if edges[0] else "ends"
            raise DeclarationError(f"Model {model}: {label} is where every collection already {where}; drop it")
        position = _position(fields, full)
        if position in seen:
            raise DeclarationError(f"Model {model}: {label} is declared twice; list each split point once")
        seen.add(position)


def _check_zones(model: str, key: Key, fields: list[str], hashed: str | None, zones: Sequence[Any]) -> None:
    ranges = []
    for zone in zones:
        label = f"zone '{zone.name}'"
        for bound in (zone.min, zone.max):
            _check_prefix(model, fields, bound, label)
            value = bound.get(hashed) if hashed else None
            if hashed in bound and not isinstance(value, (Int64, MinKey, MaxKey)):
                # create_collection_coordinator.cpp validateShardKeyAgainstExistingZones and the config server's
                # checkHashedShardKeyRange: a hashed field's zone bounds must be NumberLong, MinKey or MaxKey.
                raise DeclarationError(f"Model {model}: {label} bounds the hashed field '{hashed}' with {value!r}; a zone "
                                       f"on a hashed field is a range of hashed values: give Int64 values (e.g. "
                                       f"Int64(hashed_value(x)) for the hash of x), MinKey or MaxKey")
        low, high = _position(fields, _full(fields, zone.min)), _position(fields, _full(fields, zone.max))
        if low >= high:
            raise DeclarationError(f"Model {model}: {label} has min {_text(zone.min)} not below max {_text(zone.max)}; "
                                   "a zone is the range [min, max)")
        if not zone.shards:
            # initial_split_policy.cpp createFirstChunks, uassert 50973: a zone that is not assigned to a shard.
            raise DeclarationError(f"Model {model}: {label} names no shard; list the shards that hold it, "
                                   "e.g. shards=('shard0',)")
        ranges.append((low, high, zone.name))
    ranges.sort()
    for (_, previous_high, previous), (low, _, name) in zip(ranges, ranges[1:]):
        if low < previous_high:
            # The config server refuses overlapping zone ranges (checkForOverlappingZonedKeyRange, RangeOverlapConflict).
            raise DeclarationError(f"Model {model}: zones '{previous}' and '{name}' overlap; a key range belongs to one zone")


def _check_presplit_hashed_zones(model: str, key: Key, fields: list[str], hashed: str | None, hashed_first: bool,
                                 zones: Sequence[Any]) -> None:
    """A count beside zones is sent as presplitHashedZones; PresplitHashedZonesSplitPolicy::_validate's rules."""
    if not hashed:
        return  # a count on a ranged key is refused with the key itself
    if hashed_first:
        whole = len(zones) == 1 and all(isinstance(v, MinKey) for v in _full(fields, zones[0].min).values()) \
            and all(isinstance(v, MaxKey) for v in _full(fields, zones[0].max).values())
        if not whole:
            raise DeclarationError(f"Model {model}: a chunk count with zones on a hashed-prefix key needs exactly one zone "
                                   "from MinKey to MaxKey in every key field (MongoDB error 31412); drop presplit or the "
                                   "other zones")
        return
    prefix = fields[: fields.index(hashed)]
    for zone in zones:
        label = f"zone '{zone.name}'"
        low, high = _full(fields, zone.min), _full(fields, zone.max)
        if any(isinstance(low[name], (MinKey, MaxKey)) for name in prefix):
            raise DeclarationError(f"Model {model}: {label} needs a value for every field before the hashed field in its "
                                   "min to be pre-split with a chunk count (MongoDB error 31388)")
        if all(sort_key(low[name]) == sort_key(high[name]) for name in prefix):
            raise DeclarationError(f"Model {model}: {label} must differ from min to max in a field before the hashed one "
                                   "to be pre-split with a chunk count (MongoDB error 31390)")
        if any(not isinstance(low[name], MinKey) for name in fields[len(prefix):]):
            raise DeclarationError(f"Model {model}: {label}'s min must leave the hashed field and every later field out "
                                   "(MinKey) to be pre-split with a chunk count (MongoDB errors 31389, 31391)")


def _check_prefix(model: str, fields: list[str], bound: Mapping[str, Any], label: str) -> None:
    named = [name for name in fields if name in bound]
    if named != fields[: len(named)]:
        raise DeclarationError(f"Model {model}: {label} names {named} but must name a prefix of the key {fields} "
                               "(the first fields, in order); missing later fields mean MinKey")
    for name in named:
        if isinstance(bound[name], (list, tuple)):
            raise DeclarationError(f"Model {model}: {label} gives an array for '{name}'; shard key values cannot be arrays")


def _full(fields: list[str], bound: Mapping[str, Any]) -> dict[str, Any]:
    """A bound with every key field, as apply sends it: missing trailing fields are MinKey."""
    return {name: bound.get(name, MinKey()) for name in fields}


def _position(fields: list[str], full: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(sort_key(full[name]) for name in fields)


def _text(bound: Mapping[str, Any]) -> str:
    return "{" + ", ".join(f"{name}: {value!r}" for name, value in bound.items()) + "}"
