"""Index bounds of a query filter on a shard key pattern, as the router computes them.

The router targets a query by planning it against the shard key as if it were
the only index (``ChunkManager::getIndexBoundsForQuery``), then flattening the
per-field bounds into key ranges.  This module does the first half: for each
shard key field, the ordered list of intervals the filter allows.

The rules follow the server's ``IndexBoundsBuilder`` (checked against a real
mongod's ``explain`` index bounds in the tests):

* equality and ``$in`` give points; ``null`` also matches ``undefined``;
* ranges are bracketed by type: ``{$gt: 5}`` is ``(5, inf]``, ``{$lt: "m"}``
  is ``["", "m")``;
* ``$ne``, ``$nin`` and ``$not`` give the complement of their operand;
* a hashed field is bounded only by equality and ``$in`` (each value hashed);
  any range on it spans every value;
* ``$or`` is indexable only when every branch bounds the leading key field;
  its bounds are then the per-field union of its branches
  (``collapseQuerySolution``), and anything unindexable spans everything.

Where the server's planner may choose between two equally valid index plans
(an ``$or`` beside a predicate on the same field), we intersect both, which is
what its OR-pushdown produces and never drops a shard that holds matches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from bson import Int64, MaxKey, MinKey, Regex

from .filters import type_names
from .hashing import UnhashableValueError, hashed_value
from .ordering import MAX_KEY, MIN_KEY, NULL, UNDEFINED, SortKey, canonical_type, sort_key, type_bracket

__all__ = ["Interval", "FieldBounds", "QueryBounds", "bounds_for_filter", "HASHED"]

HASHED = "hashed"

# Operators that never constrain an index, so a query using only them on the
# key is broadcast.  Listed to name them in the targeting reason.
UNTARGETABLE_TOP_LEVEL = {"$where", "$expr", "$text", "$nor", "$jsonSchema", "$sampleRate"}


@dataclass(frozen=True, order=True)
class Interval:
    """One interval of shard key values for one field, in BSON order."""

    low: SortKey
    high: SortKey
    low_inclusive: bool = True
    high_inclusive: bool = True

    @property
    def is_point(self) -> bool:
        return self.low == self.high and self.low_inclusive and self.high_inclusive

    def is_empty(self) -> bool:
        if self.low > self.high:
            return True
        return self.low == self.high and not (self.low_inclusive and self.high_inclusive)


FieldBounds = list[Interval]
ALL_VALUES: FieldBounds = [Interval(MIN_KEY, MAX_KEY)]


@dataclass
class QueryBounds:
    """Per-field bounds of a filter on a key pattern, and why any field is unbounded."""

    fields: list[FieldBounds]
    notes: list[str] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        """No document can match: the router still sends such a query to one shard."""
        return any(not intervals for intervals in self.fields)


def point(key: SortKey) -> Interval:
    return Interval(key, key)


def unionize(intervals: Iterable[Interval]) -> FieldBounds:
    """Sort and merge overlapping or touching intervals (IndexBoundsBuilder::unionize)."""
    merged: FieldBounds = []
    for current in sorted(i for i in intervals if not i.is_empty()):
        if merged and _touches(merged[-1], current):
            last = merged[-1]
            if (current.high, current.high_inclusive) > (last.high, last.high_inclusive):
                merged[-1] = Interval(last.low, current.high, last.low_inclusive, current.high_inclusive)
        else:
            merged.append(current)
    return merged


def _touches(left: Interval, right: Interval) -> bool:
    if right.low < left.high:
        return True
    return right.low == left.high and (left.high_inclusive or right.low_inclusive)


def intersect(left: FieldBounds, right: FieldBounds) -> FieldBounds:
    result = []
    for a in left:
        for b in right:
            low, low_inclusive = max((a.low, not a.low_inclusive), (b.low, not b.low_inclusive))
            high, high_inclusive = min((a.high, a.high_inclusive), (b.high, b.high_inclusive))
            candidate = Interval(low, high, not low_inclusive, high_inclusive)
            if not candidate.is_empty():
                result.append(candidate)
    return unionize(result)


def complement(intervals: FieldBounds) -> FieldBounds:
    """Everything in [MinKey, MaxKey] outside ``intervals``."""
    result = []
    low, low_inclusive = MIN_KEY, True
    for interval in unionize(intervals):
        result.append(Interval(low, interval.low, low_inclusive, not interval.low_inclusive))
        low, low_inclusive = interval.high, not interval.high_inclusive
    result.append(Interval(low, MAX_KEY, low_inclusive, True))
    return unionize(result)


def bounds_for_filter(query: Mapping[str, Any], key_pattern: Sequence[tuple[str, Any]]) -> QueryBounds:
    """Per-field bounds of ``query`` on ``key_pattern`` (field, 1 or "hashed") pairs."""
    if not isinstance(query, Mapping):
        raise TypeError("a query filter must be a document (a JSON object)")
    planner = _Planner(key_pattern)
    return QueryBounds(planner.and_node(query), planner.notes)


class _Planner:
    def __init__(self, key_pattern: Sequence[tuple[str, Any]]) -> None:
        self.fields = [name for name, _ in key_pattern]
        self.hashed = {name for name, kind in key_pattern if kind == HASHED}
        self.notes: list[str] = []

    def and_node(self, query: Mapping[str, Any]) -> list[FieldBounds]:
        bounds = [list(ALL_VALUES) for _ in self.fields]
        for name, condition in query.items():
            if name == "$and":
                children = [self.and_node(child) for child in condition]
            elif name == "$or":
                children = [self.or_node(condition)]
            elif name.startswith("$"):
                if name in UNTARGETABLE_TOP_LEVEL:
                    self.notes.append(f"{name} cannot be used to target shards")
                continue
            elif name in self.fields:
                index = self.fields.index(name)
                bounds[index] = intersect(bounds[index], self.field_bounds(name, condition))
                continue
            else:
                continue
            for child in children:
                bounds = [intersect(mine, theirs) for mine, theirs in zip(bounds, child)]
        return bounds

    def or_node(self, branches: Sequence[Mapping[str, Any]]) -> list[FieldBounds]:
        collected = [self.and_node(branch) for branch in branches]
        leading = self.fields[0]
        if not collected or any(not _mentions(branch, leading) for branch in branches):
            self.notes.append(f"a $or branch has no condition on the leading key field '{leading}'")
            return [list(ALL_VALUES) for _ in self.fields]
        return [unionize(i for branch in collected for i in branch[index]) for index in range(len(self.fields))]

    def field_bounds(self, name: str, condition: Any) -> FieldBounds:
        if name in self.hashed:
            return self.hashed_bounds(name, condition)
        if _is_operator_document(condition):
            return self.operator_bounds(name, condition)
        return equality(condition)

    def hashed_bounds(self, name: str, condition: Any) -> FieldBounds:
        """Only exact values can be hashed; the server spans everything otherwise."""
        if _is_operator_document(condition):
            values = _exact_values(condition)
            if values is None:
                self.notes.append(f"'{name}' is hashed: only equality and $in on it can be targeted")
                return list(ALL_VALUES)
        else:
            values = [condition]
        if any(_is_regex(value) for value in values):
            self.notes.append(f"'{name}' is hashed: a regular expression on it cannot be targeted")
            return list(ALL_VALUES)
        try:
            return unionize(point(key) for value in values for key in _hashed_points(value))
        except UnhashableValueError:
            self.notes.append(f"a value given for hashed field '{name}' cannot be hashed")
            return list(ALL_VALUES)

    def operator_bounds(self, name: str, operators: Mapping[str, Any]) -> FieldBounds:
        bounds = list(ALL_VALUES)
        for operator, operand in operators.items():
            if operator == "$options":
                continue
            if operator == "$regex":
                pattern = operand.pattern if isinstance(operand, Regex) else operand
                operand = Regex(pattern, operators.get("$options", "")) if "$options" in operators else (
                    operand if isinstance(operand, Regex) else Regex(operand))
            builder = _OPERATOR_BOUNDS.get(operator)
            if builder is None:
                self.notes.append(f"{operator} on '{name}' cannot be used to target shards")
                continue
            bounds = intersect(bounds, builder(operand))
        return bounds


def _mentions(branch: Mapping[str, Any], field_name: str) -> bool:
    """Whether a $or branch bounds ``field_name``, which makes it indexable on the key."""
    if field_name in branch:
        return True
    if any(_mentions(child, field_name) for child in branch.get("$and", ())):
        return True
    nested_or = branch.get("$or")
    return bool(nested_or) and all(_mentions(child, field_name) for child in nested_or)


def _is_operator_document(value: Any) -> bool:
    return isinstance(value, Mapping) and bool(value) and all(str(k).startswith("$") for k in value)


def _exact_values(operators: Mapping[str, Any]) -> list[Any] | None:
    """The values of a pure $eq / $in condition, or None when it has anything else."""
    if set(operators) == {"$eq"}:
        return [operators["$eq"]]
    if set(operators) == {"$in"} and not any(_is_regex(v) for v in operators["$in"]):
        return list(operators["$in"])
    return None


def _hashed_points(value: Any) -> list[SortKey]:
    if value is None:
        # {k: null} matches null and, before 8.0, undefined: both hashes are points.
        return [sort_key(Int64(_UNDEFINED_HASH)), sort_key(Int64(hashed_value(None)))]
    return [sort_key(Int64(hashed_value(value)))]


# hashed_value of BSON undefined (canonical type 0, no value bytes), which pymongo
# cannot encode; the server's own value, also seen in its explain bounds.
_UNDEFINED_HASH = 40158834000849533


def _is_regex(value: Any) -> bool:
    return isinstance(value, (Regex, re.Pattern))


def equality(value: Any) -> FieldBounds:
    """Bounds of ``{field: value}``."""
    if value is None:
        return [point(UNDEFINED), point(NULL)]
    if _is_regex(value):
        return regex_bounds(value)
    if isinstance(value, (list, tuple)):
        # An array literal matches the array itself or an array holding it as first element.
        first = sort_key(value[0]) if value else UNDEFINED
        return unionize([point(first), point(sort_key(list(value)))])
    return [point(sort_key(value))]


def _in_bounds(values: Sequence[Any]) -> FieldBounds:
    return unionize(i for value in values for i in equality(value))


def _range(*, upward: bool, inclusive: bool):
    """$gt/$gte (upward) or $lt/$lte: from the value to the end of its type's bracket."""

    def build(value: Any) -> FieldBounds:
        special = _special_range(value, upward=upward, inclusive=inclusive)
        if special is not None:
            return special
        key = sort_key(value)
        low, high = type_bracket(canonical_type(key))
        if upward:
            return [Interval(key, high, inclusive, canonical_type(high) == canonical_type(key))]
        return [Interval(low, key, True, inclusive)]

    return build


