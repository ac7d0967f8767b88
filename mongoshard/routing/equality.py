"""The router's shortcut: a filter with one equality on every shard key field goes to the one chunk holding that key.

Before planning any bounds, mongos tries ``extractShardKeyFromQuery``
(``src/mongo/s/shard_key_pattern_query_util.cpp``; ``shard_key_pattern.cpp``
before 7.0), built on ``pathsupport::extractFullEqualityMatches``
(``src/mongo/db/update/path_support.cpp``):

* only equalities joined by AND count: ``{a: 5}``, ``$eq``, a ``$in`` of one
  value, ``$all`` (an AND of equalities), ``$and`` and a ``$or`` of one branch;
  anything else (ranges, ``$in`` of several values, ``$or`` of several, regexes,
  ``$expr``) is left aside, neither helping nor failing;
* an equality on a parent of a key path counts when its value is a document:
  ``{owner: {pid: 10}}`` gives ``owner.pid`` = 10 (the planner cannot see that,
  so only this shortcut targets such a filter);
* the shortcut gives up, and the bounds decide, when two equalities touch one
  key path, when one is below a key path (``{"a.b": 1}`` for the key ``a``),
  when a value is missing, an array (anywhere on the path), a regex or a
  document with ``$`` field names (``isValidShardKeyElementForStorage``);
* under a non-simple collation it gives up for string, document and array
  values and for hashed fields (``ChunkManager::findIntersectingChunk``).
"""

from __future__ import annotations

from typing import Any
from collections.abc import Mapping, Sequence

from bson import Int64, Regex

from .filters import is_operator_document
from .hashing import hashed_value
from .operators import is_regex
from .ordering import sort_key

__all__ = ["shard_key_from_query"]

HASHED = "hashed"
_COLLATABLE = (15, 20, 25)


class _NoKey(Exception):
    """The shortcut does not apply (the server's NotSingleValueField, NotExactValueField, or an invalid value)."""


def shard_key_from_query(query: Mapping[str, Any], key_pattern: Sequence[tuple[str, Any]], *,
                         simple_collation: bool = True) -> dict[str, Any] | None:
    """The full shard key ``query`` pins by equality (hashed fields hashed), or None when the router plans bounds."""
    paths = [name for name, _ in key_pattern]
    equalities: list[tuple[str, Any]] = []
    try:
        _collect(query, paths, equalities)
        _check_conflicts(equalities)
        key = {}
        for path, kind in key_pattern:
            value = _value_for(path, equalities)
            if not simple_collation and (kind == HASHED or sort_key(value)[0] in _COLLATABLE):
                return None
            key[path] = Int64(hashed_value(value)) if kind == HASHED else value
    except _NoKey:
        return None
    return key


def _collect(query: Mapping[str, Any], paths: list[str], equalities: list[tuple[str, Any]]) -> None:
    for name, condition in query.items():
        if name == "$and":
            for child in condition:
                _collect(child, paths, equalities)
        elif name == "$or" and len(condition) == 1:
            _collect(condition[0], paths, equalities)  # a $or of one branch is that branch (MatchExpression::optimize)
        elif not name.startswith("$"):
            for value in _equal_values(condition):
                _add(name, value, paths, equalities)


def _equal_values(condition: Any) -> list[Any]:
    """The values a field condition states equality to, as EQ nodes after canonicalisation."""
    if not is_operator_document(condition):
        return [] if is_regex(condition) else [condition]  # a regex literal is a REGEX node, not an equality
    values = []
    if "$eq" in condition:
        values.append(condition["$eq"])
    distinct = {_identity(v): v for v in condition.get("$in", ())}
    if len(distinct) == 1 and not any(is_regex(v) for v in distinct.values()):
        values.extend(distinct.values())  # InMatchExpression's optimizer: one value is an equality
    values += [v for v in condition.get("$all", ()) if not is_regex(v) and not (isinstance(v, Mapping) and "$elemMatch" in v)]
    return values


def _identity(value: Any) -> Any:
    try:
        return repr(sort_key(value))
    except TypeError:
        return repr(value)


def _add(path: str, value: Any, paths: list[str], equalities: list[tuple[str, Any]]) -> None:
    related = [key for key in paths if _is_prefix(path, key) or _is_prefix(key, path)]
    if not related:
        return  # an equality on another field
    if any(len(path.split(".")) > len(key.split(".")) for key in related):
        raise _NoKey  # NotExactValueField: an equality below a key path
    equalities.append((path, value))


def _check_conflicts(equalities: list[tuple[str, Any]]) -> None:
    for index, (path, _) in enumerate(equalities):
        if any(_is_prefix(path, other) or _is_prefix(other, path) for other, _ in equalities[index + 1:]):
            raise _NoKey  # NotSingleValueField: one key path matched twice


def _value_for(path: str, equalities: list[tuple[str, Any]]) -> Any:
    """findEqualityElement: the equality at the path, else one on its nearest parent, whose document holds it."""
    for equal_path, value in sorted(equalities, key=lambda item: -len(item[0])):
        if equal_path == path:
            return _valid(value)
        if _is_prefix(equal_path, path):
            for part in path[len(equal_path) + 1:].split("."):
                if not isinstance(value, Mapping) or part not in value:
                    raise _NoKey  # a parent that is not a document, or a missing field
                value = value[part]
            return _valid(value)
    raise _NoKey


def _valid(value: Any) -> Any:
    """isValidShardKeyElementForStorage: no array, no regex, no document with a $ field name anywhere in it."""
    if isinstance(value, (list, tuple, Regex)) or is_regex(value) or isinstance(value, Mapping) and _has_dollar_name(value):
        raise _NoKey
    return value


def _has_dollar_name(document: Mapping[str, Any]) -> bool:
    return any(str(name).startswith("$") or isinstance(inner, Mapping) and _has_dollar_name(inner)
               for name, inner in document.items())


def _is_prefix(shorter: str, longer: str) -> bool:
    return shorter == longer or longer.startswith(shorter + ".")
