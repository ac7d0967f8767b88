"""Shard key advice: each finding in plain words, with the fix written in the model's own fields and spelling.

Rules read the key (declared, or a candidate given with ``--key``) and the
model's fields (``key_rules``), and, when given, an audit log of real queries:

* ``monotonic-key`` (ObjectId primary keys, dates, date-like strings,
  sequences, counters) and ``hashed-index-not-declared`` when the model's own
  ``#field`` index says the key is hashed;
* ``low-cardinality`` and ``unknown-cardinality`` (with the ``simulate``
  command that measures it);
* ``unenforceable-unique``, ``primary-key-outside-key``,
  ``mongoengine-write-path`` (models whose writes mongoshard does not guard);
* ``scatter-gather-queries`` and ``hashed-range-queries`` from the audit log,
  examples ordered by how often they were seen;
* ``unsharded-collection``: the Documents without a key, each with the unique
  indexes any key of theirs must start with;
* ``other-collections``: a model whose module calls ``switch_collection`` or
  ``switch_db`` (one collection per entity), whose other collections neither
  ``keys`` nor ``apply`` see; with ``collection_patterns`` the audited queries
  of the collections matching the model's pattern are judged under its key.

Severity: ``error`` (fix before sharding), ``warning`` (know the cost), ``info``.
"""

from __future__ import annotations

import fnmatch
import importlib
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any
from collections.abc import Iterable, Mapping, Sequence

from ..errors import DeclarationError
from ..model.declaration import ShardSpec
from ..model.discovery import switches_collection
from ..reports.audit import classify
from .key_rules import candidate_field, key_fields_of, key_rules, unique_indexes

__all__ = ["advise", "candidate_spec", "model_of", "Finding", "SEVERITIES"]

SEVERITIES = ("error", "warning", "info")
# Audit shares from which a query shape is worth a finding.
FREQUENT_SHARE = 0.10
_RANGE_OPERATORS = {"$gt", "$gte", "$lt", "$lte"}


@dataclass(frozen=True)
class Finding:
    severity: str
    rule: str
    namespace: str
    model: str
    message: str
    fix: str
    key: str = ""  # the key the finding is about, e.g. '{buyer.cid: 1, number: 1}'; empty for a collection


def advise(specs: Iterable[ShardSpec], audit_records: Sequence[Mapping[str, Any]] = (), *,
           unsharded: Sequence[type[Any]] = (), database: str | None = None,
           collection_patterns: Mapping[str, str] | None = None) -> list[Finding]:
    """Findings for every spec (declared or candidate) and every unsharded collection (its Documents together: one
    inherited collection is one finding, in ``database`` when the models do not say theirs), errors first.

    ``collection_patterns`` maps a model's name to a glob of the collections it also writes to (``quotes_*``), whose
    audited queries are judged under its key."""
    from ..routing.table import key_text

    findings: list[Finding] = []
    if isinstance(specs, (str, bytes, Mapping)) or not isinstance(specs, Iterable):
        raise DeclarationError(f"advise needs the ShardSpecs that discover('myapp.models') returns, not {specs!r:.60}")
    specs = list(specs)
    if isinstance(unsharded, (str, bytes)) or not all(isinstance(model, type) for model in unsharded):
        raise DeclarationError(f"advise's unsharded are Document classes, not {unsharded!r:.60}")
    if not all(isinstance(spec, ShardSpec) for spec in specs):
        raise DeclarationError("advise needs ShardSpecs, such as discover('myapp.models') returns; "
                               f"got {next(s for s in specs if not isinstance(s, ShardSpec))!r:.60}")
    # a pattern never takes in the collections the application's other models own
    owned = {spec.namespace for spec in specs} | {f"{_database(m, database)}.{m._get_collection_name()}" for m in unsharded}
    for spec in specs:
        model = model_of(spec)
        fields = key_fields_of(model, spec.key)
        label = key_text(spec.key_pattern)
        for severity, rule, message, fix in key_rules(model, fields, spec.hashed_field, spec.namespace):
            findings.append(Finding(severity, rule, spec.namespace, model.__name__, message, fix, label))
        pattern = (collection_patterns or {}).get(model.__name__)
        findings += [replace(f, key=label) for f in
                     _query_findings(spec, model, [r for r in audit_records if _belongs(r, spec, pattern, owned)])]
        findings += _other_collections(model, spec.namespace, pattern, audit_records)
    by_collection: dict[str, list[type[Any]]] = {}
    for model in unsharded:
        by_collection.setdefault(f"{_database(model, database)}.{model._get_collection_name()}", []).append(model)
    findings += [_unsharded(namespace, models) for namespace, models in by_collection.items()]
    for namespace, models in by_collection.items():
        findings += _other_collections(models[0], namespace, (collection_patterns or {}).get(models[0].__name__), audit_records)
    return sorted(dict.fromkeys(findings), key=lambda f: (SEVERITIES.index(f.severity), f.namespace, f.key, f.rule))


def candidate_spec(model: type[Any], namespace: str, pattern: Mapping[str, Any]) -> ShardSpec:
    """A candidate key (database field names) for ``model``, to advise on before declaring it."""
    database, _, collection = namespace.partition(".")
    return ShardSpec(database=database, collection=collection, key=tuple(pattern.items()),
                     models=(f"{model.__module__}.{model.__qualname__}",))


