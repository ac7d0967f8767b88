"""Shard keys declared on mongoengine Documents, validated into frozen ``ShardSpec``s.

Two spellings, one meaning.  In ``meta``::

    meta = {
        "shard_key": ("user_id", "caught_at"),   # mongoengine's own option
        "shard_hashed": "user_id",               # hash this key field (else ranged)
        "shard_unique": False,                   # unique shard key index (ranged only)
        "shard_presplit": 8,                     # hashed: initial chunks; ranged: split points
        "shard_zones": [Zone("EU", min={...}, max={...}, shards=("shard1",))],
        "shard_database": "game",                # overrides the db_alias' database
    }

or ``@sharded(key=..., hashed=..., presplit=..., zones=..., unique=...)``,
which writes that same meta so that mongoengine keeps adding the key fields to
the filters of save, update and delete.  The decorator also makes those
writes right for the key (``safe_writes``); a bare ``@sharded`` does only that,
over a key declared in ``meta``.
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass, field
from typing import Any, TypeVar
from collections.abc import Iterator, Mapping, Sequence

from ..errors import DeclarationError
from ..routing.splitting import ZoneRange
from ..routing.table import key_pattern_problem
from .fields import UNKNOWN_DATABASE, FieldResolver, collection_name_problem, database_name_problem, key_paths, meta_of
from .lookups import Lookup, LookupSpec, resolve_lookups
from .safe_writes import install_safe_writes
from .server_rules import check_declaration

__all__ = ["ShardSpec", "Zone", "sharded", "spec_for", "database_of", "deferred_declaration_errors", "META_OPTIONS", "HASHED"]

HASHED = "hashed"
META_OPTIONS = ("shard_key", "shard_hashed", "shard_unique", "shard_presplit", "shard_zones", "shard_database",
                "shard_lookups")
DocumentClass = TypeVar("DocumentClass", bound=type)
# While discovery imports an application, a bad @sharded declaration is that model's error, not its module's.
_deferring: contextvars.ContextVar[bool] = contextvars.ContextVar("mongoshard_deferring", default=False)
_DECLARATION_ERROR = "_mongoshard_declaration_error"


@contextlib.contextmanager
def deferred_declaration_errors() -> Iterator[None]:
    """Inside this block ``@sharded`` records a bad declaration on its class (``spec_for`` raises it) instead of
    failing the import of the whole module."""
    token = _deferring.set(True)
    try:
        yield
    finally:
        _deferring.reset(token)


@dataclass(frozen=True)
class Zone:
    """A zone: a key range pinned to a set of shards.

    ``min`` and ``max`` map key fields (model names when declared, database
    names in a ``ShardSpec``) to values; missing trailing fields mean MinKey.
    """

    name: str
    min: Mapping[str, Any]
    max: Mapping[str, Any]
    shards: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise DeclarationError(f"a zone's name must be a non-empty string, not {self.name!r:.60}")
        for side in ("min", "max"):
            if not isinstance(getattr(self, side), Mapping):
                raise DeclarationError(f"zone '{self.name}': {side} must be a document such as {{'region': 'EU'}}, "
                                       f"not {getattr(self, side)!r:.60}")
        if not isinstance(self.shards, (tuple, list)) or not all(isinstance(s, str) and s for s in self.shards):
            # a string would be read one character at a time, one shard per letter
            raise DeclarationError(f"zone '{self.name}': shards must be a tuple of shard names such as ('shard0',), "
                                   f"not {self.shards!r:.60}")
        object.__setattr__(self, "shards", tuple(self.shards))


@dataclass(frozen=True)
class ShardSpec:
    """How one collection is sharded.  Key fields are database field names, in key order.

    Every spec is checked against the server's rules when it is built, however it is built (``@sharded``, ``meta``,
    or ``ShardSpec(...)`` from Python), so that ``apply`` never sends a declaration the server refuses.
    """

    database: str
    collection: str
    key: tuple[tuple[str, int | str], ...]
    unique: bool = False
    initial_chunks: int | None = None
    split_points: tuple[Mapping[str, Any], ...] = ()
    zones: tuple[Zone, ...] = ()
    models: tuple[str, ...] = field(default=(), compare=False)
    lookups: tuple[LookupSpec, ...] = ()  # global secondary indexes of this collection (model.lookups)
    lookup_of: str | None = None  # for a lookup collection: "<owner namespace> <field>"

    def __post_init__(self) -> None:
        if not isinstance(self.models, tuple) or not all(isinstance(model, str) for model in self.models):
            raise DeclarationError(f"ShardSpec.models names the Document classes as 'module.Class' strings, "
                                   f"not {self.models!r:.60}")
        where = self.models[0].rsplit(".", 1)[-1] if self.models else self.namespace
        if not isinstance(self.key, tuple) or not self.key or not all(
                isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], str) and entry[0]
                and (entry[1] == HASHED or (entry[1] == 1 and not isinstance(entry[1], bool))) for entry in self.key):
            raise DeclarationError(f"Model {where}: the shard key must be a non-empty tuple of (field, 1 or \"hashed\") "
                                   f"pairs, e.g. (('user_id', 1),), not {self.key!r:.80}")
        if problem := key_pattern_problem(self.key):
            raise DeclarationError(f"Model {where}: the shard key {problem}")
        self._check_types(where)
        check_declaration(where, self.key,
                          unique=self.unique, initial_chunks=self.initial_chunks, split_points=self.split_points,
                          zones=self.zones)

    def _check_types(self, where: str) -> None:
        """What Python does not check: a spec built by hand gets a sentence, not a TypeError deep in apply."""
        if self.database != UNKNOWN_DATABASE and (problem := database_name_problem(self.database)):
            raise DeclarationError(f"Model {where}: the database name {self.database!r:.80} {problem}")
        if problem := collection_name_problem(self.collection):
            raise DeclarationError(f"Model {where}: the collection name {self.collection!r:.80} {problem}")
        if not isinstance(self.unique, bool):
            raise DeclarationError(f"Model {where}: unique must be True or False, not {self.unique!r:.80}")
        count = self.initial_chunks
        if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
            raise DeclarationError(f"Model {where}: initial_chunks must be a whole number of chunks, at least 1, or None, "
                                   f"not {count!r:.80}")
        if not isinstance(self.split_points, tuple) or not all(isinstance(p, Mapping) for p in self.split_points):
            raise DeclarationError(f"Model {where}: split_points must be a tuple of documents such as ({{'user_id': 100}},), "
                                   f"not {self.split_points!r:.80}")
        if not isinstance(self.zones, tuple) or not all(isinstance(z, Zone) for z in self.zones):
            raise DeclarationError(f"Model {where}: zones must be a tuple of Zone(name, min, max, shards), "
                                   f"not {self.zones!r:.80}")

    @property
    def namespace(self) -> str:
        return f"{self.database}.{self.collection}"

    @property
    def key_pattern(self) -> dict[str, int | str]:
        return dict(self.key)

    @property
    def hashed_field(self) -> str | None:
        return next((name for name, kind in self.key if kind == HASHED), None)

    @property
    def strategy(self) -> str:
        return HASHED if self.hashed_field else "ranged"

    def zone_ranges(self) -> list[ZoneRange]:
        return [ZoneRange(z.name, dict(z.min), dict(z.max), tuple(z.shards)) for z in self.zones]

    def lookup_specs(self) -> list[ShardSpec]:
        """The lookup collections of this collection, each sharded on the looked-up value."""
        return [ShardSpec(self.database, lookup.collection, lookup.key, lookup_of=f"{self.namespace} {lookup.path}")
                for lookup in self.lookups]


# The decorator ---------------------------------------------------------------------


def sharded(
    cls: DocumentClass | None = None,
    *,
    key: str | Sequence[str] | None = None,
    hashed: str | bool | None = None,
    strategy: str | None = None,
    presplit: int | Sequence[Mapping[str, Any]] | None = None,
    zones: Sequence[Zone | Mapping[str, Any]] = (),
    unique: bool = False,
    database: str | None = None,
    lookups: Sequence[Lookup] | None = None,
) -> Any:
    """Declare a Document's shard key; the same as setting the ``shard_*`` meta options, plus safe writes.

    ``hashed`` names the key field to hash (``True`` means the first one);
    ``strategy="hashed"`` or ``"ranged"`` says the same in words.  Without
    ``key``, the key is the one in ``meta['shard_key']``.
    """

    def decorate(document_class: DocumentClass) -> DocumentClass:
        try:
            _declare(document_class)
        except DeclarationError as error:
            if not _deferring.get():
                raise
            setattr(document_class, _DECLARATION_ERROR, error)
        return document_class

    def _declare(document_class: type[Any]) -> None:
        meta = meta_of(document_class)
        name = document_class.__name__
        declared_key = key_paths(meta, name)
        if key is None and not declared_key:
            raise DeclarationError(f"Model {name}: @sharded without key= needs meta['shard_key']; write @sharded(key=...)")
        key_fields = declared_key if key is None else (key,) if isinstance(key, str) else key
        if isinstance(key_fields, Mapping) or not isinstance(key_fields, (tuple, list)) or not all(
                isinstance(path, str) and path for path in key_fields):
            raise DeclarationError(f"Model {name}: key= must be a field name or a tuple of them, e.g. "
                                   f"key=('user_id', 'ts'), not {key!r:.80}")
        key_fields = tuple(key_fields)
        if not isinstance(unique, bool):
            raise DeclarationError(f"Model {name}: unique= must be True or False, not {unique!r:.40}")
        if database is not None and (problem := database_name_problem(database)):
            raise DeclarationError(f"Model {name}: database={database!r:.80} {problem}")
        hashed_field = _hashed_from_arguments(name, key_fields, hashed, strategy)
        declared = {
            "shard_key": key_fields,
            "shard_hashed": hashed_field,
            "shard_unique": unique or None,
            "shard_presplit": presplit,
            "shard_zones": (tuple(zones) if isinstance(zones, (list, tuple)) else zones) or None,
            "shard_database": database,
            "shard_lookups": tuple(lookups) if isinstance(lookups, (list, tuple)) else lookups,
        }
        for option, value in declared.items():
            current = meta.get(option)
            if value is not None and current not in (None, value):
                raise DeclarationError(
                    f"Model {name}: @sharded sets {option}={value!r} but the class's meta says {current!r}; "
                    "declare the shard key in one place only"
                )
        for option, value in declared.items():
            if value is not None:
                meta[option] = value
        validated = _validated_declaration(document_class)  # fail at import, not at apply
        install_safe_writes(document_class)
        if validated["lookups"]:
            from .lookup_writes import install_lookups

            install_lookups(document_class, validated["lookups"], [db for db, _ in validated["key"]])
        document_class._mongoshard_spelling = "meta" if key is None else "decorator"  # advice writes fixes this way

    return decorate(cls) if cls is not None else decorate


def _hashed_from_arguments(name: str, key: tuple[str, ...], hashed: str | bool | None, strategy: str | None) -> str | None:
    if strategy not in (None, HASHED, "ranged"):
        raise DeclarationError(f"Model {name}: strategy must be 'hashed' or 'ranged', not {strategy!r}")
    if hashed is True:
        hashed = key[0] if key else None
    elif hashed is False:
        hashed = None
    if strategy == HASHED and hashed is None:
        hashed = key[0] if key else None
    if strategy == "ranged" and hashed is not None:
        raise DeclarationError(f"Model {name}: strategy='ranged' contradicts hashed={hashed!r}; keep one of them")
    return hashed


# From a Document class to a ShardSpec ----------------------------------------------


def spec_for(document_class: type[Any], *, database: str | None = None, aliases: Mapping[str, str] | None = None,
             unknown_database: str | None = None) -> ShardSpec | None:
    """The validated spec of a Document class, or None when it declares no shard key.

    The database is ``database`` when given, else ``meta['shard_database']``,
    else ``aliases[db_alias]``, else the one registered with mongoengine for
    the class's ``db_alias``, else ``unknown_database`` (an error when None).
    """
    meta = meta_of(document_class)
    deferred = vars(document_class).get(_DECLARATION_ERROR)
    if deferred is not None:
        raise deferred
    if "shard_key" not in meta or meta.get("abstract") or not hasattr(document_class, "_get_collection_name"):
        return None
    chosen = database or meta.get("shard_database") or database_of(document_class, aliases or {}, unknown_database)
    if chosen != unknown_database and (problem := database_name_problem(chosen)):
        raise DeclarationError(f"Model {document_class.__name__}: the database name {chosen!r:.80} {problem}")
    collection = document_class._get_collection_name()
    if problem := collection_name_problem(collection):
        raise DeclarationError(f"Model {document_class.__name__}: the collection name {collection!r:.80} {problem}; "
                               "set meta['collection']")
    return ShardSpec(
        database=chosen,
        collection=collection,
        models=(f"{document_class.__module__}.{document_class.__qualname__}",),
        **_validated_declaration(document_class),
    )


def _validated_declaration(document_class: type[Any]) -> dict[str, Any]:
    """Key, uniqueness, pre-splitting and zones in database field names, or a DeclarationError."""
    meta = document_class._meta
    name = document_class.__name__
    key_fields = key_paths(meta, name)
    if not key_fields:
        raise DeclarationError(f"Model {name}: the shard key is empty; name at least one field, e.g. ('user_id',)")
    hashed = _declared_hashed(name, meta.get("shard_hashed"), key_fields)
    resolver = FieldResolver(document_class)
    key = tuple((resolver.resolve(path, hashed=path == hashed), HASHED if path == hashed else 1) for path in key_fields)
    unique = bool(meta.get("shard_unique", False))
    if len({db_name for db_name, _ in key}) != len(key):
        raise DeclarationError(f"Model {name}: the shard key names a field twice; list each field once")
    initial_chunks, split_points = _presplit(name, meta.get("shard_presplit"), hashed, resolver, key_fields)
    declared_zones = meta.get("shard_zones") or ()
    if isinstance(declared_zones, (str, bytes, Mapping)) or not isinstance(declared_zones, (list, tuple)):
        raise DeclarationError(f"Model {name}: zones must be a list of Zone(name, min, max, shards)")
    zones = tuple(_zone(name, z, resolver, key_fields) for z in declared_zones)
    check_declaration(name, key, unique=unique, initial_chunks=initial_chunks, split_points=split_points, zones=zones)
    lookups = resolve_lookups(document_class, document_class._get_collection_name(), key, meta.get("shard_lookups"))
    return {"key": key, "unique": unique, "initial_chunks": initial_chunks, "split_points": split_points, "zones": zones,
            "lookups": lookups}


def _declared_hashed(name: str, hashed: Any, key_fields: tuple[str, ...]) -> str | None:
    if hashed in (None, False):
        return None
    if hashed is True:
        return key_fields[0]
    if isinstance(hashed, (list, tuple)):
        if len(hashed) > 1:
            raise DeclarationError(
                f"Model {name}: only one shard key field can be hashed, not {list(hashed)}; hash one and range the rest"
            )
        hashed = hashed[0] if hashed else None
    if hashed is not None and hashed not in key_fields:
        raise DeclarationError(
            f"Model {name}: hashed field '{hashed}' is not in the shard key {key_fields}; add it to the key or hash a key field"
        )
    return None if hashed is None else str(hashed)


def _presplit(
    name: str, presplit: Any, hashed: str | None, resolver: FieldResolver, key_fields: tuple[str, ...]
) -> tuple[int | None, tuple[dict[str, Any], ...]]:
    if presplit is None:
        return None, ()
    if isinstance(presplit, int) and not isinstance(presplit, bool):
        if not hashed:
            raise DeclarationError(
                f"Model {name}: presplit={presplit} gives a number of initial chunks, which only a hashed key can have; "
                "give a list of split points for a ranged key"
            )
        if presplit < 1:
            raise DeclarationError(f"Model {name}: presplit must be at least 1 chunk, not {presplit}")
        return presplit, ()
    if isinstance(presplit, (Mapping, str, bytes)) or not isinstance(presplit, Sequence):
        raise DeclarationError(f"Model {name}: presplit must be a chunk count (hashed keys) or a list of split points")
    return None, tuple(resolver.translate_bound(point, key_fields, f"split point {point!r:.60}") for point in presplit)


def _zone(name: str, zone: Zone | Mapping[str, Any], resolver: FieldResolver, key_fields: tuple[str, ...]) -> Zone:
    if not isinstance(zone, (Zone, Mapping)):
        raise DeclarationError(f"Model {name}: a zone must be Zone(name, min, max, shards), not {zone!r:.60}")
    if isinstance(zone, Mapping):
        try:
            zone = Zone(zone["name"], zone["min"], zone["max"], zone.get("shards", ()))
        except KeyError as missing:
            raise DeclarationError(f"Model {name}: a zone needs 'name', 'min' and 'max'; {missing} is missing") from None
        except DeclarationError as problem:
            raise DeclarationError(f"Model {name}: {problem}") from None
    label = f"zone '{zone.name}'"
    return Zone(
        zone.name,
        resolver.translate_bound(zone.min, key_fields, label),
        resolver.translate_bound(zone.max, key_fields, label),
        zone.shards,
    )


def database_of(document_class: type[Any], aliases: Mapping[str, str], unknown: str | None) -> str:
    """The database name mongoengine will use for the class's db_alias, without connecting."""
    from mongoengine.connection import DEFAULT_CONNECTION_NAME, _connection_settings

    alias = document_class._meta.get("db_alias") or DEFAULT_CONNECTION_NAME
    if alias in aliases:
        return aliases[alias]
    settings = _connection_settings.get(alias)
    if settings is None and unknown is not None:
        return unknown
    if settings is None:
        raise DeclarationError(
            f"Model {document_class.__name__}: no database is registered for db_alias '{alias}'; "
            f"call mongoengine.register_connection('{alias}', db='NAME') in the models module, "
            "set meta['shard_database'], or pass database=... (--database on the command line)"
        )
    return str(settings["name"])
