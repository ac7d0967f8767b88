"""Model field paths to database field paths, refusing what MongoDB cannot shard on.

mongoengine names fields on the model (``player_id``) and in the database
(``pid``, through ``db_field``); a shard key is declared with the first and
lives on the server with the second.  Dotted paths go through
EmbeddedDocuments; free-form data (DictField, dynamic documents) passes
through unchanged.
"""

from __future__ import annotations

from typing import Any
from collections.abc import Mapping

from ..errors import DeclarationError

__all__ = ["FieldResolver", "key_fields", "meta_of", "key_paths"]


def meta_of(document_class: Any) -> dict[str, Any]:
    """The mongoengine meta of a Document class; DeclarationError for anything else (EmbeddedDocuments included)."""
    meta: dict[str, Any] | None = getattr(document_class, "_meta", None)
    if meta is None or not hasattr(document_class, "_fields") or not getattr(document_class, "_is_document", False):
        name = getattr(document_class, "__name__", None) or repr(document_class)[:60]
        raise DeclarationError(f"{name} is not a mongoengine Document class; only Documents have shard keys (an "
                               "EmbeddedDocument's fields are keyed through its Document, e.g. 'owner.pid')")
    return meta


# No database name can hold '<' or '>', so this never names a real one.
UNKNOWN_DATABASE = "<unknown>"

# Characters MongoDB refuses in a database name, and its length limit (64 bytes with the terminator).
_DATABASE_FORBIDDEN = set('/\\. "$*<>:|?') | {chr(c) for c in range(32)}
_DATABASE_MAX_BYTES = 63


def database_name_problem(name: Any) -> str | None:
    """Why ``name`` cannot be a MongoDB database name, or None."""
    if not isinstance(name, str) or not name:
        return "must be a non-empty string"
    if set(name) & _DATABASE_FORBIDDEN:
        return "holds a character MongoDB refuses in database names (/ \\ . space \" $ * < > : | ? or a control character)"
    if len(name.encode("utf-8", "surrogatepass")) > _DATABASE_MAX_BYTES:
        return f"is longer than MongoDB's {_DATABASE_MAX_BYTES} bytes"
    return None


def collection_name_problem(name: Any) -> str | None:
    """Why ``name`` cannot be a MongoDB collection name, or None."""
    if not isinstance(name, str) or not name or "$" in name or "\x00" in name:
        return "is one MongoDB refuses (empty, not a string, or holding '$' or a NUL byte)"
    return None


def key_paths(meta: Mapping[str, Any], model: str) -> tuple[str, ...]:
    """The declared key's model paths, in key order."""
    paths = meta.get("shard_key") or ()
    if isinstance(paths, str):
        # mongoengine iterates meta['shard_key'] (document.py, _object_key and _integrate_shard_key): a string is
        # read one character at a time, so every re-save, reload and delete fails once the app is deployed.
        raise DeclarationError(
            f"Model {model}: meta['shard_key'] is the string {paths!r}, which mongoengine reads one character at a "
            f"time; write a tuple: ({paths!r},)"
        )
    if isinstance(paths, Mapping):
        names = tuple(str(name) for name in paths)
        hashed = [str(name) for name, kind in paths.items() if kind == "hashed"]
        raise DeclarationError(
            f"Model {model}: meta['shard_key'] is a key pattern; mongoengine reads only its names and mongoshard would "
            f"lose the directions: write {names!r}" + (f" with shard_hashed={hashed[0]!r}" if hashed else "")
        )
    if not isinstance(paths, (tuple, list)) or not all(isinstance(path, str) and path for path in paths):
        raise DeclarationError(
            f"Model {model}: meta['shard_key'] must be a tuple of field names, e.g. ('user_id',), not {paths!r:.80}"
        )
    return tuple(paths)