def _special_range(value: Any, *, upward: bool, inclusive: bool) -> FieldBounds | None:
    """MinKey, MaxKey, NaN and null ranges, which the type brackets do not describe."""
    if isinstance(value, (MinKey, MaxKey)):
        reaches_all = isinstance(value, MinKey) == upward
        if reaches_all:
            return list(ALL_VALUES)
        return [point(sort_key(value))] if inclusive else []
    if isinstance(value, float) and value != value:
        return [point(sort_key(value))] if inclusive else []
    if value is None:
        # Null is a type of its own: $gte/$lte null mean equality to null, $gt/$lt null match nothing.
        return equality(None) if inclusive else []
    if isinstance(value, (list, tuple)) or _is_regex(value):
        return list(ALL_VALUES)
    return None


def regex_bounds(value: Regex | re.Pattern) -> FieldBounds:
    """A prefix regex is a string range; any other scans every string."""
    regex = value if isinstance(value, Regex) else Regex.from_native(value)
    pattern, flags = regex.pattern, regex.flags if isinstance(regex.flags, str) else ""
    prefix = _literal_prefix(pattern) if "i" not in flags and "m" not in flags else ""
    regex_point = point(sort_key(regex))
    if not prefix:
        return unionize([Interval((15, ""), type_bracket(15)[1], True, False), regex_point])
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return unionize([Interval((15, prefix), (15, upper), True, False), regex_point])


