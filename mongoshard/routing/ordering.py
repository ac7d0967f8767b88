"""BSON comparison order as Python sort keys.

Chunk ranges are compared in MongoDB's BSON order: first by canonical type
(MinKey < null < numbers < strings < objects < arrays < binary < ObjectId <
bool < date < timestamp < regex < MaxKey), then by value within the type.
``sort_key`` maps a value to a tuple that Python orders the same way, so
routing can bisect chunk boundaries with plain tuple comparison.
"""

from __future__ import annotations

import datetime
import re
import uuid
from decimal import Decimal
from collections.abc import Callable, Mapping
from typing import Any

from bson import Binary, Code, DBRef, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp
from bson.datetime_ms import DatetimeMS

__all__ = ["SortKey", "sort_key", "MIN_KEY", "MAX_KEY", "type_bracket", "canonical_type"]

SortKey = tuple[Any, ...]

MIN_KEY: SortKey = (-1,)
MAX_KEY: SortKey = (127,)
UNDEFINED: SortKey = (0,)
NULL: SortKey = (5,)
EMPTY_OBJECT: SortKey = (20, ())
EMPTY_ARRAY: SortKey = (25, ())
_EPOCH = datetime.datetime(1970, 1, 1)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_UINT32_MAX = 2**32 - 1


def sort_key(value: Any) -> SortKey:
    """A tuple that orders like ``value`` does in BSON comparison (simple collation)."""
    kind = type(value)
    if kind is int or kind is Int64 or kind is float:
        return (10, 0) if value != value else (10, 1, value)
    if kind is str:
        # The server compares strings as UTF-8 bytes (memcmp); bytes, not str, because some bounds it builds are
        # not valid UTF-8 (a regex prefix cut inside a character, incremented by one byte: translateRegex).
        return (15, value.encode("utf-8", "surrogatepass"))
    convert = _CONVERTERS.get(kind)
    if convert is not None:
        return convert(value)
    for base, convert in _CONVERTERS.items():
        if isinstance(value, base):
            return convert(value)
    raise TypeError(f"{value!r} ({kind.__name__}) is not a BSON value that can be compared")


def canonical_type(key: SortKey) -> int:
    """The canonical BSON type a sort key belongs to."""
    return int(key[0])


def _number(value: Any) -> SortKey:
    number = value.to_decimal() if isinstance(value, Decimal128) else value
    # A signalling NaN orders as NaN (comparing it would raise); the tests check that against the server.
    if number.is_nan() if isinstance(number, Decimal) else number != number:
        return (10, 0)
    # Python compares int, float and Decimal exactly, as the server does across numeric types.
    return (10, 1, number)


def _document(value: Mapping[str, Any]) -> SortKey:
    return (20, tuple((sub[0], name, sub) for name, sub in ((n, sort_key(v)) for n, v in value.items())))


def _array(value: list[Any] | tuple[Any, ...]) -> SortKey:
    return (25, tuple(sort_key(item) for item in value))


def _binary(value: bytes) -> SortKey:
    subtype = value.subtype if isinstance(value, Binary) else 0
    return (30, len(value), subtype, bytes(value))


def _uuid(value: uuid.UUID) -> SortKey:
    return _binary(Binary.from_uuid(value))


def _datetime(value: datetime.datetime) -> SortKey:
    if value.tzinfo is not None:
        value = value.astimezone(datetime.UTC).replace(tzinfo=None)
    return (45, (value - _EPOCH) // datetime.timedelta(milliseconds=1))


def _regex(value: Regex[Any] | re.Pattern[Any]) -> SortKey:
    regex = value if isinstance(value, Regex) else Regex.from_native(value)
    flags = regex.flags if isinstance(regex.flags, str) else _regex_flags(regex.flags)
    return (50, regex.pattern, flags)


def _regex_flags(flags: int) -> str:
    letters = {re.IGNORECASE: "i", re.LOCALE: "l", re.MULTILINE: "m", re.DOTALL: "s", re.UNICODE: "u", re.VERBOSE: "x"}
    return "".join(sorted(letter for flag, letter in letters.items() if flags & flag))


def _code(value: Code) -> SortKey:
    text = str(value).encode("utf-8", "surrogatepass")
    if value.scope is None:
        return (60, text)
    return (65, text, _document(value.scope))


_CONVERTERS: dict[type, Callable[[Any], SortKey]] = {
    bool: lambda value: (40, value),
    type(None): lambda _: NULL,
    MinKey: lambda _: MIN_KEY,
    MaxKey: lambda _: MAX_KEY,
    ObjectId: lambda value: (35, value.binary),
    Decimal128: _number,
    Decimal: _number,
    datetime.datetime: _datetime,
    DatetimeMS: lambda value: (45, int(value)),  # a date out of datetime's range, still a BSON date
    DBRef: lambda value: _document(value.as_doc()),  # stored as the document {$ref, $id[, $db]}
    Timestamp: lambda value: (47, value.time, value.inc),
    Code: _code,
    Regex: _regex,
    re.Pattern: _regex,
    uuid.UUID: _uuid,
    Binary: _binary,
    bytes: _binary,
    dict: _document,
    list: _array,
    tuple: _array,
    int: _number,
    float: _number,
}

# Where a range predicate stops when it is open on one side: the server brackets
# ranges by type (IndexBoundsBuilder), e.g. {$gt: "a"} is ("a", {}) and
# {$lt: 5} is [-inf, 5).  Each entry is (lowest key of the type, highest key or
# the first key past the type).
_BRACKETS: dict[int, tuple[SortKey, SortKey]] = {
    5: (NULL, NULL),
    10: ((10, 1, float("-inf")), (10, 1, float("inf"))),
    15: ((15, b""), EMPTY_OBJECT),
    20: (EMPTY_OBJECT, EMPTY_ARRAY),
    25: (EMPTY_ARRAY, (30, 0, 0, b"")),
    30: ((30, 0, 0, b""), (35, bytes(12))),
    35: ((35, bytes(12)), (35, b"\xff" * 12)),
    40: ((40, False), (40, True)),
    45: ((45, _INT64_MIN), (45, _INT64_MAX)),
    47: ((47, 0, 0), (47, _UINT32_MAX, _UINT32_MAX)),
    50: ((50, "", ""), (55,)),
    # Code, then code with scope from CodeWScope("", {}) (index_bounds_builder_test.cpp TranslateGtCode,
    # TranslateLtCodeWScope): a chunk starting at CodeWScope("", {}) is reached, as the router's inclusive max reaches it.
    60: ((60, b""), (65, b"", EMPTY_OBJECT)),
    65: ((65, b"", EMPTY_OBJECT), MAX_KEY),
    -1: (MIN_KEY, MAX_KEY),
    127: (MIN_KEY, MAX_KEY),
}


def type_bracket(canonical: int) -> tuple[SortKey, SortKey]:
    """The lowest and highest keys a range over one canonical type can reach."""
    return _BRACKETS.get(canonical, (MIN_KEY, MAX_KEY))
