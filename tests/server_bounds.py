"""A real mongod's index bounds for a filter, as intervals mongoshard can compare with its own.

The router plans a filter against the shard key as the only index, non-multikey
and without a collation; a mongod asked to explain the same filter with that
index hinted runs the same IndexBoundsBuilder.  Its explain prints the bounds as
text (``["a", "b")``, ``[nan.0, inf.0]``, ``[/^a/i, /^a/i]``); this reads that
text back into sort keys, for the values the generated filters use.
"""

from __future__ import annotations

import re
from typing import Any
from collections.abc import Iterator, Mapping

from bson import Binary, Code, Decimal128, MaxKey, MinKey, ObjectId, Regex, Timestamp

from mongoshard.routing.intervals import Interval, unionize
from mongoshard.routing.ordering import sort_key

_NUMBER = re.compile(r"-?(\d+(\.\d+)?(e[+-]?\d+)?(\.0)?|inf\.0|nan\.0)")
_SIMPLE = {"MinKey": MinKey(), "MaxKey": MaxKey(), "null": None, "true": True, "false": False}
UNDEFINED_KEY = (0,)


class Unreadable(ValueError):
    """Explain text this reader does not know (the test then skips that filter)."""


def server_bounds(collection, query: Mapping[str, Any], index: str, collation: Mapping[str, Any] | None) -> list[list[Interval]] | None:
    """Per key field of ``index``, the intervals the server scans for ``query`` (None when it has no single answer)."""
    options = {"collation": collation} if collation else {}
    explained = collection.find(query, **options).hint(index).explain()["queryPlanner"]
    if explained.get("rejectedPlans"):
        return None  # several candidate plans: which one a router takes first is not visible here
    per_field = _collapse(explained["winningPlan"])
    if per_field is None:
        return None
    return [unionize(_interval(text) for text in texts) for texts in per_field.values()]


def _collapse(stage: Mapping[str, Any]) -> dict[str, list[str]] | None:
    """collapseQuerySolution: an index scan's bounds; under OR / SORT_MERGE the per-field union of the children."""
    if stage["stage"] == "IXSCAN":
        return {name: list(texts) for name, texts in stage["indexBounds"].items()}
    if stage["stage"] in ("OR", "SORT_MERGE"):
        merged: dict[str, list[str]] = {}
        for child in stage["inputStages"]:
            collapsed = _collapse(child)
            if collapsed is None:
                return None
            for name, texts in collapsed.items():
                merged.setdefault(name, []).extend(texts)
        return merged
    if "inputStage" in stage:
        return _collapse(stage["inputStage"])
    return None


def _interval(text: str) -> Interval:
    low_inclusive, high_inclusive = text[0] == "[", text[-1] == "]"
    inner = text[1:-1]
    for low_text, high_text in _splits(inner):
        try:
            low, high = _key(low_text), _key(high_text)
        except Unreadable:
            continue
        if low <= high:
            return Interval(low, high, low_inclusive, high_inclusive)
    raise Unreadable(text)


def _splits(inner: str) -> Iterator[tuple[str, str]]:
    half = (len(inner) - 2) // 2
    if inner[half:half + 2] == ", " and inner[:half] == inner[half + 2:]:
        yield inner[:half], inner[half + 2:]  # a point: both ends print the same
    for match in re.finditer(", ", inner):
        yield inner[:match.start()], inner[match.end():]


def _key(text: str) -> tuple:
    """The sort key of one printed value; the ends of type ranges that pymongo cannot build are given directly."""
    if text == "undefined":
        return UNDEFINED_KEY
    if text.startswith("new Date(") and text.endswith(")"):
        return (45, int(text[len("new Date("):-1]))
    if text == "":
        return (60, b"")  # the empty Code, where javascript starts
    if text.startswith("DBRef('',"):
        return (55,)
    if text.startswith("CodeWScope( ") and text.endswith(")"):
        return sort_key(_code_with_scope(text[len("CodeWScope( "):-1]))
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return (15, text[1:-1].encode("utf-8"))
    return sort_key(_value(text))


def _value(text: str) -> Any:
    if text in _SIMPLE:
        return _SIMPLE[text]
    if text == "NaN":
        return Decimal128("NaN")
    if _NUMBER.fullmatch(text):
        return _number(text)
    if text.startswith("/") and text.count("/") >= 2:
        pattern, _, flags = text[1:].rpartition("/")
        return Regex(pattern, flags)
    for prefix, build in _CONSTRUCTORS:
        if text.startswith(prefix) and text.endswith(")"):
            return build(text[len(prefix):-1])
    if text in ("{}", "[]"):
        return {} if text == "{}" else []
    if _BARE_CODE.fullmatch(text):
        return Code(text)  # javascript prints bare, strings quoted (the generated Code values are identifiers)
    raise Unreadable(text)


_BARE_CODE = re.compile(r"[A-Za-z_]\w*")
_SCOPE_PAIR = re.compile(r"(\w+): (-?\d+)")


def _code_with_scope(body: str) -> Code:
    """``f, { c: 1 }`` or ``, {}``: the code, then a scope of integer fields (what the generated values hold)."""
    code, _, scope_text = body.partition(", ")
    if scope_text == "{}":
        return Code(code, {})
    inner = scope_text.removeprefix("{ ").removesuffix(" }")
    pairs = inner.split(", ")
    if not scope_text.startswith("{ ") or not all(_SCOPE_PAIR.fullmatch(pair) for pair in pairs):
        raise Unreadable(body)
    return Code(code, {name: int(value) for name, value in (_SCOPE_PAIR.fullmatch(p).groups() for p in pairs)})


def _number(text: str) -> Any:
    if text.endswith(("inf.0", "nan.0")):
        return float(text[:-2])
    if "." in text or "e" in text:
        return float(text[:-2] if "e" in text and text.endswith(".0") else text)
    return int(text)


_CONSTRUCTORS = [
    ("ObjectId('", lambda body: ObjectId(body.rstrip("'"))),
    ("Timestamp(", lambda body: Timestamp(*(int(part) for part in body.split(", ")))),
    ("BinData(", lambda body: Binary(bytes.fromhex(body.split(", ")[1]), int(body.split(", ")[0]))),
]

__all__ = ["server_bounds", "Unreadable"]