_REGEX_SPECIAL = set(".[]()|*+?{}\\$^")


def _literal_prefix(pattern: str) -> str:
    for anchor in ("^", "\\A"):
        if pattern.startswith(anchor):
            body = pattern[len(anchor):]
            break
    else:
        return ""
    prefix = []
    for char in body:
        if char in _REGEX_SPECIAL:
            if char in "*?{" and prefix:
                prefix.pop()  # the quantifier makes the previous character optional
            break
        prefix.append(char)
    return "".join(prefix)


def _not_bounds(operand: Any) -> FieldBounds:
    """The complement of the operand's bounds, where those are exact; else every value."""
    if _is_regex(operand) or not _is_operator_document(operand) or "$regex" in operand:
        return list(ALL_VALUES)
    if any(_inexact(value) for value in operand.values()):
        return list(ALL_VALUES)
    inner = list(ALL_VALUES)
    for operator, value in operand.items():
        builder = _OPERATOR_BOUNDS.get(operator)
        if builder is None or operator in ("$not", "$exists", "$type"):
            return list(ALL_VALUES)
        inner = intersect(inner, builder(value))
    return complement(inner)


def _inexact(value: Any) -> bool:
    """Values whose bounds over-approximate their matches, so that their complement would drop matches."""
    if isinstance(value, (list, tuple)):
        return True
    return _is_regex(value) or isinstance(value, Mapping)


def _negation(values: Sequence[Any]) -> FieldBounds:
    if any(_inexact(v) for v in values):
        return list(ALL_VALUES)
    return complement(_in_bounds(values))


def _exists_bounds(operand: Any) -> FieldBounds:
    return list(ALL_VALUES) if operand else [point(NULL)]


_TYPE_ALIASES = {
    "double": 10, 1: 10, "int": 10, 16: 10, "long": 10, 18: 10, "decimal": 10, 19: 10, "number": 10,
    "string": 15, 2: 15, "object": 20, 3: 20, "binData": 30, 5: 30, "objectId": 35, 7: 35,
    "bool": 40, 8: 40, "date": 45, 9: 45, "null": 5, 10: 5, "timestamp": 47, 17: 47,
}


def _type_bounds(operand: Any) -> FieldBounds:
    canonical = [_TYPE_ALIASES.get(name) for name in type_names(operand)]
    if None in canonical:
        return list(ALL_VALUES)
    result = []
    for kind in canonical:
        low, high = type_bracket(kind)
        result.append(Interval(low, high, True, canonical_type(high) == kind))
    return unionize(result)


_OPERATOR_BOUNDS = {
    "$eq": equality,
    "$in": _in_bounds,
    "$gt": _range(upward=True, inclusive=False),
    "$gte": _range(upward=True, inclusive=True),
    "$lt": _range(upward=False, inclusive=False),
    "$lte": _range(upward=False, inclusive=True),
    "$ne": lambda value: _negation([value]),
    "$nin": _negation,
    "$not": _not_bounds,
    "$exists": _exists_bounds,
    "$type": _type_bounds,
    "$regex": regex_bounds,
}