def model_of(spec: ShardSpec) -> type[Any]:
    """The Document class a spec was read from (its first model)."""
    if not spec.models:
        raise DeclarationError(f"{spec.namespace}: this ShardSpec names no model, and advice reads the model's fields; "
                               "build it with spec_for(Model) or candidate_spec(Model, namespace, key)")
    module, _, name = spec.models[0].rpartition(".")
    return getattr(importlib.import_module(module), name)


def _database(model: type[Any], database: str | None) -> str:
    """The database a model's collection lives in, or DATABASE when nothing says."""
    from ..model.declaration import database_of

    return database or model._meta.get("shard_database") or database_of(model, {}, "DATABASE")


def _unsharded(namespace: str, models: list[type[Any]]) -> Finding:
    """One collection without a key, whatever number of (inherited) models share it."""
    model = models[0]
    constraints = unique_indexes(model)
    leading = sorted({index[0] for index in constraints})
    listed = "(" + "), (".join(", ".join(index) for index in constraints) + ")"
    if not constraints:
        constrained = "no unique index constrains its key"
    elif len(leading) == 1:
        constrained = f"its unique indexes {listed} stay enforceable under a key that starts with {leading[0]}"
    else:
        constrained = (f"its unique indexes {listed} must each start with the key, and no key starts them all: "
                       f"a key on {leading[0]} keeps only the ones on {leading[0]}; enforce the others elsewhere")
    names = model.__name__ + (f" and {len(models) - 1} model(s) sharing its collection" if len(models) > 1 else "")
    candidate = leading[0] if leading else candidate_field(model)
    try_it = (f"mongoshard advise {model.__module__} --key {namespace}='{{\"{candidate}\": 1}}'" if candidate else
              f"mongoshard advise {model.__module__} --key {namespace}=KEY_JSON with a field of yours that many "
              "documents do not share")
    return Finding("info", "unsharded-collection", namespace, model.__name__,
                   f"{names} ({namespace}) declares no shard key; {constrained}",
                   f"try candidates before declaring one: {try_it}, and measure them with 'mongoshard simulate'")


def _belongs(record: Mapping[str, Any], spec: ShardSpec, pattern: str | None, owned: set[str]) -> bool:
    namespace = str(record.get("namespace", ""))
    if namespace == spec.namespace:
        return True
    if namespace in owned:
        return False
    database, _, collection = namespace.partition(".")
    return pattern is not None and database == spec.database and fnmatch.fnmatchcase(collection, pattern)


def _other_collections(model: type[Any], namespace: str, pattern: str | None,
                       records: Sequence[Mapping[str, Any]]) -> list[Finding]:
    """A model whose module switches collections (one per entity): say what keys and apply cannot see."""
    if not switches_collection(model):
        return []
    database, _, collection = namespace.partition(".")
    if pattern is None:
        return [Finding("info", "other-collections", namespace, model.__name__,
                        f"{model.__module__} calls switch_collection/switch_db: documents of {model.__name__} may live in "
                        f"collections other than '{collection}', which keys, advise and apply do not see",
                        f"name them: --collection-pattern {model.__name__}='{collection}_*' (a glob), so that their "
                        "audited queries are judged under this key; shard each of them (apply shards only "
                        f"'{collection}')")]
    seen = sorted({str(r.get("namespace")).partition(".")[2] for r in records
                   if str(r.get("namespace")).partition(".")[0] == database
                   and fnmatch.fnmatchcase(str(r.get("namespace")).partition(".")[2], pattern)})
    return [Finding("info", "other-collections", namespace, model.__name__,
                    f"{len(seen)} audited collection(s) match {pattern!r} "
                    f"({', '.join(seen[:5])}{', ...' if len(seen) > 5 else ''}): "
                    "their queries are judged under this key",
                    "shard each of them with this key (apply shards only the model's own collection)")]


def _query_findings(spec: ShardSpec, model: type[Any], records: Sequence[Mapping[str, Any]]) -> list[Finding]:
    if not records:
        return []
    key = list(spec.key)
    scattered = [r for r in records if classify(r["shape"], key, r.get("collation"))[0] == "scatter-gather"]
    findings = []
    share = len(scattered) / len(records)
    if share >= FREQUENT_SHARE:
        seen = Counter(str(r["shape"]) for r in scattered).most_common(3)
        examples = "; ".join(f"{shape} ({count}x)" for shape, count in seen)
        findings.append(Finding(
            "warning", "scatter-gather-queries", spec.namespace, model.__name__,
            f"{share:.0%} of the {len(records)} audited queries do not use the key and go to every shard, most often {examples}",
            "add the key's leading field to those queries, or choose a key they do use (compare with 'mongoshard audit --key')",
        ))
    hashed = spec.hashed_field
    ranged = [r for r in records if hashed and _has_range_on(r["shape"], hashed)]
    if ranged:
        findings.append(Finding(
            "warning", "hashed-range-queries", spec.namespace, model.__name__,
            f"{len(ranged)} of {len(records)} audited queries ask for a range of '{hashed}', which is hashed: "
            "each of them is broadcast to every shard",
            f"if ranges of '{hashed}' matter, shard on a ranged key with a high-cardinality prefix instead",
        ))
    return findings


def _has_range_on(shape: Any, field_name: str) -> bool:
    if isinstance(shape, Mapping):
        for key, value in shape.items():
            if key == field_name and isinstance(value, Mapping) and _RANGE_OPERATORS & set(value):
                return True
            if _has_range_on(value, field_name):
                return True
    elif isinstance(shape, list):
        return any(_has_range_on(item, field_name) for item in shape)
    return False
