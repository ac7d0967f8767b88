"""What a key's fields say about it, read from the model: growth, cardinality, uniqueness, the write path.

Each rule returns ``(severity, rule, message, fix)``; fixes name the model's
own fields and are written the way the model declares its key (``meta`` or
``@sharded``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any
from collections.abc import Sequence

__all__ = ["KeyField", "key_fields_of", "candidate_problem", "candidate_field", "key_rules", "declaration_text", "unique_indexes",
           "LOW_CARDINALITY"]

# A key whose values number no more than this (per field) cannot be split finely enough.
LOW_CARDINALITY = 16
_COUNTER_WORDS = ("seq", "sequence", "counter", "serial", "increment", "created", "timestamp", "time", "ts")
# Field names that say "a date as text" ("date_str", "day", "created_on"): ISO dates sort as they grow.
_DATE_LIKE = re.compile(r"(^|_)(date|day|month|year|time|timestamp)(_|$)|_(at|on)$|^(date|day|month)", re.IGNORECASE)
# Field names that say "one value per entity": presumed many values, not worth an "unknown" finding.  Names alone are
# weak evidence, so only the strong ones count ("factor_name" or "index_code" may well take a dozen values); the model
# itself (unique, primary key, UUID and ObjectId fields) says more.
_IDENTIFIER = re.compile(r"(^|_)(id|uid|uuid|guid|email|hash|md5|sha\d*|sku|asin)$", re.IGNORECASE)

Rule = tuple[str, str, str, str]


@dataclass(frozen=True)
class KeyField:
    path: str  # model path, as declared
    db: str  # database path, as in the key pattern
    field: Any  # the mongoengine field, None inside free-form data


def key_fields_of(model: type[Any], key: Sequence[tuple[str, Any]]) -> list[KeyField]:
    """The key's fields on ``model``, from database paths back to model paths (declared and candidate keys alike)."""
    found = []
    for db_path, _ in key:
        owner: Any = model
        model_parts: list[str] = []
        field = None
        for part in db_path.split("."):
            fields = getattr(owner, "_fields", {}) if owner is not None else {}
            name = next((n for n, f in fields.items() if getattr(f, "db_field", n) == part), None)
            field = fields.get(name) if name else None
            model_parts.append(name or part)
            owner = getattr(field, "document_type", None) if field is not None else None
        found.append(KeyField(".".join(model_parts), db_path, field))
    return found


def candidate_problem(model: type[Any], pattern: Sequence[str]) -> str | None:
    """Why a candidate key (database field names) cannot be a key of ``model``'s documents, or None."""
    from mongoengine import fields as mf

    for db_path in pattern:
        owner: Any = model
        for part in db_path.split("."):
            fields = getattr(owner, "_fields", None)
            if fields is None:  # inside free-form data (DictField, dynamic): anything may be there
                break
            found = next((f for f in fields.values() if getattr(f, "db_field", None) == part), None)
            if found is None:
                by_model_name = fields.get(part)
                if by_model_name is not None:
                    return (f"'{db_path}' names the model field '{part}', stored as '{by_model_name.db_field}': "
                            "keys use database names")
                if getattr(owner, "_dynamic", False):
                    break
                stored = ", ".join(sorted(f.db_field for f in fields.values()))
                return f"'{db_path}': {owner.__name__} has no field stored as '{part}' (its fields: {stored})"
            if isinstance(found, mf.ListField):
                return f"'{db_path}' goes through the list field '{part}': MongoDB refuses arrays in shard keys"
            owner = getattr(found, "document_type", None) if isinstance(found, mf.EmbeddedDocumentField) else None
    return None


def declaration_text(model: type[Any], paths: Sequence[str], hashed: str | None = None) -> str:
    """A key declaration as the model writes its own: ``@sharded(...)`` or ``meta = {...}``."""
    key = repr(paths[0]) if len(paths) == 1 else repr(tuple(paths))
    spelling = vars(model).get("_mongoshard_spelling") or ("meta" if "shard_key" in model._meta else "decorator")
    if spelling == "meta":
        return f'meta["shard_key"] = {tuple(paths)!r}' + (f', meta["shard_hashed"] = {hashed!r}' if hashed else "")
    hashed_text = "" if not hashed else ", hashed=True" if hashed == paths[0] else f", hashed={hashed!r}"
    return f"@sharded(key={key}{hashed_text})"


