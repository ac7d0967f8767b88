"""Shard key advice: each finding in plain words, with the fix.

Rules read the declared key and the model's fields (and, when given, an audit
log of real queries):

* ``monotonic-key``: a ranged key led by an ever-increasing field (ObjectId,
  date, sequence, counter) sends every insert to the last chunk;
* ``low-cardinality``: a key whose every field has few values (boolean, small
  ``choices``) makes chunks that cannot split, then cannot move (jumbo);
* ``unenforceable-unique``: a unique index that does not start with the shard
  key cannot be enforced by MongoDB on a sharded collection;
* ``scatter-gather-queries``: frequent queries (audit log) without the key;
* ``hashed-range-queries``: range queries (audit log) on a hashed key field,
  each one broadcast to every shard.

Severity: ``error`` (fix before sharding), ``warning`` (know the cost),
``info``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from ..model.declaration import ShardSpec
from ..model.fields import key_fields
from ..reports.audit import classify

__all__ = ["advise", "Finding", "SEVERITIES"]

SEVERITIES = ("error", "warning", "info")
# A key whose values number no more than this (per field) cannot be split finely enough.
LOW_CARDINALITY = 16
# Audit shares from which a query shape is worth a finding.
FREQUENT_SHARE = 0.10
_COUNTER_WORDS = ("seq", "sequence", "counter", "serial", "increment", "created", "timestamp", "time", "ts")
_RANGE_OPERATORS = {"$gt", "$gte", "$lt", "$lte"}


@dataclass(frozen=True)
class Finding:
    severity: str
    rule: str
    namespace: str
    model: str
    message: str
    fix: str


def advise(specs: Iterable[ShardSpec], audit_records: Sequence[Mapping[str, Any]] = ()) -> list[Finding]:
    """Findings for every spec, errors first."""
    findings: list[Finding] = []
    for spec in specs:
        model = _model(spec)
        fields = key_fields(model)
        findings += _monotonic(spec, model, fields)
        findings += _low_cardinality(spec, model, fields)
        findings += _unenforceable_unique(spec, model)
        findings += _query_findings(spec, model, [r for r in audit_records if r.get("namespace") == spec.namespace])
    return sorted(findings, key=lambda f: (SEVERITIES.index(f.severity), f.namespace, f.rule))


def _model(spec: ShardSpec) -> type:
    module, _, name = spec.models[0].rpartition(".")
    return getattr(importlib.import_module(module), name)


def _finding(severity: str, rule: str, spec: ShardSpec, model: type, message: str, fix: str) -> Finding:
    return Finding(severity, rule, spec.namespace, model.__name__, message, fix)


def _is_monotonic(path: str, field: Any) -> str | None:
    """Why values of ``field`` only grow, or None."""
    from mongoengine import fields as mf

    if isinstance(field, (mf.ObjectIdField,)) or path in ("id", "pk", "_id") and field is None:
        return "an ObjectId, which starts with its creation time"
    if isinstance(field, (mf.DateTimeField, mf.ComplexDateTimeField, mf.DateField)):
        return "a date, and new documents carry the latest one"
    if isinstance(field, mf.SequenceField):
        return "a SequenceField, a counter"
    last = path.rsplit(".", 1)[-1].lower()
    if isinstance(field, (mf.IntField, mf.LongField)) and any(last == w or last.endswith("_" + w) for w in _COUNTER_WORDS):
        return f"a counter ('{last}')"
    return None


def _monotonic(spec: ShardSpec, model: type, fields: list[tuple[str, str, Any]]) -> list[Finding]:
    path, _, field = fields[0]
    why = _is_monotonic(path, field)
    if spec.strategy == "hashed" or why is None:
        return []
    return [_finding(
        "error", "monotonic-key", spec, model,
        f"the ranged key starts with '{path}', {why}: every insert lands in the chunk that ends at MaxKey, "
        "so one shard takes all writes while the others idle (a hot spot)",
        f"hash it (@sharded(key='{path}', hashed=True)) if you never query ranges of it, or put a high-cardinality "
        f"field first, e.g. key=('sensor_id', '{path}') so each sensor's writes go to its own range",
    )]


def _value_count(field: Any) -> int | None:
    from mongoengine import fields as mf

    if isinstance(field, mf.BooleanField):
        return 2
    choices = getattr(field, "choices", None)
    return len(choices) if choices else None


def _low_cardinality(spec: ShardSpec, model: type, fields: list[tuple[str, str, Any]]) -> list[Finding]:
    counts = [_value_count(field) for _, _, field in fields]
    if any(count is None or count > LOW_CARDINALITY for count in counts):
        return []
    combinations = 1
    for count in counts:
        combinations *= count or 1
    paths = ", ".join(path for path, _, _ in fields)
    return [_finding(
        "error", "low-cardinality", spec, model,
        f"the key ({paths}) has at most {combinations} distinct values: a chunk never splits below one value, so "
        "chunks grow past the size limit (jumbo) and the balancer cannot move them",
        "add a high-cardinality field after it, e.g. key=('" + fields[0][0] + "', 'user_id'), or choose another key",
    )]


def _unique_indexes(model: type) -> list[tuple[str, ...]]:
    """Database field names of every unique index a model declares (mongoengine lists field-level ones too)."""
    specs = model._meta.get("index_specs") or []
    return list(dict.fromkeys(tuple(name for name, _ in spec["fields"]) for spec in specs if spec.get("unique")))


def _unenforceable_unique(spec: ShardSpec, model: type) -> list[Finding]:
    key = [name for name, _ in spec.key]
    findings = []
    for index in _unique_indexes(model):
        if list(index[: len(key)]) == key:
            continue
        findings.append(_finding(
            "error", "unenforceable-unique", spec, model,
            f"the unique index on ({', '.join(index)}) does not start with the shard key ({', '.join(key)}): "
            "MongoDB refuses to create or keep it on a sharded collection, so the uniqueness would be lost",
            "make the shard key a prefix of the unique index, or enforce uniqueness in a separate collection "
            "sharded by that field",
        ))
    return findings


def _query_findings(spec: ShardSpec, model: type, records: Sequence[Mapping[str, Any]]) -> list[Finding]:
    if not records:
        return []
    key = list(spec.key)
    scattered = [r for r in records if classify(r["shape"], key, r.get("collation"))[0] == "scatter-gather"]
    findings = []
    share = len(scattered) / len(records)
    if share >= FREQUENT_SHARE:
        shapes = sorted({str(r["shape"]) for r in scattered})[:3]
        findings.append(_finding(
            "warning", "scatter-gather-queries", spec, model,
            f"{share:.0%} of the {len(records)} audited queries do not use the key and go to every shard, e.g. {'; '.join(shapes)}",
            "add the key's leading field to those queries, or choose a key they do use (compare with 'mongoshard audit --key')",
        ))
    hashed = spec.hashed_field
    ranged = [r for r in records if hashed and _has_range_on(r["shape"], hashed)]
    if ranged:
        findings.append(_finding(
            "warning", "hashed-range-queries", spec, model,
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
