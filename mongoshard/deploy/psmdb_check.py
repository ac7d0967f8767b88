"""A ``PerconaServerMongoDB`` checked offline, as the API server and then the Percona operator would check it.

The release's CRD schema (``deploy/kubernetes/``) is applied the way the API server validates a custom resource with
strict field validation (``kubectl``'s default): nulls of non-nullable fields pruned first, an unknown field an error
wherever an object lists its ``properties`` (unless it preserves unknown fields), ``int32``/``int64`` ranges; then
the operator's own rules that the schema cannot say (``CheckNSetDefaults`` in ``pkg/apis/psmdb/v1/psmdb_defaults.go``,
v1.22.0 and v1.23.0 alike).
"""

from __future__ import annotations

import copy
import functools
import json
import re
from pathlib import Path
from typing import Any
from collections.abc import Mapping

from .kubernetes_objects import KubernetesCheckError, int_formats, metadata_problems, where
from .kubernetes_settings import DNS_1035_LABEL, OPERATORS

__all__ = ["custom_resource_problems"]

_SCHEMAS = Path(__file__).resolve().parent / "assets" / "kubernetes"
# psmdb_defaults.go
_CLUSTER_NAME_MAX = 50
_SAFE_SINCE = (1, 16, 0)  # checkSafeDefaults and TLSEnabled's mode switch apply from crVersion 1.16.0


def custom_resource_problems(document: Mapping[str, Any], operator: str) -> list[str]:
    """What the API server (schema) and then the operator (its Go rules) would refuse, each one sentence."""
    if document.get("apiVersion") != "psmdb.percona.com/v1":
        return [f"apiVersion must be psmdb.percona.com/v1 (the only version whose schema checks anything), not "
                f"{document.get('apiVersion')!r}"]
    pruned = _pruned(copy.deepcopy(dict(document)), _crd_schema(operator))
    problems = [f"{where(error.absolute_path)}: {error.message}"
                for error in sorted(_crd_validator(operator).iter_errors(pruned), key=lambda e: list(map(str, e.absolute_path)))]
    problems += metadata_problems(pruned.get("metadata"))
    return problems or _operator_rules(pruned)


def _operator_rules(document: Mapping[str, Any]) -> list[str]:
    """CheckNSetDefaults and ReplsetSpec.SetDefaults, in their order, after the defaults they set."""
    spec = document.get("spec") or {}
    name = str((document.get("metadata") or {}).get("name") or "")
    problems: list[str] = []
    if spec.get("replsets") is None:
        return problems + ["at least one replica set should be specified (spec.replsets)"]
    if not spec.get("image"):
        problems.append("Required value for spec.image")
    unsafe = dict(spec.get("unsafeFlags") or {})
    if spec.get("allowUnsafeConfigurations"):  # UnsafeConf, deprecated: it turns every unsafe flag on
        unsafe.update(tls=True, replsetSize=True, mongosSize=True, backupIfUnhealthy=True, terminationGracePeriod=True)
    version = _version(spec.get("crVersion"))
    if not _tls_enabled(spec, version) and not unsafe.get("tls"):
        problems.append("TLS must be enabled. Set spec.unsafeFlags.tls to true to disable this check")
    # an empty list becomes one replica set rs0 of 3 (without a volumeSpec, so refused below)
    replsets = [dict(rs, name=rs.get("name") or f"rs{index}") for index, rs in enumerate(spec["replsets"])] \
        or [{"name": "rs0", "size": 3}]
    sharding = spec.get("sharding") or {}
    if sharding.get("enabled"):
        if sharding.get("configsvrReplSet") is None:
            return problems + ["config replica set should be specified (spec.sharding.configsvrReplSet)"]
        if sharding.get("mongos") is None:
            return problems + ["mongos should be specified (spec.sharding.mongos)"]
        # the operator turns an arbiter of the config server replica set off rather than refusing it
        replsets.append(dict(sharding["configsvrReplSet"], name="cfg", arbiter={}, configServer=True))
        problems += _grace_period(sharding["mongos"], "mongos", unsafe, version)
        if not DNS_1035_LABEL.fullmatch(f"{name}-mongos"):
            problems.append(f"the mongos Service {name}-mongos is not a DNS-1035 label (at most 63 characters)")
    for rs in replsets:
        if len(name + rs["name"]) > _CLUSTER_NAME_MAX:
            problems.append(f"cluster name ({name}) + replset name ({rs['name']}) is too long, must be no more than "
                            f"{_CLUSTER_NAME_MAX} characters")
        elif not DNS_1035_LABEL.fullmatch(f"{name}-{rs['name']}"):
            problems.append(f"the replica set Service {name}-{rs['name']} is not a DNS-1035 label")
    for rs in replsets:
        problems += _replset_rules(rs, unsafe, version, bool(spec.get("pause")))
    if spec.get("unmanaged") and (spec.get("updateStrategy") or "SmartUpdate") == "SmartUpdate":
        problems.append("SmartUpdate is not allowed on unmanaged clusters, set updateStrategy to RollingUpdate or OnDelete")
    return problems