def key_rules(model: type[Any], fields: list[KeyField], hashed: str | None, namespace: str) -> list[Rule]:
    return [*_growth(model, fields, hashed), *_text_identifier(model, fields, hashed, namespace),
            *_cardinality(model, fields, namespace), *_primary_key(model, fields), *_unique(model, fields),
            *_write_path(model, fields)]


def _text_identifier(model: type[Any], fields: list[KeyField], hashed: str | None, namespace: str) -> list[Rule]:
    """An identifier kept as text ("execution_id"): the model cannot say whether it holds str(ObjectId()) values, which
    grow, or names, which do not; a sample can."""
    from mongoengine import fields as mf

    first = fields[0]
    name = first.path.rsplit(".", 1)[-1]
    if hashed or not isinstance(first.field, mf.StringField) or getattr(first.field, "choices", None) or not re.search(
            r"(^|_)id$", name, re.IGNORECASE):
        return []
    namespace = namespace.replace("<unknown>", "DATABASE", 1)
    return [("info", "unknown-growth",
             f"the ranged key starts with '{first.path}', an identifier kept as text: if it holds str(ObjectId()) "
             "values, they start with their creation time and every insert lands in the last chunk; the model cannot "
             "say which",
             f"look at its growth on a sample: mongoshard simulate --collection {namespace} --uri ... --key "
             f"'{{\"{first.db}\": 1}}' (its monotonicity column), or hash it: "
             f"{declaration_text(model, [f.path for f in fields], first.path)}")]


def _growth_of(model: type[Any], key_field: KeyField) -> tuple[str, str] | None:
    """(severity, why) when the field's values grow with time, None otherwise."""
    from mongoengine import fields as mf

    field, name = key_field.field, key_field.path.rsplit(".", 1)[-1]
    is_primary_key = key_field.path in ("id", "pk", model._meta.get("id_field"))
    if is_primary_key and (field is None or isinstance(field, mf.ObjectIdField)):
        return "error", "an ObjectId assigned at insert, which starts with its creation time"
    if isinstance(field, mf.ObjectIdField):
        return "warning", "an ObjectId, which starts with the creation time of what it points at"
    if isinstance(field, (mf.ReferenceField, mf.LazyReferenceField, mf.CachedReferenceField)):
        return _reference_growth(field)
    if isinstance(field, (mf.DateTimeField, mf.ComplexDateTimeField, mf.DateField)):
        return "error", "a date, and new documents carry the latest one"
    if isinstance(field, mf.SequenceField):
        return "error", "a SequenceField, a counter"
    counter_name = any(name.lower() == w or name.lower().endswith("_" + w) for w in _COUNTER_WORDS)
    if isinstance(field, (mf.IntField, mf.LongField)) and counter_name:
        return "error", f"a counter ('{name}')"
    if isinstance(field, mf.StringField) and not getattr(field, "choices", None) and _DATE_LIKE.search(name):
        return "error", f"by its name ('{name}') a date written as text, which sorts as it grows ('2024-05-01' < '2024-05-02')"
    return None


def _reference_growth(field: Any) -> tuple[str, str] | None:
    """A reference stores the referenced document's primary key: an ObjectId grows, a counter grows, a name does not."""
    from mongoengine import fields as mf
    from mongoengine.errors import NotRegistered

    try:
        target = field.document_type
    except NotRegistered:
        return None  # a model not imported: unknown, so nothing said
    primary = target._fields.get(target._meta.get("id_field")) if hasattr(target, "_fields") else None
    if primary is None or isinstance(primary, mf.ObjectIdField):
        return "warning", (f"a reference to {getattr(target, '__name__', 'a document')}, whose primary key is an ObjectId "
                           "that starts with the creation time of what it points at")
    if isinstance(primary, mf.SequenceField):
        return "error", f"a reference to {target.__name__}, whose primary key is a counter"
    return None


def _hashed_index_fields(model: type[Any]) -> set[str]:
    """Fields the model indexes hashed ("#field", the app's own sign that it shards or means to shard them so)."""
    hashed = set()
    for index in model._meta.get("indexes") or ():
        entries = index.get("fields", ()) if isinstance(index, dict) else (index,) if isinstance(index, str) else index
        hashed |= {entry[1:] for entry in entries if isinstance(entry, str) and entry.startswith("#")}
    return hashed


