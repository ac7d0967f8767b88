"""Kubernetes objects checked offline, as the API server and the Percona operator would check them.

* A ``PerconaServerMongoDB`` against the operator release's CRD schema (``deploy/kubernetes/``), the way the API
  server validates a custom resource with strict field validation (``kubectl``'s default): nulls of non-nullable
  fields pruned first, an unknown field an error wherever an object lists its ``properties`` (unless it preserves
  unknown fields), ``int32``/``int64`` ranges; then the operator's own rules that the schema cannot say
  (``CheckNSetDefaults`` in ``pkg/apis/psmdb/v1/psmdb_defaults.go``, v1.22.0 and v1.23.0 alike).
* A ``batch/v1`` Job against Kubernetes' own schema (the strict JSON Schemas of ``kubernetes-validate``, pinned to
  ``KUBERNETES_VERSION``), then the Job rules of ``pkg/apis/batch/validation/validation.go`` that are Go only.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from pathlib import Path
from typing import Any, Iterator, Mapping

from ..errors import MongoshardError
from .kubernetes_settings import DNS_1035_LABEL, DNS_1123_LABEL, DNS_1123_SUBDOMAIN, OPERATORS

__all__ = ["custom_resource_problems", "job_problems", "document_problems", "check_text", "KUBERNETES_VERSION",
           "KubernetesCheckError"]

# The oldest Kubernetes the operator releases are tested on (GKE_MIN/EKS_MIN 1.32 in e2e-tests/release_versions);
# podFailurePolicy is stable since 1.31.
KUBERNETES_VERSION = "1.32"
_SCHEMAS = Path(__file__).resolve().parent / "assets" / "kubernetes"
_INT_RANGES = {"int32": (-2**31, 2**31 - 1), "int64": (-2**63, 2**63 - 1)}
# psmdb_defaults.go
_CLUSTER_NAME_MAX = 50
_SAFE_SINCE = (1, 16, 0)  # checkSafeDefaults and TLSEnabled's mode switch apply from crVersion 1.16.0


class KubernetesCheckError(MongoshardError):
    """A file that cannot be checked at all (unreadable, not YAML)."""


# The custom resource ---------------------------------------------------------------------------------------------

def custom_resource_problems(document: Mapping[str, Any], operator: str) -> list[str]:
    """What the API server (schema) and then the operator (its Go rules) would refuse, each one sentence."""
    if document.get("apiVersion") != "psmdb.percona.com/v1":
        return [f"apiVersion must be psmdb.percona.com/v1 (the only version whose schema checks anything), not "
                f"{document.get('apiVersion')!r}"]
    pruned = _pruned(copy.deepcopy(dict(document)), _crd_schema(operator))
    problems = [f"{_where(error.absolute_path)}: {error.message}"
                for error in sorted(_crd_validator(operator).iter_errors(pruned), key=lambda e: list(map(str, e.absolute_path)))]
    return problems or _operator_rules(pruned)


def _operator_rules(document: Mapping[str, Any]) -> list[str]:
    """CheckNSetDefaults and ReplsetSpec.SetDefaults, in their order, after the defaults they set."""
    spec = document.get("spec") or {}
    name = str((document.get("metadata") or {}).get("name") or "")
    problems = _names(document)
    if spec.get("replsets") is None:
        return problems + ["at least one replica set should be specified (spec.replsets)"]
    if not spec.get("image"):
        problems.append("Required value for spec.image")
    unsafe = dict(spec.get("unsafeFlags") or {})
    if spec.get("unsafeConf"):  # the deprecated switch turns every unsafe flag on
        unsafe.update(tls=True, replsetSize=True, mongosSize=True)
    version = _version(spec.get("crVersion"))
    if not _tls_enabled(spec, version) and not unsafe.get("tls"):
        problems.append("TLS must be enabled. Set spec.unsafeFlags.tls to true to disable this check")
    replsets = [dict(rs, name=rs.get("name") or f"rs{index}") for index, rs in enumerate(spec["replsets"])]
    sharding = spec.get("sharding") or {}
    if sharding.get("enabled"):
        if sharding.get("configsvrReplSet") is None:
            return problems + ["config replica set should be specified (spec.sharding.configsvrReplSet)"]
        if sharding.get("mongos") is None:
            return problems + ["mongos should be specified (spec.sharding.mongos)"]
        replsets.append(dict(sharding["configsvrReplSet"], name="cfg"))
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
    return problems


def _names(document: Mapping[str, Any]) -> list[str]:
    metadata = document.get("metadata") or {}
    problems = []
    if not DNS_1123_SUBDOMAIN.fullmatch(str(metadata.get("name") or "")):
        problems.append(f"metadata.name {metadata.get('name')!r} must be a DNS-1123 subdomain (lowercase letters, "
                        "digits, '-' and '.')")
    if "namespace" in metadata and not DNS_1123_LABEL.fullmatch(str(metadata["namespace"])):
        problems.append(f"metadata.namespace {metadata['namespace']!r} must be a DNS-1123 label")
    return problems


def _replset_rules(rs: Mapping[str, Any], unsafe: Mapping[str, Any], version: tuple[int, ...], paused: bool) -> list[str]:
    volume = rs.get("volumeSpec")
    if volume is None:
        return [f"replset {rs['name']}: volumeSpec should be specified"]
    problems = []
    claim = volume.get("persistentVolumeClaim") or {}
    if volume.get("emptyDir") is None and volume.get("hostPath") is None \
            and "storage" not in ((claim.get("resources") or {}).get("requests") or {}):
        problems.append(f"replset {rs['name']} VolumeSpec: volume.resources.storage can't be empty")
    if version >= _SAFE_SINCE and not paused and not unsafe.get("replsetSize"):
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
    if _tls_mode_in_configuration(rs.get("configuration")):
        problems.append(f"replset {rs['name']}: tlsMode must be set using spec.tls.mode")
    return problems


def _tls_enabled(spec: Mapping[str, Any], version: tuple[int, ...]) -> bool:
    """TLSEnabled: before crVersion 1.16 TLS is on unless unsafeConf; from 1.16 by spec.tls.mode (preferTLS when
    unset), off only when disabled."""
    if version < _SAFE_SINCE:
        return not spec.get("unsafeConf")
    return ((spec.get("tls") or {}).get("mode") or "preferTLS") != "disabled"


def _tls_mode_in_configuration(configuration: Any) -> bool:
    """GetTLSMode: net.tls.mode in a replica set's mongod configuration (YAML text)."""
    import yaml

    try:
        parsed = yaml.safe_load(configuration) if isinstance(configuration, str) else None
    except yaml.YAMLError:
        return False
    net = parsed.get("net") if isinstance(parsed, dict) else None
    tls = net.get("tls") if isinstance(net, dict) else None
    return isinstance(tls, dict) and "mode" in tls