def _grace_period(member: Mapping[str, Any], name: str, unsafe: Mapping[str, Any], version: tuple[int, ...]) -> list[str]:
    """MultiAZ.reconcileOpts: from crVersion 1.16.0, terminationGracePeriodSeconds (default 60) at least 30."""
    seconds = member.get("terminationGracePeriodSeconds")
    if version >= _SAFE_SINCE and isinstance(seconds, int) and seconds < 30 and not unsafe.get("terminationGracePeriod"):
        return [f"{name}: terminationGracePeriodSeconds must be at least 30 seconds for safe configuration. Set "
                "spec.unsafeFlags.terminationGracePeriod to true to disable this check"]
    return []


def _replset_rules(rs: Mapping[str, Any], unsafe: Mapping[str, Any], version: tuple[int, ...], paused: bool) -> list[str]:
    volume = rs.get("volumeSpec")
    if volume is None:
        return [f"replset {rs['name']}: volumeSpec should be specified"]
    problems = _grace_period(rs, f"replset {rs['name']}", unsafe, version)
    engine = (rs.get("storage") or {}).get("engine") or "wiredTiger"
    if engine == "mmapv1":
        problems.append(f"replset {rs['name']}: mmapv1 storage engine is not supported")
    elif rs.get("configServer") and engine != "wiredTiger":
        problems.append(f"{engine} storage engine is not supported for config server replica set")
    claim = volume.get("persistentVolumeClaim") or {}
    if volume.get("emptyDir") is None and volume.get("hostPath") is None \
            and "storage" not in ((claim.get("resources") or {}).get("requests") or {}):
        problems.append(f"replset {rs['name']} VolumeSpec: volume.resources.storage can't be empty")
    configuration = _configuration(rs.get("configuration"))
    if configuration is None:
        return problems + [f"replset {rs['name']}: its configuration is not the YAML of a mongod configuration"]
    if not (version >= _SAFE_SINCE and not paused):  # checkSafeDefaults runs from crVersion 1.16.0, not paused
        return problems
    if not unsafe.get("replsetSize"):
        size, arbiter = int(rs.get("size") or 0), rs.get("arbiter") or {}
        if arbiter.get("enabled"):
            if arbiter.get("size") != 1:
                problems.append("arbiter size must be 1. Set spec.unsafeFlags.replsetSize to true to disable this check")
            elif size < 4:
                problems.append("replset size must be at least 4 with arbiter. Set spec.unsafeFlags.replsetSize to true "
                                "to disable this check")
            elif size % 2:
                problems.append("arbiter must disabled due to odd replset size. Set spec.unsafeFlags.replsetSize to "
                                "true to disable this check")
        elif size < 2:
            problems.append(f"replset {rs['name']}: replset size must be at least 3. Set spec.unsafeFlags.replsetSize "
                            "to true to disable this check")
        elif size % 2 == 0:
            problems.append(f"replset {rs['name']}: replset size must be odd. Set spec.unsafeFlags.replsetSize to true "
                            "to disable this check")
    net = configuration.get("net")
    tls = net.get("tls") if isinstance(net, dict) else None
    if tls is not None and not isinstance(tls, dict):
        problems.append(f"replset {rs['name']}: tls configuration is invalid")
    elif isinstance(tls, dict) and tls.get("mode"):
        problems.append(f"replset {rs['name']}: tlsMode must be set using spec.tls.mode")
    return problems