def _growth(model: type[Any], fields: list[KeyField], hashed: str | None) -> list[Rule]:
    first = fields[0]
    found = _growth_of(model, first)
    if hashed or found is None:
        return []
    severity, why = found
    paths = [f.path for f in fields]
    if first.path in _hashed_index_fields(model) or first.path in ("id", "pk") and "id" in _hashed_index_fields(model):
        return [("warning", "hashed-index-not-declared",
                 f"the key is declared ranged on '{first.path}', {why}, but the model indexes '#{first.path}' (hashed): "
                 "if the collection is sharded hashed, mongoshard must be told, or it predicts and applies a ranged key",
                 f"declare it hashed: {declaration_text(model, paths, first.path)}")]
    partner = _high_cardinality_partner(model, fields)
    consequence = ("every insert lands in the chunk that ends at MaxKey" if severity == "error" else
                   "if new documents mostly point at recent ones, inserts pile onto the chunk that ends at MaxKey")
    spread = (f"put a field with many values first, e.g. {declaration_text(model, [partner, *paths])}" if partner
              else "put one of your fields with many values in front of it")
    return [(severity, "monotonic-key",
             f"the ranged key starts with '{first.path}', {why}: {consequence}, so one shard takes the writes while "
             "the others idle (a hot spot)",
             f"hash it ({declaration_text(model, [first.path], first.path)}) if you never query ranges of it, or "
             f"{spread}, so that writes spread over its ranges")]


def _high_cardinality_partner(model: type[Any], fields: list[KeyField]) -> str | None:
    """A field of the model, outside the key, whose name says it identifies an entity (sensor_id, user, email)."""
    from mongoengine import fields as mf

    taken = {f.path.split(".")[0] for f in fields} | {model._meta.get("id_field"), "id"}
    for name, field in model._fields.items():
        if name in taken or name.startswith("_") or isinstance(field, (mf.ListField, mf.DictField, mf.EmbeddedDocumentField)):
            continue
        candidate = KeyField(name, getattr(field, "db_field", name), field)
        if _presumed_many(model, candidate) and _growth_of(model, candidate) is None:
            return name
    return None


def candidate_field(model: type[Any]) -> str | None:
    """A field whose values are many by the model's own word (unique, an identifier, a reference to a named
    document) and do not grow, as stored: a first candidate key for a collection without one."""
    name = _high_cardinality_partner(model, [])
    return getattr(model._fields[name], "db_field", name) if name else None


def _value_count(field: Any) -> int | None:
    from mongoengine import fields as mf

    if isinstance(field, mf.BooleanField):
        return 2
    if isinstance(field, (mf.GenericReferenceField, mf.ReferenceField, mf.GenericLazyReferenceField)):
        return None  # choices there are document classes, and each of them has many documents
    choices = getattr(field, "choices", None)
    return len(choices) if choices else None


def _presumed_many(model: type[Any], key_field: KeyField) -> bool:
    """Unique fields, primary keys, UUIDs, references, identifiers, dates, ObjectIds and counters have many values (even
    if they grow)."""
    from mongoengine import fields as mf

    field = key_field.field
    if field is not None and (getattr(field, "unique", False) or getattr(field, "primary_key", False) or
                              isinstance(field, (mf.UUIDField, mf.GenericReferenceField, mf.ReferenceField,
                                                 mf.LazyReferenceField, mf.CachedReferenceField))):
        return True
    if any(index[:1] == (key_field.db,) for index in unique_indexes(model)):
        return True
    return bool(_IDENTIFIER.search(key_field.path.rsplit(".", 1)[-1])) or _growth_of(model, key_field) is not None


