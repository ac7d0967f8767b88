"""Index bounds of a query filter on a shard key pattern, as the router computes them.

The router targets a query by planning it against the shard key as if it were
the only index, non-multikey and without a collation
(``getIndexBoundsForQuery`` in ``src/mongo/s/shard_key_pattern_query_util.cpp``;
``chunk_manager.cpp`` before 7.0), then flattening the per-field bounds into
key ranges.  This module does the first half: for each shard key field, the
ordered list of intervals the filter allows.  The rules are the server's
``IndexBoundsBuilder::translate`` (``src/mongo/db/query/index_bounds_builder.cpp``);
the tests hold them against a real mongod's explain bounds on generated
filters.

* equality and ``$in`` give points (``null`` also ``undefined`` until 8.0);
  ``$all`` the intersection of its equalities;
* ranges are bracketed by type: ``{$gt: 5}`` is ``(5, inf]``;
* ``$ne``, ``$nin`` and ``$not`` give the complement of an exact operand;
* ``$type`` and ``$mod`` give whole type ranges (``number`` is [NaN, inf]);
* regular expressions: ``regex.py``;
* ``$elemMatch``: its value form bounds the field itself, its object form
  the key fields below it (``{a: {$elemMatch: {b: 1}}}`` bounds ``a.b``);
* a hashed field is bounded only by equality (each value hashed);
* ``$or`` is indexable only when every branch bounds the leading key field;
  its bounds are then the per-field union of its branches
  (``collapseQuerySolution``);
* ``$text`` anywhere makes every field unbounded (a shard key index cannot
  answer it);
* under a non-simple collation, a predicate comparing a key field to a
  string, an object or an array cannot use the key (``planner_ixselect.cpp``
  ``_compatible``): it bounds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from collections.abc import Mapping, Sequence

from bson import Int64, Regex

from .filters import is_elem_match_value, is_operator_document
from .hashing import UnhashableValueError, hashed_value
from .intervals import ALL_VALUES, FieldBounds, intersect, point, unionize
from .operators import OPERATOR_BOUNDS, equality, is_regex, usable_negation
from .ordering import canonical_type, sort_key
from .regex import as_regex, regex_flags, server_misses

__all__ = ["QueryBounds", "bounds_for_filter", "is_simple_collation", "HASHED"]

HASHED = "hashed"

# Operators that never constrain an index, named in the targeting reason.
UNTARGETABLE_TOP_LEVEL = {"$where", "$expr", "$nor", "$jsonSchema", "$sampleRate"}
_COLLATABLE_TYPES = (15, 20, 25)  # string, object, array (isCollatableType)


@dataclass
class QueryBounds:
    """Per-field bounds of a filter on a key pattern, and why any field is unbounded."""

    fields: list[FieldBounds]
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # where the server itself misses matching documents

    @property
    def is_empty(self) -> bool:
        """No document can match: the router still sends such a query to one shard."""
        return any(not intervals for intervals in self.fields)


def is_simple_collation(collation: Mapping[str, Any] | None) -> bool:
    return not collation or collation.get("locale", "simple") == "simple"


def bounds_for_filter(query: Mapping[str, Any], key_pattern: Sequence[tuple[str, Any]], *,
                      collation: Mapping[str, Any] | None = None) -> QueryBounds:
    """Per-field bounds of ``query`` on ``key_pattern`` (field, 1 or "hashed") pairs, under ``collation``."""
    if not isinstance(query, Mapping):
        raise TypeError("a query filter must be a document (a JSON object)")
    planner = _Planner(key_pattern, is_simple_collation(collation))
    fields = planner.and_node(query)
    if planner.fields[0] not in planner.used:
        # No predicate the index can use on the leading field: the planner scans the key whole (a real mongod's
        # explain shows no bounds on the later fields either; routing is the same, as flattenBounds shows).
        fields = [list(ALL_VALUES) for _ in fields]
    if _has_text(query):
        # getIndexBoundsForQuery: a TEXT node anywhere means the shard key index cannot be used at all.
        planner.notes.append("$text cannot be answered from the shard key")
        fields = [list(ALL_VALUES) for _ in fields]
    return QueryBounds(fields, planner.notes, planner.warnings)


def _has_text(query: Mapping[str, Any]) -> bool:
    return "$text" in query or any(_has_text(child) for name in ("$and", "$or") for child in query.get(name, ()))


class _Planner:
    def __init__(self, key_pattern: Sequence[tuple[str, Any]], simple_collation: bool) -> None:
        self.fields = [name for name, _ in key_pattern]
        self.key_pattern = list(key_pattern)
        self.hashed = {name for name, kind in key_pattern if kind == HASHED}
        self.simple_collation = simple_collation
        self.notes: list[str] = []
        self.warnings: list[str] = []
        self.used: set[str] = set()  # key fields with a predicate the index can use (QueryPlannerIXSelect)

    def and_node(self, query: Mapping[str, Any]) -> list[FieldBounds]:
        bounds = [list(ALL_VALUES) for _ in self.fields]
        for name, condition in query.items():
            if name == "$and" or name == "$or" and len(condition) == 1:  # a $or of one branch is that branch
                children = [self.and_node(child) for child in condition]
            elif name == "$or":
                children = [self.or_node(condition)]
            elif name == "$nor" and _negatable(condition, self.fields):
                children = [self.and_node(_negated(condition[0]))]
            elif name.startswith("$"):
                if name in UNTARGETABLE_TOP_LEVEL:
                    self.note(f"{name} cannot be used to target shards")
                continue
            elif name in self.fields:
                index = self.fields.index(name)
                bounds[index] = intersect(bounds[index], self.field_bounds(name, condition))
                continue
            else:
                children = self.below(name, condition)
            for child in children:
                bounds = [intersect(mine, theirs) for mine, theirs in zip(bounds, child)]
        return bounds

    def below(self, name: str, condition: Any) -> list[list[FieldBounds]]:
        """An $elemMatch object (alone or in $all) on a parent of key fields bounds those fields, as
        ``{a: {$elemMatch: {b: 1}}}`` bounds ``a.b`` (CMCollapseTreeTest.ElemMatchOneField, BasicAllElemMatch)."""
        inner = [(path[len(name) + 1:], kind) for path, kind in self.key_pattern if path.startswith(name + ".")]
        if not inner or not is_operator_document(condition):
            return []
        queries = [condition["$elemMatch"]] if isinstance(condition.get("$elemMatch"), Mapping) else []
        queries += [item["$elemMatch"] for item in condition.get("$all", ()) if isinstance(item,
                                                                                           Mapping) and "$elemMatch" in item]
        results = []
        for sub_query in queries:
            if is_elem_match_value(sub_query):
                continue
            child = _Planner(inner, self.simple_collation)
            sub_bounds = dict(zip((name + "." + path for path, _ in inner), child.and_node(sub_query)))
            self.notes += child.notes
            self.warnings += child.warnings
            self.used |= {name + "." + path for path in child.used}
            results.append([sub_bounds.get(path, list(ALL_VALUES)) for path in self.fields])
        return results

    def or_node(self, branches: Sequence[Mapping[str, Any]]) -> list[FieldBounds]:
        """Indexable only when every branch has a predicate the index can use on the leading key field."""
        used_before, leading = set(self.used), self.fields[0]
        collected, indexable = [], True
        for branch in branches:
            self.used = set()
            collected.append(self.and_node(branch))
            indexable = indexable and leading in self.used
        if not indexable:
            self.note(f"a $or branch has no condition on the leading key field '{leading}'")
            self.used = used_before
            return [list(ALL_VALUES) for _ in self.fields]
        self.used = used_before | {leading}
        return [unionize(i for branch in collected for i in branch[index]) for index in range(len(self.fields))]

    def field_bounds(self, name: str, condition: Any) -> FieldBounds:
        bounds = list(ALL_VALUES)
        for operator, operand in _predicates(condition):
            if not self.simple_collation and _compares_collatable(operator, operand):
                self.note(f"'{name}' is compared to a string, document or array under a non-simple collation, which the "
                          "shard key (simple collation) cannot answer")
                continue
            if name in self.hashed:
                bounds = intersect(bounds, self.hashed_bounds(name, operator, operand))
                continue
            builder = OPERATOR_BOUNDS.get(operator)
            if builder is None:
                self.note(f"{operator} on '{name}' cannot be used to target shards")
                continue
            self.warn_about_regexes(operator, operand)
            bounds = intersect(bounds, builder(operand))
            if _usable(operator, operand):
                self.used.add(name)
        return bounds

    def hashed_bounds(self, name: str, operator: str, operand: Any) -> FieldBounds:
        """A hashed index holds hashes: only exact values can be looked up, everything else spans it.  As a real
        mongod builds them: arrays, which have no hash, keep their plain bounds; $exists: false is the hash of null."""
        if operator == "$not" and is_operator_document(operand) and set(operand) == {"$exists"}:
            operator, operand = "$exists", not operand["$exists"]
        if operator == "$exists" and not operand:
            self.used.add(name)
            return [point(sort_key(Int64(hashed_value(None))))]
        values = [operand] if operator == "$eq" else operand if operator == "$in" else None  # $eq: /re/ is a value
        if values is None or operator == "$in" and any(is_regex(v) for v in values):
            self.note(f"'{name}' is hashed: only equality and $in on it can be targeted")
            return list(ALL_VALUES)
        self.used.add(name)
        try:
            return unionize(i for value in values for i in (equality(value) if isinstance(value, (list, tuple)) else
                                                            [point(key) for key in _hashed_points(value)]))
        except UnhashableValueError:
            self.note(f"a value given for hashed field '{name}' cannot be hashed")
            return list(ALL_VALUES)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def warn_about_regexes(self, operator: str, operand: Any) -> None:
        regexes = [operand] if operator == "$regex" else [v for v in operand if is_regex(v)] if operator == "$in" else []
        for regex in regexes:
            warning = server_misses(regex)
            if warning and warning not in self.warnings:
                self.warnings.append(warning)


def _usable(operator: str, operand: Any) -> bool:
    """Whether the planner uses the predicate with the index: not a negation it cannot bound, not $elemMatch's object
    form (which bounds the fields below, not this one)."""
    if operator in ("$not", "$ne", "$nin"):
        return usable_negation(operator, operand)
    return operator != "$elemMatch" or is_elem_match_value(operand)


def _predicates(condition: Any) -> list[tuple[str, Any]]:
    """A field's condition as the separate predicates the parser makes of it: $regex with its $options, and $all as
    one equality (or $elemMatch) per element, each judged on its own (under a collation, say)."""
    if not is_operator_document(condition):
        return [("$regex" if is_regex(condition) else "$eq", condition)]  # {x: /re/} matches; {x: {$eq: /re/}} compares
    predicates = []
    for operator, operand in condition.items():
        if operator == "$regex":
            predicates.append(("$regex", _regex_operand(operand, condition.get("$options"))))
        elif operator == "$all":
            predicates += [("$elemMatch", v["$elemMatch"]) if isinstance(v, Mapping) and "$elemMatch" in v else
                           ("$regex" if is_regex(v) else "$eq", v) for v in operand]
        elif operator != "$options":
            predicates.append((operator, operand))
    return predicates


def _regex_operand(pattern: Any, options: str | None) -> Regex[Any]:
    if is_regex(pattern):
        return Regex(as_regex(pattern).pattern, options if options is not None else regex_flags(pattern))
    return Regex(pattern, options or "")


def _compares_collatable(operator: str, operand: Any) -> bool:
    """planner_ixselect.cpp boundsGeneratingNodeContainsComparisonToType: comparisons (through $not and
    $elemMatch's value form) to a string, an object or an array; regexes, $type, $exists and $mod are not."""
    if operator in ("$eq", "$gt", "$gte", "$lt", "$lte", "$ne"):
        return _collatable(operand)
    if operator in ("$in", "$nin", "$all"):
        return any(_collatable(value) for value in operand if not is_regex(value))
    if operator in ("$not", "$elemMatch") and is_operator_document(operand):
        return any(_compares_collatable(inner, value) for inner, value in operand.items())
    return False


def _collatable(value: Any) -> bool:
    return not is_regex(value) and canonical_type(sort_key(value)) in _COLLATABLE_TYPES


def _negatable(branches: Sequence[Mapping[str, Any]], fields: list[str]) -> bool:
    """A $nor of one branch on one key field is NOT of that predicate, which the planner can bound (MatchExpression::
    optimize; checked on a real mongod); a $nor of several branches bounds nothing."""
    if len(branches) != 1 or len(_collapsed(branches[0])) != 1:
        return False
    (name, condition), = _collapsed(branches[0]).items()
    if name == "$or":
        equalities = _or_equalities(condition)
        return equalities is not None and equalities[0] in fields
    return name in fields


def _negated(branch: Mapping[str, Any]) -> dict[str, Any]:
    """{x: v} as {x: {$ne: v}}, {x: {ops}} as {x: {$not: {ops}}}, and a $or of equalities on x as {x: {$nin: [...]}}
    (the optimizer turns such a $or into $in)."""
    (name, condition), = _collapsed(branch).items()
    if name == "$or":
        equalities = _or_equalities(condition)
        assert equalities is not None, "only a $or of equalities on one field is negated"
        field_name, values = equalities
        return {field_name: {"$nin": values}}
    if is_operator_document(condition) or is_regex(condition):
        return {name: {"$not": condition}}
    return {name: {"$not": {"$eq": condition}}}


def _or_equalities(branches: Sequence[Mapping[str, Any]]) -> tuple[str, list[Any]] | None:
    """(field, values) when a $or holds only equalities on one field (a $or of one branch is that branch; the server
    leaves a $nor over nested $or of several branches unbounded, checked on a real mongod); else None."""
    found: list[tuple[str, Any]] = []
    for branch in map(_collapsed, branches):
        if len(branch) != 1:
            return None
        (name, condition), = branch.items()
        if name.startswith("$") or is_regex(condition) or is_operator_document(condition) and (
                set(condition) - {"$eq", "$in", "$all"} or len(condition.get("$all", [None])) != 1):
            return None
        elif is_operator_document(condition):  # $eq, $in, and $all of one value are equalities
            found += [(name, value) for value in [*condition.get("$in", ()), *condition.get("$all", ()),
                                                  *([condition["$eq"]] if "$eq" in condition else [])]]
        else:
            found.append((name, condition))
    names = {name for name, _ in found}
    return (names.pop(), [value for _, value in found]) if len(names) == 1 else None


def _collapsed(branch: Mapping[str, Any]) -> Mapping[str, Any]:
    """A $and or $or of one branch is that branch (MatchExpression::optimize)."""
    while len(branch) == 1 and next(iter(branch)) in ("$and", "$or") and len(next(iter(branch.values()))) == 1:
        branch = next(iter(branch.values()))[0]
    return branch


def _hashed_points(value: Any) -> list[Any]:
    if value is None:
        # {k: null} matches null and, before 8.0, undefined: both hashes are points.
        return [sort_key(Int64(_UNDEFINED_HASH)), sort_key(Int64(hashed_value(None)))]
    return [sort_key(Int64(hashed_value(value)))]


# hashed_value of BSON undefined (canonical type 0, no value bytes), which pymongo
# cannot encode; the server's own value, also seen in its explain bounds.
_UNDEFINED_HASH = 40158834000849533