def _version(text: Any) -> tuple[int, ...]:
    """crVersion as numbers; unset, the operator writes its own version (the newest rules apply)."""
    found = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", str(text)) if text else None
    return tuple(int(part) for part in found.groups()) if found else (999, 0, 0)


@functools.lru_cache(maxsize=None)
def _crd_schema(operator: str) -> dict[str, Any]:
    if operator not in OPERATORS:
        raise KubernetesCheckError(f"--operator must be one of {', '.join(OPERATORS)}, not {operator!r:.40}")
    return json.loads((_SCHEMAS / OPERATORS[operator].schema_file).read_text())


@functools.lru_cache(maxsize=None)
def _crd_validator(operator: str) -> Any:
    import jsonschema

    return jsonschema.Draft7Validator(_strict(_crd_schema(operator)), format_checker=_int_formats())


def _in_range(low: int, high: int, value: Any) -> bool:
    return not isinstance(value, int) or isinstance(value, bool) or low <= value <= high


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
        extra = schema.get("additionalProperties") if isinstance(schema.get("additionalProperties"), dict) else {}
        for key in list(value):
            field = properties.get(key, extra)
            if value[key] is None and not field.get("nullable"):
                del value[key]
            else:
                value[key] = _pruned(value[key], field)
    elif isinstance(value, list):
        return [_pruned(item, schema.get("items") or {}) for item in value]
    return value


def _where(path: Any) -> str:
    parts = [f"[{part}]" if isinstance(part, int) else f".{part}" for part in path]
    return ("".join(parts).lstrip(".")) or "the document"


# The Job ---------------------------------------------------------------------------------------------------------

def job_problems(document: Mapping[str, Any]) -> list[str]:
    """Kubernetes' strict schema for a Job (with its int32/int64 ranges), then validation.go's podFailurePolicy rules."""
    problems = [f"{_where(error.absolute_path)}: {error.message}"
                for error in sorted(_job_validator().iter_errors(dict(document)), key=lambda e: list(map(str, e.absolute_path)))]
    return problems or _job_rules(document)