def _cardinality(model: type[Any], fields: list[KeyField], namespace: str) -> list[Rule]:
    counts = [_value_count(f.field) for f in fields]
    known = [count for count in counts if count is not None]
    paths = ", ".join(f.path for f in fields)
    if len(known) == len(counts) and all(count <= LOW_CARDINALITY for count in known):
        combinations = math.prod(known)
        partner = _high_cardinality_partner(model, fields)
        return [("error", "low-cardinality",
                 f"the key ({paths}) has at most {combinations} distinct values: a chunk never splits below one value, "
                 "so chunks grow past the size limit (jumbo) and the balancer cannot move them",
                 f"add a field with many values after it, e.g. {declaration_text(model, [f.path for f in fields] + [partner])}"
                 if partner else "add a field with many values after it (an identifier of yours), or choose another key")]
    leading = fields[0]
    if counts[0] is None and not _presumed_many(model, leading):
        pattern = "{" + ", ".join(f'"{f.db}": 1' for f in fields) + "}"
        namespace = namespace.replace("<unknown>", "DATABASE", 1)
        grows = next((f.path for f in fields[1:] if _growth_of(model, f) is not None), None)
        after = (f"; behind it '{grows}' grows, so each value of '{leading.path}' takes its inserts at its own end of "
                 "the key: few values mean few hot chunks") if grows else ""
        return [("info", "unknown-cardinality",
                 f"the model does not say how many values '{leading.path}', the key's leading field, takes (no choices, "
                 f"not unique, not an identifier): if it is few, chunks cannot split below one value{after}",
                 f"measure it on a sample: mongoshard simulate SAMPLE --key '{pattern}' (SAMPLE: a JSON lines export of "
                 f"{namespace}, or --collection {namespace} --uri ...)")]
    return []


def unique_indexes(model: type[Any]) -> list[tuple[str, ...]]:
    """Database field names of every unique index a model declares (mongoengine lists field-level ones too)."""
    specs = model._meta.get("index_specs") or []
    return list(dict.fromkeys(tuple(name for name, _ in spec["fields"]) for spec in specs if spec.get("unique")))


def _unique(model: type[Any], fields: list[KeyField]) -> list[Rule]:
    key = [f.db for f in fields]
    # A key of _id alone keeps _id unique across shards, so every unique index holding _id stays unique.
    return [("error", "unenforceable-unique",
             f"the unique index on ({', '.join(index)}) does not start with the shard key ({', '.join(key)}): "
             "MongoDB refuses to create or keep it on a sharded collection, so the uniqueness would be lost",
             "make the shard key a prefix of the unique index, or enforce uniqueness in a separate collection "
             "sharded by that field")
            for index in unique_indexes(model) if list(index[: len(key)]) != key and not (key == ["_id"] and "_id" in index)]


def _primary_key(model: type[Any], fields: list[KeyField]) -> list[Rule]:
    from mongoengine import fields as mf

    id_field = model._meta.get("id_field")
    field = model._fields.get(id_field)
    assigned = field is not None and not (isinstance(field, mf.ObjectIdField) and id_field == "id")
    if not assigned or isinstance(field, mf.SequenceField) or any(f.db == "_id" for f in fields):
        return []
    return [("warning", "primary-key-outside-key",
             f"the primary key '{id_field}' is assigned by the application and is not in the shard key: MongoDB keeps _id "
             "unique on each shard only, so two documents with the same _id on two shards are not refused",
             f"make '{id_field}' unique by construction (UUIDs, ObjectIds), or add it to the key: "
             f"{declaration_text(model, [f.path for f in fields] + [id_field])}")]


def _write_path(model: type[Any], fields: list[KeyField]) -> list[Rule]:
    """mongoengine's own traps (facts sheet, "mongoengine write paths"), for models whose writes mongoshard does not
    make safe (declared in meta only)."""
    from ..model.safe_writes import has_safe_writes

    if has_safe_writes(model) or "shard_key" not in model._meta:
        return []
    traps = []
    if any(f.db == "_id" for f in fields):
        traps.append("a key on the primary key makes update/modify/reload/delete filter on {$and: [{_id}, {_id}]}, "
                     "which mongos before 7.1 refuses (mongoengine #2772)")
    if any("." in f.path for f in fields):
        traps.append("a changed embedded key field is not caught and save() upserts on the new value: a second "
                     "document with the same _id on another shard (mongoengine #551)")
    optional = [f.path for f in fields if f.field is not None and not getattr(f.field, "required", False) and f.db != "_id"]
    if optional:
        traps.append(f"an absent {', '.join(optional)} makes save() raise KeyError")
    if not traps:
        return []
    return [("warning", "mongoengine-write-path", "; ".join(traps),
             f"decorate {model.__name__} with a bare @sharded (it keeps meta's key) so that mongoshard makes its writes "
             "filter on the loaded key and refuse key changes before sending")]
