"""What one predicate on one shard key field allows: its index bounds (IndexBoundsBuilder::translate).

Each builder takes an operator's operand and returns the ordered intervals of
values it can match, as ``src/mongo/db/query/index_bounds_builder.cpp`` builds
them for a non-multikey index without a collation (the shard key as mongos
plans with it).  ``bounds.py`` combines them over a whole filter.
"""

from __future__ import annotations

import re
from typing import Any
from collections.abc import Callable, Mapping, Sequence

from bson import MaxKey, MinKey, Regex

from .filters import TYPE_ALIASES, is_elem_match_value, is_operator_document, type_names
from .intervals import ALL_VALUES, FieldBounds, Interval, complement, intersect, point, unionize
from .ordering import EMPTY_ARRAY, EMPTY_OBJECT, MAX_KEY, MIN_KEY, NULL, UNDEFINED, canonical_type, sort_key, type_bracket
from .regex import regex_bounds

__all__ = ["OPERATOR_BOUNDS", "equality", "is_regex", "usable_negation"]


def is_regex(value: Any) -> bool:
    return isinstance(value, (Regex, re.Pattern))


def equality(value: Any) -> FieldBounds:
    """Bounds of ``{field: value}``."""
    if value is None:
        return [point(UNDEFINED), point(NULL)]
    if is_regex(value):
        return regex_bounds(value)
    if isinstance(value, (list, tuple)):
        # An array literal matches the array itself or an array holding it as first element.
        first = sort_key(value[0]) if value else UNDEFINED
        return unionize([point(first), point(sort_key(list(value)))])
    return [point(sort_key(value))]


def _in_bounds(values: Sequence[Any]) -> FieldBounds:
    return unionize(i for value in values for i in equality(value))


def _all_bounds(values: Sequence[Any]) -> FieldBounds:
    """$all is an AND of equalities (and of $elemMatch): on a non-multikey key, their intersection."""
    bounds = list(ALL_VALUES)  # $all: [] matches nothing, but its bounds span everything (a real mongod's explain)
    for value in values:
        if isinstance(value, Mapping) and "$elemMatch" in value:
            bounds = intersect(bounds, _elem_match_value(value["$elemMatch"]))
        else:
            bounds = intersect(bounds, equality(value))
    return bounds


def _elem_match_value(operand: Any) -> FieldBounds:
    """The value form bounds the field by the intersection of its operators; the object form does not bound it."""
    if not isinstance(operand, Mapping) or not is_elem_match_value(operand):
        return list(ALL_VALUES)
    bounds = list(ALL_VALUES)
    for operator, value in operand.items():
        builder = OPERATOR_BOUNDS.get(operator)
        if builder is not None:
            bounds = intersect(bounds, builder(value))
    return bounds


def _range(*, upward: bool, inclusive: bool) -> Callable[[Any], FieldBounds]:
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
        # MinKey and MaxKey compare with every type: $gt MinKey is (MinKey, MaxKey], $lt MaxKey is [MinKey, MaxKey).
        if isinstance(value, MinKey) == upward:
            return [Interval(MIN_KEY, MAX_KEY, inclusive or not upward, inclusive or upward)]
        return [point(sort_key(value))] if inclusive else []
    if sort_key(value) == (10, 0):  # NaN, double or Decimal128: only itself, by equality
        return [point(sort_key(value))] if inclusive else []
    if value is None:
        # Null is a type of its own: $gte/$lte null mean equality to null, $gt/$lt null match nothing.
        return equality(None) if inclusive else []
    if isinstance(value, (list, tuple)) or is_regex(value):
        return list(ALL_VALUES)
    return None


# Under $not these leave the index unbounded (a real mongod's explain): NOT of a $type, $mod, $size, $elemMatch, $ne,
# $nin, $not or regex is not an index range the planner builds.
NOT_UNBOUNDED = {"$not", "$type", "$mod", "$elemMatch", "$size", "$ne", "$nin", "$regex", "$options"}


