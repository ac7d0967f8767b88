"""What the write-targeting rules need to know about a write on a key, whatever the chunks (``writes`` decides).

The facts are the server's own questions: does the filter pin the whole key by equality
(``extractShardKeyFromQuery``), is it an exact ``_id`` (``isExactIdQuery``: not when a collatable ``_id`` meets a
command collation other than the collection's default), which collation does ``findIntersectingChunk`` call simple
(no collation at all, or ``{locale: "simple"}``), and is the update written with operators, as a replacement or as a
pipeline (``validateUpdateDoc``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from collections.abc import Mapping, Sequence

from .bounds import HASHED, is_simple_collation
from .collation import check_collation
from .equality import shard_key_from_query
from .filters import validate_filter
from .ordering import canonical_type, sort_key
from .table import RoutingError

__all__ = ["Write", "WriteFacts", "WriteError", "WRITE_OPERATIONS", "Operation", "facts_of", "update_style", "collations_match"]

WRITE_OPERATIONS = ("insert", "update", "delete", "findAndModify")
Operation = Literal["insert", "update", "delete", "findAndModify"]
_COLLATABLE = (15, 20, 25)  # CollationIndexKey::isCollatableType: string (and symbol), object, array
# ICU's defaults: {locale: "fr"} and {locale: "fr", strength: 3} are one collator (collatorsMatch).
_COLLATION_DEFAULTS = {"strength": 3, "caseLevel": False, "caseFirst": "off", "numericOrdering": False,
                       "alternate": "non-ignorable", "maxVariable": "punct", "normalization": False, "backwards": False}


class WriteError(RoutingError):
    """A write this module cannot judge (an unknown operation, a malformed update)."""


@dataclass(frozen=True)
class Write:
    """One write statement as a driver sends it."""

    operation: Operation
    filter: Mapping[str, Any] | None = None  # q / query; None for an insert
    update: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None  # u: operators, a replacement or a pipeline
    document: Mapping[str, Any] | None = None  # the inserted document
    upsert: bool = False
    multi: bool = False
    collation: Mapping[str, Any] | None = None  # the command's; None: the collection's default applies
    in_transaction: bool = False

    def __post_init__(self) -> None:
        """What a driver would refuse to send, refused here in one sentence."""
        if self.operation not in WRITE_OPERATIONS:
            raise WriteError(f"unknown write operation {self.operation!r:.40}; use one of {', '.join(WRITE_OPERATIONS)}")
        for name in ("upsert", "multi", "in_transaction"):
            if not isinstance(getattr(self, name), bool):
                raise WriteError(f"Write.{name} must be True or False, not {getattr(self, name)!r:.40}")
        if self.operation == "insert":
            if not isinstance(self.document, Mapping):
                raise WriteError("an insert needs its document: Write('insert', document={...})")
        elif self.filter is not None and not isinstance(self.filter, Mapping):
            raise WriteError(f"a write's filter must be a document, not {type(self.filter).__name__}")
        if self.operation == "update" and self.update is None:
            raise WriteError("an update needs its update: operators, a replacement document or a pipeline")
        if self.update is not None:
            update_style(self.update)
            if isinstance(self.update, (list, tuple)) and (not self.update or not all(
                    isinstance(stage, Mapping) and len(stage) == 1 for stage in self.update)):
                raise WriteError("a pipeline update is a non-empty list of stages, each one {\"$stage\": ...}")
        if self.collation is not None:
            check_collation(self.collation)


@dataclass(frozen=True)
class WriteFacts:
    """What the rules need to know about a write on a key, whatever the chunks.

    ``reach`` is how many shards the filter reaches (C5: the equality shortcut, else the bounds): ``one``,
    ``several``, or ``unknown`` for a shape whose ranges may fall on one shard or several.
    """

    operation: Operation
    style: Literal["operators", "replacement", "pipeline", "none"]
    multi: bool
    upsert: bool
    in_transaction: bool
    reach: Literal["one", "several", "unknown"]
    one_owner: bool  # one shard owns every chunk (the 8.0 executor skips two-phase then)
    key_in_filter: bool  # the filter pins the whole key by equality (extractShardKeyFromQuery), collation aside
    key_collatable: bool  # that key holds a string, object or array value (hashed values are numbers)
    key_has_hashed: bool
    exact_id: bool  # isExactIdQuery: an _id equality that the command's collation does not loosen
    top_level_id: bool  # query.hasField("_id"), which useTwoPhaseProtocol's _id exemption also asks
    collation_simple: bool  # what findIntersectingChunk calls simple: no collation at all, or {locale: "simple"}
    command_matches_default: bool  # collatorsMatch(command's or simple, the collection's default)
    default_simple: bool
    id_in_key: bool = False
    document_problem: str | None = None  # the inserted or replacement document's key: an array on its path
    document_has_id: bool = True
    replacement_collatable: bool = False


# The update operators a mongod knows (modifier_table.cpp); any other $-name is "Unknown modifier".
UPDATE_MODIFIERS = frozenset({"$addToSet", "$bit", "$currentDate", "$inc", "$max", "$min", "$mul", "$pop", "$pull",
                              "$pullAll", "$push", "$rename", "$set", "$setOnInsert", "$unset"})


def update_style(update: Any) -> Literal["operators", "replacement", "pipeline", "none"]:
    """validateUpdateDoc: a list is a pipeline; a document is all $-operators or all fields, never both."""
    if update is None:
        return "none"
    if isinstance(update, (list, tuple)):
        return "pipeline"
    if not isinstance(update, Mapping):
        raise WriteError("an update must be a document of operators, a replacement document or a pipeline (a list)")
    dollars = {str(name).startswith("$") for name in update}
    if dollars == {True, False}:
        raise WriteError("the update mixes $operator and plain fields; MongoDB refuses that (UnsupportedFormat): "
                         "use {$set: {...}} or a whole replacement document")
    if dollars == {True}:
        for name, fields in update.items():
            # update_driver.cpp / modifier_table.cpp (checked on a real mongod 6.0.5: FailedToParse, code 9).
            if name not in UPDATE_MODIFIERS:
                raise WriteError(f"unknown update operator {name!r:.40}; MongoDB takes {', '.join(sorted(UPDATE_MODIFIERS))}")
            if not isinstance(fields, Mapping):
                raise WriteError(f"{name} takes a document of fields, e.g. {{{name}: {{'n': 1}}}}, not {fields!r:.40} "
                                 "(MongoDB refuses it: \"Modifiers operate on fields\")")
        return "operators"
    return "replacement"


def collations_match(first: Mapping[str, Any] | None, second: Mapping[str, Any] | None) -> bool:
    """CollatorInterface::collatorsMatch on collation documents (simple, absent and {} are one)."""
    def normal(collation: Mapping[str, Any] | None) -> dict[str, Any] | None:
        if is_simple_collation(collation):
            return None
        return {**_COLLATION_DEFAULTS, **{k: v for k, v in dict(collation or {}).items() if k != "version"}}

    return normal(first) == normal(second)


# Facts from a filter on a key ------------------------------------------------------------------------------------


def facts_of(write: Write, key_pattern: Sequence[tuple[str, Any]], *, default_collation: Mapping[str, Any] | None,
             reach: Literal["one", "several", "unknown"], one_owner: bool = False) -> WriteFacts:
    """The layout-free facts of ``write`` on a key (``reach`` comes from a layout, or from the filter's shape)."""
    if write.operation not in WRITE_OPERATIONS:
        raise WriteError(f"unknown write operation {write.operation!r}; use one of {', '.join(WRITE_OPERATIONS)}")
    style = update_style(write.update) if write.operation in ("update", "findAndModify") else "none"
    fields = [name for name, _ in key_pattern]
    query = write.filter or {}
    if write.operation != "insert":
        validate_filter(query)
    command = write.collation or None  # an empty collation is none: the collection's default applies
    key = shard_key_from_query(query, key_pattern) if write.operation != "insert" else None
    exact_id = _exact_id(query, command, default_collation)
    document = write.document if write.operation == "insert" else (write.update if style == "replacement" else None)
    problem, collatable_document = _document_key(document, key_pattern) if document is not None else (None, False)
    return WriteFacts(
        operation=write.operation, style=style, multi=write.multi and write.operation in ("update", "delete"),
        upsert=write.upsert and write.operation in ("update", "findAndModify"), in_transaction=write.in_transaction,
        reach=reach, one_owner=one_owner, key_in_filter=key is not None,
        key_collatable=key is not None and any(canonical_type(sort_key(v)) in _COLLATABLE for v in key.values()),
        key_has_hashed=any(kind == HASHED for _, kind in key_pattern), exact_id=exact_id, top_level_id="_id" in query,
        collation_simple=(command is None and is_simple_collation(default_collation)) or
                         (command is not None and is_simple_collation(command)),
        command_matches_default=collations_match(command, default_collation),
        default_simple=is_simple_collation(default_collation),
        id_in_key="_id" in fields, document_problem=problem,
        document_has_id=write.document is None or "_id" in write.document, replacement_collatable=collatable_document,
    )


def _exact_id(query: Mapping[str, Any], command: Mapping[str, Any] | None, default: Mapping[str, Any] | None) -> bool:
    """isExactIdQuery: an _id equality (the {_id: 1} virtual key), unless a collatable _id meets a command collation
    other than the collection's default."""
    found = shard_key_from_query(query, [("_id", 1)])
    if found is None:
        return False
    collatable = canonical_type(sort_key(found["_id"])) in _COLLATABLE
    return not (collatable and command is not None and not collations_match(command, default))


def _document_key(document: Any, key_pattern: Sequence[tuple[str, Any]]) -> tuple[str | None, bool]:
    """(problem, collatable): an array on a key path of the document, and whether its key holds collatable values."""
    if not isinstance(document, Mapping):
        return None, False
    collatable = False
    for name, kind in key_pattern:
        value: Any = document
        for part in name.split("."):
            if isinstance(value, (list, tuple)):
                return f"key field '{name}' has an array on its path", False
            value = value.get(part) if isinstance(value, Mapping) else None
        if isinstance(value, (list, tuple)):
            return f"key field '{name}' holds an array", False
        collatable = collatable or (kind != HASHED and value is not None and canonical_type(sort_key(value)) in _COLLATABLE)
    return None, collatable
