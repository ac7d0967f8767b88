"""Intervals of shard key values for one key field, in BSON order, and the set algebra the bounds builder uses."""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Iterable

from .ordering import MAX_KEY, MIN_KEY, NULL, UNDEFINED, SortKey

__all__ = ["Interval", "FieldBounds", "ALL_VALUES", "point", "unionize", "intersect", "complement", "spans_everything"]


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
        if self.low == UNDEFINED and self.high == NULL and not (self.low_inclusive or self.high_inclusive):
            return True  # no BSON value sorts strictly between undefined and null
        return self.low == self.high and not (self.low_inclusive and self.high_inclusive)


FieldBounds = list[Interval]
ALL_VALUES: FieldBounds = [Interval(MIN_KEY, MAX_KEY)]


def point(key: SortKey) -> Interval:
    return Interval(key, key)


def spans_everything(intervals: FieldBounds) -> bool:
    return intervals == ALL_VALUES


def unionize(intervals: Iterable[Interval]) -> FieldBounds:
    """Sort and merge overlapping or touching intervals (IndexBoundsBuilder::unionize)."""
    merged: FieldBounds = []
    # By start, an inclusive start first, so that a merged interval keeps the widest start.
    for current in sorted((i for i in intervals if not i.is_empty()), key=lambda i: (i.low, not i.low_inclusive)):
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