@functools.lru_cache(maxsize=None)
def _job_validator() -> Any:
    """kubernetes-validate's strict Job schema of KUBERNETES_VERSION, read once, with a format checker (its own
    ``validate`` checks no formats, so an int32 field would take any integer)."""
    try:
        import jsonschema
        import kubernetes_validate
        from referencing import Registry, Resource
    except ImportError:
        raise KubernetesCheckError("checking a Job needs the kubernetes-validate package: pip install "
                                   "'mongoshard[kubernetes]'") from None
    folder = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / f"v{KUBERNETES_VERSION}.0-local-strict"
    schema = json.loads((folder / "job-batch-v1.json").read_text())
    definitions = json.loads((folder / "_definitions.json").read_text())
    registry = Resource.from_contents(definitions) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.Draft202012Validator(schema, registry=registry, format_checker=_int_formats())


def _int_formats() -> Any:
    import jsonschema

    checker = jsonschema.FormatChecker()
    for name, (low, high) in _INT_RANGES.items():
        checker.checks(name)(functools.partial(_in_range, low, high))
    return checker


def _job_rules(document: Mapping[str, Any]) -> list[str]:
    spec = document.get("spec") or {}
    policy = spec.get("podFailurePolicy")
    template = (spec.get("template") or {}).get("spec") or {}
    problems = [f"metadata.name {document.get('metadata', {}).get('name')!r} must be a DNS-1123 subdomain"] \
        if not DNS_1123_SUBDOMAIN.fullmatch(str((document.get("metadata") or {}).get("name") or "")) else []
    if policy is None:
        return problems
    if template.get("restartPolicy") != "Never":
        problems.append('spec.template.spec.restartPolicy: only "Never" is supported when podFailurePolicy is specified')
    containers = {c.get("name") for c in (template.get("containers") or []) + (template.get("initContainers") or [])}
    for index, rule in enumerate(policy.get("rules") or []):
        where = f"spec.podFailurePolicy.rules[{index}]"
        codes, conditions = rule.get("onExitCodes"), rule.get("onPodConditions")
        if (codes is None) == (not conditions):
            problems.append(f"{where}: specifying exactly one of OnExitCodes and OnPodConditions is required")
        if rule.get("action") == "FailIndex" and spec.get("backoffLimitPerIndex") is None:
            problems.append(f"{where}.action: FailIndex requires the backoffLimitPerIndex to be set")
        for condition in conditions or []:
            if condition.get("status") not in ("True", "False", "Unknown"):
                problems.append(f"{where}.onPodConditions: status is required (True, False or Unknown)")
        if codes is not None:
            problems += _exit_code_rules(codes, containers, f"{where}.onExitCodes")
    return problems


def _exit_code_rules(codes: Mapping[str, Any], containers: set[Any], where: str) -> list[str]:
    problems = []
    if codes.get("containerName") is not None and codes["containerName"] not in containers:
        problems.append(f"{where}.containerName: must be one of the container or initContainer names in the pod template")
    values = list(codes.get("values") or [])
    if not values:
        problems.append(f"{where}.values: at least one value is required")
    if codes.get("operator") == "In" and 0 in values:
        problems.append(f"{where}.values: must not be 0 for the In operator")
    if len(set(values)) != len(values):
        problems.append(f"{where}.values: duplicate value")
    if values != sorted(values):
        problems.append(f"{where}.values: must be ordered")
    return problems


# Files -----------------------------------------------------------------------------------------------------------

def document_problems(document: Any, operator: str) -> list[str]:
    """The problems of one document of a rendering, by kind (other kinds are not checked: mongoshard renders none)."""
    if not isinstance(document, Mapping):
        return ["each document must be a Kubernetes object (a mapping with apiVersion and kind)"]
    kind = document.get("kind")
    if kind == "PerconaServerMongoDB":
        return custom_resource_problems(document, operator)
    if kind == "Job":
        return job_problems(document)
    return [f"kind {kind!r} is not one mongoshard checks (PerconaServerMongoDB, Job)"]


def check_text(text: str, operator: str, origin: str) -> Iterator[tuple[str, list[str]]]:
    """(a document's name, its problems) for each document of a multi-document YAML file."""
    import yaml

    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise KubernetesCheckError(f"{origin} is not valid YAML{where}; fix it there") from None
    if not documents:
        raise KubernetesCheckError(f"{origin} holds no Kubernetes object")
    for number, document in enumerate(documents, 1):
        label = f"document {number}"
        if isinstance(document, Mapping):
            label += f" ({document.get('kind')} {(document.get('metadata') or {}).get('name')})"
        yield label, document_problems(document, operator)