class FieldResolver:
    """Model field paths to database field paths, refusing what MongoDB cannot shard on."""

    def __init__(self, document_class: type[Any], role: str = "shard key field") -> None:
        self.document_class = document_class
        self.name = document_class.__name__
        self.role = role  # what the path is, in messages: a shard key field, a looked-up field

    def resolve(self, path: str, *, hashed: bool = False) -> str:
        from mongoengine import fields as mf

        current: Any = self.document_class
        db_parts: list[str] = []
        parts = path.split(".")
        for position, part in enumerate(parts):
            found = self._field(current, part, path)
            if found is None:  # free-form remainder inside a DictField or a dynamic document
                db_parts.extend(parts[position:])
                break
            if isinstance(found, mf.ListField):
                raise DeclarationError(
                    f"Model {self.name}: {self.role} '{path}' goes through the list field '{part}'; "
                    "MongoDB cannot shard on arrays, so choose a scalar field"
                )
            db_parts.append(found.db_field)
            is_last = position == len(parts) - 1
            if isinstance(found, mf.EmbeddedDocumentField):
                if is_last and hashed:
                    raise DeclarationError(
                        f"Model {self.name}: hashed {self.role} '{path}' is an embedded document; "
                        "hash one of its scalar fields instead (e.g. '{path}.id')"
                    )
                current = found.document_type
            elif isinstance(found, mf.GenericEmbeddedDocumentField):
                # mongoengine's _lookup_field cannot follow it, so every save, reload and delete would fail (LookUpError)
                raise DeclarationError(
                    f"Model {self.name}: {self.role} '{path}' goes through the GenericEmbeddedDocumentField '{part}', "
                    "whose class mongoengine cannot know when it builds filters; use EmbeddedDocumentField(OneClass)"
                )
            elif isinstance(found, (mf.DictField, mf.DynamicField)):
                current = None
            elif not is_last:
                raise DeclarationError(
                    f"Model {self.name}: {self.role} path '{path}' continues past '{part}', which has no fields; "
                    "point at a field of an EmbeddedDocument"
                )
        return ".".join(db_parts)

    def field_at(self, path: str) -> Any:
        """The mongoengine field a (valid) key path ends at; None inside free-form data."""
        current: Any = self.document_class
        found = None
        for part in path.split("."):
            found = self._field(current, part, path)
            current = getattr(found, "document_type", None)
        return found

    def _field(self, owner: Any, part: str, path: str) -> Any:
        if owner is None:
            return None
        fields = owner._fields
        id_field = getattr(owner, "_meta", {}).get("id_field")
        if part in ("_id", "pk", "id") and part not in fields and id_field and owner is self.document_class:
            # mongoengine resolves key paths as model attributes: '_id' fails (AttributeError, LookUpError, #2096)
            # and 'pk' breaks modify(); the primary key has a model name.
            raise DeclarationError(
                f"Model {self.name}: {self.role} '{path}' is not a model field name; this model calls its primary "
                f"key '{id_field}': write '{path.replace(part, id_field, 1)}'"
            )
        if part in fields:
            return fields[part]
        by_database_name = [name for name, candidate in fields.items() if getattr(candidate, "db_field", None) == part]
        if by_database_name:
            raise DeclarationError(
                f"Model {self.name}: {self.role} '{path}' uses the database name '{part}'; mongoengine needs the "
                f"model name '{by_database_name[0]}' (declared with db_field='{part}')"
            )
        if getattr(owner, "_dynamic", False) and owner is not self.document_class:
            # an undeclared field of a DynamicEmbeddedDocument: mongoengine's _lookup_field cannot resolve it
            raise DeclarationError(
                f"Model {self.name}: {self.role} '{path}' names '{part}', which the DynamicEmbeddedDocument "
                f"{owner.__name__} does not declare; mongoengine cannot build save/delete filters on it: declare "
                f"'{part}' as a field of {owner.__name__}"
            )
        if getattr(owner, "_dynamic", False):
            return None
        known = ", ".join(sorted(name for name in fields if not name.startswith("_")))
        raise DeclarationError(
            f"Model {self.name}: {self.role} '{path}' is unknown ('{part}' is not a field of {owner.__name__}); "
            f"use one of: {known}"
        )

    def translate_bound(self, bound: Mapping[str, Any], key_fields: tuple[str, ...], label: str) -> dict[str, Any]:
        """A split point or zone bound in database field names, checked against the key."""
        if not isinstance(bound, Mapping):
            raise DeclarationError(f"Model {self.name}: {label} must map shard key fields to values")
        extra = [name for name in bound if name not in key_fields]
        if extra:
            raise DeclarationError(
                f"Model {self.name}: {label} names {extra}, which are not shard key fields {list(key_fields)}"
            )
        return {self.resolve(name): bound[name] for name in key_fields if name in bound}


def key_fields(document_class: type[Any]) -> list[tuple[str, str, Any]]:
    """(model path, database path, mongoengine field or None) of each declared key field, in key order."""
    paths = key_paths(meta_of(document_class), document_class.__name__)
    resolver = FieldResolver(document_class)
    return [(path, resolver.resolve(path), resolver.field_at(path)) for path in paths]