def usable_negation(operator: str, operand: Any) -> bool:
    """Whether the planner bounds a negation ($ne, $nin, $not) with the index at all (planner_ixselect.cpp
    _compatible, checked on a real mongod): only of one exact predicate; arrays match their elements too and a regex
    is a prefix range, so their complements would drop matches."""
    if operator in ("$ne", "$nin"):
        return not any(_inexact(v) for v in (operand if operator == "$nin" else [operand]))
    if is_regex(operand) or not is_operator_document(operand) or NOT_UNBOUNDED & set(operand) or len(operand) > 1:
        return False  # several operators are NOT of an AND, which no index bounds
    (inner, value), = operand.items()
    if inner == "$exists":
        return bool(value)  # NOT(exists: true) is exists: false
    each = list(value) if inner in ("$in", "$all") else [value]
    inexact = any(isinstance(v, (list, tuple)) for v in each) if inner == "$eq" else any(_inexact(v) for v in each)
    return inner in OPERATOR_BOUNDS and not inexact and not (inner == "$all" and len(each) != 1)


def _not_bounds(operand: Any) -> FieldBounds:
    """The complement of the operand's bounds, where the planner builds it; else every value."""
    if not usable_negation("$not", operand):
        return list(ALL_VALUES)
    (inner, value), = operand.items()
    return [point(NULL)] if inner == "$exists" else complement(OPERATOR_BOUNDS[inner](value))


def _inexact(value: Any) -> bool:
    return isinstance(value, (list, tuple)) or is_regex(value)


def _negation(values: Sequence[Any]) -> FieldBounds:
    return complement(_in_bounds(values)) if usable_negation("$nin", values) else list(ALL_VALUES)


def _exists_bounds(operand: Any) -> FieldBounds:
    return list(ALL_VALUES) if operand else [point(NULL)]


_NUMBERS = Interval((10, 0), (10, 1, float("inf")))  # [NaN, inf]: NaN sorts below every other number
_INT64_MIN, _INT64_MAX, _UINT32_MAX = -(2**63), 2**63 - 1, 2**32 - 1
# IndexBoundsBuilder's TYPE_OPERATOR branch: [minForType, maxForType], the end exclusive when it is the start of the
# next type (as a real 6.0 mongod's explain shows); an array anywhere in the set spans everything.
_TYPE_BOUNDS: dict[Any, Interval] = {
    "number": _NUMBERS, 1: _NUMBERS, 16: _NUMBERS, 18: _NUMBERS, 19: _NUMBERS,
    2: Interval((15, b""), EMPTY_OBJECT, True, False), 14: Interval((15, b""), EMPTY_OBJECT, True, False),
    3: Interval(EMPTY_OBJECT, EMPTY_ARRAY, True, False),
    5: Interval((30, 0, 0, b""), (35, bytes(12)), True, False),
    6: point(UNDEFINED),
    7: Interval((35, bytes(12)), (35, b"\xff" * 12)),
    8: Interval((40, False), (40, True)),
    9: Interval((45, _INT64_MIN), (45, _INT64_MAX)),
    10: point(NULL),
    11: Interval((50, "", ""), (55,), True, False),
    12: Interval((55,), (60, b""), True, False),
    # index_bounds_builder_type_test.cpp CodeTypeBounds, CodeWithScopeTypeBounds (8.0-era: end exclusive, EXACT)
    13: Interval(*type_bracket(60), True, False),
    15: Interval(*type_bracket(65), True, False),
    17: Interval((47, 0, 0), (47, _UINT32_MAX, _UINT32_MAX)),
    -1: point(MIN_KEY),
    127: point(MAX_KEY),
}


def _type_bounds(operand: Any) -> FieldBounds:
    codes = [TYPE_ALIASES.get(name, name) if isinstance(name, str) else name for name in type_names(operand)]
    if 4 in codes or any(code not in _TYPE_BOUNDS for code in codes):
        return list(ALL_VALUES)
    return unionize(_TYPE_BOUNDS[code] for code in codes)


OPERATOR_BOUNDS: dict[str, Callable[[Any], FieldBounds]] = {
    "$eq": lambda value: [point(sort_key(value))] if is_regex(value) else equality(value),  # $eq: /re/ is the value
    "$in": _in_bounds,
    "$all": _all_bounds,
    "$elemMatch": _elem_match_value,
    "$gt": _range(upward=True, inclusive=False),
    "$gte": _range(upward=True, inclusive=True),
    "$lt": _range(upward=False, inclusive=False),
    "$lte": _range(upward=False, inclusive=True),
    "$ne": lambda value: _negation([value]),
    "$nin": _negation,
    "$not": _not_bounds,
    "$exists": _exists_bounds,
    "$type": _type_bounds,
    "$mod": lambda _: [_NUMBERS],  # TranslateMod: [NaN, inf], whatever the divisor
    "$regex": regex_bounds,
}
