"""Is this a MongoDB filter at all?  The server's own parse rules, checked before anything plans with it.

Targeting assumes a well-formed filter; a filter the server would refuse
(``{"x": {"$in": 5}}``, ``{"$and": {}}``, ``{"x": {"$gt": 1, "y": 2}}``) gets
the server's own sentence here instead of a traceback later.  The rules and
their wording follow ``MatchExpressionParser`` (``src/mongo/db/matcher/
expression_parser.cpp``) and were checked against a real mongod, which the
tests keep as the oracle: a filter is refused here exactly when the server
refuses it for its shape (what needs an index or data, such as ``$text``
without a text index or an invalid regular expression, is the server's to say).
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any
from collections.abc import Mapping

from bson import Binary, Code, Decimal128, Int64, Regex

from ..errors import MongoshardError

__all__ = ["validate_filter", "is_operator_document", "is_elem_match_value", "type_names", "depth", "FilterError", "MAX_DEPTH",
           "TYPE_ALIASES", "TYPE_CODES"]

# A command nests the filter one level down, and BSON allows 200 levels (BSONDepth::kDefaultMaxAllowableDepth).
MAX_DEPTH = 199
_LOGICAL = ("$and", "$or", "$nor")
_TOP_LEVEL = {*_LOGICAL, "$where", "$expr", "$text", "$comment", "$jsonSchema", "$sampleRate", "$alwaysTrue", "$alwaysFalse"}
_COMPARISONS = ("$gt", "$gte", "$lt", "$lte")
_BITS = ("$bitsAllSet", "$bitsAnySet", "$bitsAllClear", "$bitsAnyClear")
_GEO = ("$geoWithin", "$within", "$geoIntersects", "$near", "$nearSphere", "$minDistance", "$maxDistance")
_FIELD_OPERATORS = {"$eq", "$ne", *_COMPARISONS, "$in", "$nin", "$exists", "$type", "$mod", "$regex", "$options", "$not",
                    "$all", "$elemMatch", "$size", *_BITS, *_GEO}
# $type: the aliases and numeric codes the server accepts (typeFromName, isValidBSONType).
TYPE_ALIASES = {"double": 1, "string": 2, "object": 3, "array": 4, "binData": 5, "undefined": 6, "objectId": 7, "bool": 8,
                "date": 9, "null": 10, "regex": 11, "dbPointer": 12, "javascript": 13, "symbol": 14,
                "javascriptWithScope": 15, "int": 16, "timestamp": 17, "long": 18, "decimal": 19, "minKey": -1,
                "maxKey": 127, "number": "number"}
TYPE_CODES = {-1, *range(1, 20), 127}
REGEX_FLAGS = "imsux"


class FilterError(MongoshardError, ValueError):
    """A filter the server would refuse to parse."""


def validate_filter(query: Any) -> None:
    """Raise FilterError, with the server's reason, unless ``query`` is a filter MongoDB parses."""
    if not isinstance(query, Mapping):
        raise FilterError(f"a filter must be a document (a JSON object), not {type(query).__name__}")
    levels = depth(query)
    if levels > MAX_DEPTH:
        raise FilterError(f"the filter nests {levels} levels deep; MongoDB refuses more than {MAX_DEPTH} "
                          "(BSONObj exceeds maximum nested object depth)")
    _query(query)