def _tls_enabled(spec: Mapping[str, Any], version: tuple[int, ...]) -> bool:
    """TLSEnabled: before crVersion 1.16 TLS is on unless unsafeConf; from 1.16 by spec.tls.mode (preferTLS when
    unset), off only when disabled."""
    if version < _SAFE_SINCE:
        return not spec.get("allowUnsafeConfigurations")
    return ((spec.get("tls") or {}).get("mode") or "preferTLS") != "disabled"


def _configuration(text: Any) -> dict[str, Any] | None:
    """A replica set's mongod configuration (YAML text) as GetOptions reads it; None when it is not a mapping."""
    import yaml

    if not text:
        return {}
    try:
        parsed = yaml.safe_load(text) if isinstance(text, str) else None
    except yaml.YAMLError:
        return None
    return parsed if isinstance(parsed, dict) else ({} if parsed is None else None)


def _version(text: Any) -> tuple[int, ...]:
    """crVersion as numbers; unset, the operator writes its own version (the newest rules apply)."""
    found = re.fullmatch(r"v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:[-+].*)?", str(text)) if text else None
    return tuple(int(part or 0) for part in found.groups()) if found else (999, 0, 0)  # go-version: 1.15 is 1.15.0


@functools.cache
def _crd_schema(operator: str) -> dict[str, Any]:
    if operator not in OPERATORS:
        raise KubernetesCheckError(f"--operator must be one of {', '.join(OPERATORS)}, not {operator!r:.40}")
    return json.loads((_SCHEMAS / OPERATORS[operator].schema_file).read_text())


@functools.cache
def _crd_validator(operator: str) -> Any:
    import jsonschema

    return jsonschema.Draft7Validator(_strict(_crd_schema(operator)), format_checker=int_formats())


def _strict(schema: Any) -> Any:
    """The structural schema as the API server applies it: unknown fields refused where ``properties`` are listed
    (and neither ``additionalProperties`` nor ``x-kubernetes-preserve-unknown-fields`` says otherwise), a nullable
    field allowed to be null, int-or-string as either."""
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    strict = {key: (_strict(value) if key not in ("properties", "enum", "required") else value)
              for key, value in schema.items()}
    if "properties" in schema:
        strict["properties"] = {name: _strict(value) for name, value in schema["properties"].items()}
        if "additionalProperties" not in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
            strict["additionalProperties"] = False
    if schema.get("x-kubernetes-int-or-string"):
        strict.pop("type", None)
        strict["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if schema.get("nullable") and "type" in strict:
        strict["type"] = [strict["type"], "null"]
    return strict


def _pruned(value: Any, schema: Mapping[str, Any]) -> Any:
    """Null values of fields that are not nullable are dropped before validation, as the API server does."""
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        extra: Any = schema.get("additionalProperties") if isinstance(schema.get("additionalProperties"), dict) else {}
        for key in list(value):
            field = properties.get(key, extra)
            if value[key] is None and not field.get("nullable"):
                del value[key]
            else:
                value[key] = _pruned(value[key], field)
    elif isinstance(value, list):
        return [_pruned(item, schema.get("items") or {}) for item in value]
    return value
