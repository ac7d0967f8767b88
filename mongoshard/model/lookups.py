"""Global secondary indexes ("lookups"): a field outside the shard key made unique across shards and readable with
targeted queries, the way DDIA ch. 6 calls term-partitioned indexes and Vitess builds ``lookup_unique`` vindexes.

Each lookup of a Document is its own collection, ``<collection>.by_<field>``, partitioned by the looked-up value:

* unique: ``{_id: value, key: {<owner's shard key>}, owner: <owner _id>}``, sharded on ``{_id: "hashed"}`` (or
  ``{_id: 1}`` ranged): every copy of one value hashes to one chunk, so the ``_id`` index, unique on each shard, is
  unique across the cluster (MongoDB's "proxy collection" pattern for uniqueness on a sharded collection);
* not unique: ``{_id: <generated>, value: v, key: {...}, owner: <owner _id>}``, sharded on ``{value: "hashed"}``
  (or ranged), one entry per owner holding the value.

A document whose looked-up field is null or missing has no entry (unique lookups are sparse).  The writes that keep
entries exact are in ``lookup_writes``; ``cluster.lookups`` builds and verifies them for existing data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from collections.abc import Sequence

from ..errors import DeclarationError
from .fields import FieldResolver, collection_name_problem

__all__ = ["Lookup", "LookupSpec", "resolve_lookups", "routed_lookup", "LOOKUP_STRATEGIES"]

LOOKUP_STRATEGIES = ("hashed", "ranged")
# mongoengine fields stored as arrays (a list field is refused by the resolver already)
_ARRAY_FIELDS = {"GeoPointField", "PointField", "LineStringField", "PolygonField", "MultiPointField",
                 "MultiLineStringField", "MultiPolygonField"}


@dataclass(frozen=True)
class Lookup:
    """A lookup as declared: ``Lookup("email", unique=True)``; reads by the field go through it (``route_reads``,
    on by default for unique lookups)."""

    field: str
    unique: bool = False
    strategy: str = "hashed"
    route_reads: bool | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.field, str) or not self.field:
            raise DeclarationError(f"Lookup needs a field name such as Lookup('email'), not {self.field!r:.60}")
        for name in ("unique",):
            if not isinstance(getattr(self, name), bool):
                raise DeclarationError(f"Lookup({self.field!r}).{name} must be True or False, not {getattr(self, name)!r:.40}")
        if self.route_reads is not None and not isinstance(self.route_reads, bool):
            raise DeclarationError(f"Lookup({self.field!r}).route_reads must be True, False or None, "
                                   f"not {self.route_reads!r:.40}")
        if self.strategy not in LOOKUP_STRATEGIES:
            raise DeclarationError(f"Lookup({self.field!r}).strategy must be 'hashed' or 'ranged', not {self.strategy!r:.40}")


@dataclass(frozen=True)
class LookupSpec:
    """A lookup resolved on its Document: the field's model path and database path, and its collection."""

    path: str  # as the model names it ("profile.email")
    db_field: str  # as the database stores it
    collection: str  # "<owner collection>.by_<db_field>"
    unique: bool
    hashed: bool
    route_reads: bool

    @property
    def key(self) -> tuple[tuple[str, int | str], ...]:
        """The lookup collection's shard key: its _id (the value) when unique, else the value field."""
        return (("_id" if self.unique else "value", "hashed" if self.hashed else 1),)

    @property
    def query_name(self) -> str:
        """The field as mongoengine's query keywords write it (``profile__email``)."""
        return self.path.replace(".", "__")


def resolve_lookups(document_class: type[Any], collection: str, key: Sequence[tuple[str, Any]],
                    declared: Any) -> tuple[LookupSpec, ...]:
    """The declared lookups of a class, resolved, or a DeclarationError naming the model and the field."""
    if declared is None:
        return ()
    name = document_class.__name__
    if isinstance(declared, (str, bytes, Lookup)) or not isinstance(declared, (list, tuple)):
        raise DeclarationError(f"Model {name}: lookups must be a list of Lookup(field, ...), not {declared!r:.60}")
    resolver = FieldResolver(document_class, role="looked-up field")
    key_fields = {db for db, _ in key}
    found: list[LookupSpec] = []
    for lookup in declared:
        if not isinstance(lookup, Lookup):
            raise DeclarationError(f"Model {name}: lookups must be Lookup(field, ...) objects, not {lookup!r:.60}")
        if lookup.field in ("id", "pk", "_id", document_class._meta.get("id_field")):
            raise DeclarationError(f"Model {name}: Lookup({lookup.field!r}) looks up the primary key, which reads by "
                                   "_id already reach one shard; drop it")
        db_field = resolver.resolve(lookup.field)
        if type(resolver.field_at(lookup.field)).__name__ in _ARRAY_FIELDS:
            raise DeclarationError(f"Model {name}: Lookup({lookup.field!r}) is a geo field, stored as an array, and a "
                                   "lookup holds one value per document; look up a scalar field")
        if db_field in key_fields or any(db_field.startswith(k + ".") or k.startswith(db_field + ".") for k in key_fields):
            raise DeclarationError(f"Model {name}: Lookup({lookup.field!r}) names a shard key field; a query on it is "
                                   "targeted already, so drop the lookup")
        if any(other.db_field == db_field for other in found):
            raise DeclarationError(f"Model {name}: Lookup({lookup.field!r}) is declared twice; keep one")
        lookup_collection = f"{collection}.by_{db_field}"
        if problem := collection_name_problem(lookup_collection):
            raise DeclarationError(f"Model {name}: the lookup collection {lookup_collection!r:.80} {problem}")
        route = lookup.unique if lookup.route_reads is None else lookup.route_reads
        found.append(LookupSpec(lookup.field, db_field, lookup_collection, lookup.unique, lookup.strategy == "hashed", route))
    return tuple(found)


def routed_lookup(lookups: Sequence[LookupSpec], filter_document: Any) -> tuple[LookupSpec, dict[str, Any]] | None:
    """The lookup a read by ``filter_document`` goes through (an equality on a routed looked-up field at its top
    level, as ``lookup_writes`` routes it), with the filter of the lookup read; None when it reads as before."""
    if not isinstance(filter_document, dict):
        return None
    for lookup in lookups:
        value = filter_document.get(lookup.db_field)
        if not lookup.route_reads or lookup.db_field not in filter_document:
            continue
        if isinstance(value, dict) and any(str(name).startswith("$") for name in value):
            if set(value) != {"$eq"}:
                continue
            value = value["$eq"]
        if value is None:  # null has no entries (lookups are sparse): such a read goes to the owners as before
            continue
        return lookup, {"_id" if lookup.unique else "value": value}
    return None