def depth(value: Any) -> int:
    """Nesting of documents and arrays, iteratively: a hostile filter must not exhaust the interpreter's stack."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        current, level = stack.pop()
        children = current.values() if isinstance(current, Mapping) else current if isinstance(current, (list, tuple)) else ()
        if isinstance(current, (Mapping, list, tuple)):
            deepest = max(deepest, level)
            if deepest > MAX_DEPTH:
                return deepest
            stack.extend((child, level + 1) for child in children)
    return deepest


def _query(query: Mapping[str, Any]) -> None:
    for name, value in query.items():
        if not isinstance(name, str):
            raise FilterError(f"field names must be strings, not {name!r}")
        if name.startswith("$"):
            _top_level(name, value)
        else:
            _condition(name, value)


def _top_level(name: str, value: Any) -> None:
    if name not in _TOP_LEVEL:
        raise FilterError(f"unknown top level operator: {name}")
    if name in _LOGICAL:
        if not isinstance(value, (list, tuple)):
            raise FilterError(f"{name} must be an array")
        if not value:
            raise FilterError("$and/$or/$nor must be a nonempty array")
        for entry in value:
            if not isinstance(entry, Mapping):
                raise FilterError("$or/$and/$nor entries need to be full objects")
            _query(entry)
    elif name == "$where" and not isinstance(value, (str, Code)):
        raise FilterError("$where got bad type")
    elif name == "$text" and not isinstance(value, Mapping):
        raise FilterError("$text expects an object")
    elif name == "$jsonSchema" and not isinstance(value, Mapping):
        raise FilterError("$jsonSchema must be an object")
    elif name == "$sampleRate" and not (_is_number(value) and 0 <= float(_numeric(value)) <= 1):
        raise FilterError("numeric argument to $sampleRate must be in [0, 1]")
    elif name in ("$alwaysTrue", "$alwaysFalse"):
        if not _is_number(value):
            raise FilterError(f"Expected a number in: {name}: {value!r}")
        if _numeric(value) != 1:
            raise FilterError(f"{name} must be an integer value of 1")


def is_operator_document(value: Any) -> bool:
    """The server reads a condition as operators when its first field name starts with '$'."""
    return isinstance(value, Mapping) and bool(value) and str(next(iter(value))).startswith("$")


def _condition(field: str, value: Any) -> None:
    if not is_operator_document(value):
        _regex_flags(value)
        return  # equality to a value, a document or an array, whatever it holds
    operators = dict(value)
    for operator, operand in operators.items():
        if operator == "$where":
            raise FilterError("$where cannot be applied to a field")
        if operator not in _FIELD_OPERATORS:
            raise FilterError(f"unknown operator: {operator}")
        _operand(field, operator, operand, operators)


def _operand(field: str, operator: str, operand: Any, operators: Mapping[str, Any]) -> None:
    if operator in _COMPARISONS and isinstance(operand, Regex):
        raise FilterError(f"Can't have RegEx as arg to predicate over field '{field}'.")
    if operator == "$ne" and isinstance(operand, Regex):
        raise FilterError("Can't have regex as arg to $ne.")
    if operator in ("$in", "$nin"):
        if not isinstance(operand, (list, tuple)):
            raise FilterError(f"{operator} needs an array")
        if any(is_operator_document(item) for item in operand):
            raise FilterError(f"cannot nest $ under {operator}")
        for item in operand:
            _regex_flags(item)
    elif operator == "$all":
        if not isinstance(operand, (list, tuple)):
            raise FilterError("$all needs an array")
        matches = [isinstance(item, Mapping) and next(iter(item), None) == "$elemMatch" for item in operand]
        if any(matches) and not all(matches):
            raise FilterError("$all/$elemMatch has to be consistent")
        if not any(matches) and any(is_operator_document(item) for item in operand):
            raise FilterError("no $ expressions in $all")
        for item in operand:
            _regex_flags(item)
        for item in operand:
            if isinstance(item, Mapping) and next(iter(item), None) == "$elemMatch":
                _elem_match(field, item["$elemMatch"])
    elif operator == "$elemMatch":
        _elem_match(field, operand)
    elif operator == "$not":
        if isinstance(operand, Regex):
            _regex_flags(operand)
            return
        if not isinstance(operand, Mapping):
            raise FilterError("$not needs a regex or a document")
        if not operand:
            raise FilterError("$not cannot be empty")
        if not is_operator_document(operand):
            raise FilterError(f"unknown operator: {next(iter(operand))}")
        _condition(field, operand)
    elif operator == "$regex":
        if not isinstance(operand, (str, Regex)):
            raise FilterError("$regex has to be a string")
        if isinstance(operand, Regex) and operand.flags and "$options" in operators:
            raise FilterError("options set in both $regex and $options")
        _regex_flags(operand)
    elif operator == "$options":
        if "$regex" not in operators:
            raise FilterError("$options needs a $regex")
        if not isinstance(operand, str):
            raise FilterError("$options has to be a string")
        invalid = sorted(set(operand) - set(REGEX_FLAGS))
        if invalid:
            raise FilterError(f"invalid flag in regex options: {invalid[0]}")
    elif operator == "$type":
        _type_operand(field, operand)
    elif operator == "$size":
        _size_operand(operand)
    elif operator == "$mod":
        _mod_operand(operand)
    elif operator in _BITS:
        _bits_operand(field, operator, operand)


def is_elem_match_value(operand: Mapping[str, Any]) -> bool:
    """$elemMatch's value form ({$gte: 5}: operators on each element), not its object form ({b: 1}: a query on each)."""
    first = next(iter(operand), None)
    return first is not None and str(first).startswith("$") and first not in _TOP_LEVEL


def _elem_match(field: str, operand: Any) -> None:
    if not isinstance(operand, Mapping):
        raise FilterError("$elemMatch needs an Object")
    if is_elem_match_value(operand):
        _condition(field, operand)  # the value form: operators on each element
    else:
        _query(operand)  # the object form: a query on each element


def _type_operand(field: str, operand: Any) -> None:
    codes = operand if isinstance(operand, (list, tuple)) else [operand]
    if isinstance(operand, (list, tuple)) and not operand:
        raise FilterError(f"{field} must match at least one type")
    for code in codes:
        if isinstance(code, str):
            if code not in TYPE_ALIASES:
                raise FilterError(f"Unknown type name alias: {code}")
        elif not _is_number(code):
            raise FilterError("type must be represented as a number or a string")
        else:
            number = _numeric(code)
            if number != number or number not in TYPE_CODES:
                advice = ". Instead use {$exists:false}." if number == 0 else ""
                raise FilterError(f"Invalid numerical type code: {code}{advice}")


def type_names(operand: Any) -> list[str | int]:
    """The types a (valid) ``$type`` operand names: aliases as written, numeric codes as ints (2.0, Int64, Decimal128)."""
    codes = operand if isinstance(operand, (list, tuple)) else [operand]
    return [code if isinstance(code, str) else int(_numeric(code)) for code in codes]


def _size_operand(operand: Any) -> None:
    if not _is_number(operand):
        raise FilterError(f"Failed to parse $size. Expected a number in: $size: {operand!r}")
    number = _numeric(operand)
    if number != number:
        raise FilterError("Failed to parse $size. Expected an integer, but found NaN")
    if math.isinf(number) or number != int(number):
        raise FilterError(f"Failed to parse $size. Expected an integer: $size: {operand}")
    if number < 0:
        raise FilterError(f"Failed to parse $size. Expected a non-negative number in: $size: {operand}")
    if number > 2**31 - 1:
        raise FilterError(f"Failed to parse $size. Cannot represent $size: {operand} in an int")


def _mod_operand(operand: Any) -> None:
    if not isinstance(operand, (list, tuple)):
        raise FilterError("malformed mod, needs to be an array")
    if len(operand) < 2:
        raise FilterError("malformed mod, not enough elements")
    if len(operand) > 2:
        raise FilterError("malformed mod, too many elements")
    for label, value in zip(("divisor", "remainder"), operand):
        if not _is_number(value):
            raise FilterError(f"malformed mod, {label} not a number")
        number = _numeric(value)
        if number != number or math.isinf(number):
            raise FilterError(f"malformed mod, {label} value is invalid (NaN or infinity)")
    if int(_numeric(operand[0])) == 0:
        raise FilterError("divisor cannot be 0")


def _bits_operand(field: str, operator: str, operand: Any) -> None:
    if isinstance(operand, Binary) or isinstance(operand, bytes):
        return
    positions = operand if isinstance(operand, (list, tuple)) else None
    for value in positions if positions is not None else [operand]:
        if not _is_number(value):
            raise FilterError(f"{field} takes an Array, a number, or a BinData but received: {operator}: {value!r}")
        number = _numeric(value)
        if number != number or math.isinf(number) or number != int(number):
            raise FilterError(f"Expected an integer: {operator}: {value}")
        if number < 0:
            raise FilterError(f"Expected a non-negative number in: {operator}: {value}")
        if positions is not None and number > 2**31 - 1:
            raise FilterError(f"Failed to parse bit position. Cannot represent {value} in an int")


def _regex_flags(value: Any) -> None:
    """A regular expression's options must be ones PCRE takes through MongoDB (i, m, s, u, x); 'l' (locale) is not."""
    if isinstance(value, Regex) and value.flags & re.LOCALE:
        raise FilterError("invalid flag in regex options: l")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, Int64, Decimal128, Decimal)) and not isinstance(value, bool)


def _numeric(value: Any) -> Any:
    if isinstance(value, Decimal128):
        value = value.to_decimal()
    if isinstance(value, Decimal):
        return math.nan if value.is_nan() else float(value) if value.is_infinite() else value  # sNaN too
    return value
