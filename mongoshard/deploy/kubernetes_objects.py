"""Kubernetes' own objects checked offline, as the API server checks them: a ``batch/v1`` Job against Kubernetes'
strict JSON Schemas (``kubernetes-validate``, pinned to ``KUBERNETES_VERSION``) with int32/int64 ranges, then the Go
rules of ``pkg/apis/batch/validation/validation.go`` and the pod template's; and any object's ``metadata`` as
``ValidateObjectMeta`` does.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any
from collections.abc import Mapping

from ..errors import MongoshardError
from .kubernetes_settings import DNS_1123_LABEL, DNS_1123_SUBDOMAIN

__all__ = ["job_problems", "metadata_problems", "int_formats", "where", "KUBERNETES_VERSION", "KubernetesCheckError"]

# The oldest Kubernetes the operator releases are tested on (GKE_MIN/EKS_MIN 1.32 in e2e-tests/release_versions);
# podFailurePolicy is stable since 1.31.
KUBERNETES_VERSION = "1.32"
_INT_RANGES = {"int32": (-2**31, 2**31 - 1), "int64": (-2**63, 2**63 - 1)}


class KubernetesCheckError(MongoshardError):
    """A file that cannot be checked at all (unreadable, not YAML, a validator missing)."""


def int_formats() -> Any:
    """A format checker for the int32 and int64 ranges of OpenAPI schemas."""
    import jsonschema

    checker = jsonschema.FormatChecker()
    for name, (low, high) in _INT_RANGES.items():
        checker.checks(name)(functools.partial(_in_range, low, high))
    return checker


def _in_range(low: int, high: int, value: Any) -> bool:
    return not isinstance(value, int) or isinstance(value, bool) or low <= value <= high


def where(path: Any) -> str:
    parts = [f"[{part}]" if isinstance(part, int) else f".{part}" for part in path]
    return ("".join(parts).lstrip(".")) or "the document"


def job_problems(document: Mapping[str, Any]) -> list[str]:
    """Kubernetes' strict schema for a Job (with its int32/int64 ranges), then the API server's Go rules for a Job."""
    problems = [f"{where(error.absolute_path)}: {error.message}"
                for error in sorted(_job_validator().iter_errors(dict(document)), key=lambda e: list(map(str, e.absolute_path)))]
    return problems or metadata_problems(document.get("metadata"), job=True) or _job_rules(document)


# ValidateObjectMeta (apimachinery validation): names, namespace, label keys and values
_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?")


def metadata_problems(metadata: Any, *, job: bool = False) -> list[str]:
    """metadata as the API server validates it: the ObjectMeta schema (strict), a DNS-1123 subdomain name (a Job's at
    most 63 characters: it becomes the job-name label), a DNS-1123 label namespace, qualified label keys and values."""
    if not isinstance(metadata, Mapping):
        return ["metadata: a Kubernetes object needs metadata with a name"]
    problems = [f"{'.'.join(['metadata', *map(str, error.absolute_path)])}: {error.message}"
                for error in _object_meta_validator().iter_errors(dict(metadata))]
    name = str(metadata.get("name") or "")
    if not DNS_1123_SUBDOMAIN.fullmatch(name) or (job and len(name) > 63):
        problems.append(f"metadata.name {name!r:.80} must be a DNS-1123 subdomain (lowercase letters, digits, '-' and "
                        f"'.'{', at most 63 for a Job' if job else ''})")
    if "namespace" in metadata and not DNS_1123_LABEL.fullmatch(str(metadata["namespace"])):
        problems.append(f"metadata.namespace {metadata['namespace']!r:.80} must be a DNS-1123 label")
    for key, value in (metadata.get("labels") or {}).items() if isinstance(metadata.get("labels"), Mapping) else ():
        prefix, _, label = str(key).rpartition("/")
        if not _QUALIFIED_NAME.fullmatch(label) or (prefix and not DNS_1123_SUBDOMAIN.fullmatch(prefix)):
            problems.append(f"metadata.labels: {key!r:.80} is not a qualified label name")
        if not isinstance(value, str) or not _LABEL_VALUE.fullmatch(value):
            problems.append(f"metadata.labels.{key}: {value!r:.80} is not a label value (at most 63 letters, digits, "
                            "'-', '_' or '.')")
    return problems


@functools.cache
def _object_meta_validator() -> Any:
    definitions = _kubernetes_definitions()
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
              "$ref": "https://kubernetes.io/api/_definitions.json#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
    return _validator_with(schema, definitions)


@functools.cache
def _job_validator() -> Any:
    """kubernetes-validate's strict Job schema of KUBERNETES_VERSION, read once, with a format checker (its own
    ``validate`` checks no formats, so an int32 field would take any integer)."""
    return _validator_with(json.loads((_kubernetes_schemas() / "job-batch-v1.json").read_text()), _kubernetes_definitions())


def _kubernetes_schemas() -> Path:
    try:
        import kubernetes_validate
    except ImportError:
        raise KubernetesCheckError("checking Kubernetes objects needs the kubernetes-validate package: pip install "
                                   "'mongoshard[kubernetes]'") from None
    return Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / f"v{KUBERNETES_VERSION}.0-local-strict"


@functools.cache
def _kubernetes_definitions() -> dict[str, Any]:
    return json.loads((_kubernetes_schemas() / "_definitions.json").read_text())


def _validator_with(schema: dict[str, Any], definitions: dict[str, Any]) -> Any:
    import jsonschema
    from referencing import Registry, Resource

    registry = Resource.from_contents(definitions) @ Registry()  # the $defs, under their own $id
    return jsonschema.Draft202012Validator(schema, registry=registry, format_checker=int_formats())


def _job_rules(document: Mapping[str, Any]) -> list[str]:
    """ValidateJob and the pod template rules it applies (pkg/apis/batch/validation, core validation)."""
    spec = document.get("spec")
    if not isinstance(spec, Mapping) or not isinstance(spec.get("template"), Mapping):
        return ["spec.template: a Job needs a pod template"]
    template = spec["template"].get("spec") or {}
    problems = _pod_rules(template)
    for name in ("parallelism", "completions", "backoffLimit", "ttlSecondsAfterFinished", "backoffLimitPerIndex"):
        if isinstance(spec.get(name), int) and spec[name] < 0:
            problems.append(f"spec.{name}: must be greater than or equal to 0")
    if isinstance(spec.get("activeDeadlineSeconds"), int) and spec["activeDeadlineSeconds"] <= 0:
        problems.append("spec.activeDeadlineSeconds: must be greater than 0")
    policy = spec.get("podFailurePolicy")
    if template.get("restartPolicy") not in ("OnFailure", "Never"):
        problems.append(f"spec.template.spec.restartPolicy: {template.get('restartPolicy')!r} is not supported: "
                        "OnFailure or Never")
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
        if rule.get("action") not in ("FailJob", "FailIndex", "Ignore", "Count"):
            problems.append(f"{where}.action: {rule.get('action')!r} is not supported: Count, FailIndex, FailJob, Ignore")
        if rule.get("action") == "FailIndex" and spec.get("backoffLimitPerIndex") is None:
            problems.append(f"{where}.action: FailIndex requires the backoffLimitPerIndex to be set")
        for condition in conditions or []:
            if not _QUALIFIED_NAME.fullmatch(str(condition.get("type") or "")):
                problems.append(f"{where}.onPodConditions: type[Any] {condition.get('type')!r:.60} is not a qualified name")
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
    if codes.get("operator") not in ("In", "NotIn"):
        problems.append(f"{where}.operator: {codes.get('operator')!r} is not supported: In, NotIn")
    if codes.get("operator") == "In" and 0 in values:
        problems.append(f"{where}.values: must not be 0 for the In operator")
    if len(set(values)) != len(values):
        problems.append(f"{where}.values: duplicate value")
    if values != sorted(values):
        problems.append(f"{where}.values: must be ordered")
    return problems


_ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")


def _pod_rules(pod: Mapping[str, Any]) -> list[str]:
    """ValidatePodSpec, the parts a Job's template gets wrong by hand: containers with a DNS-1123 label name, once
    each, an image, valid variable names, mounts of volumes that exist."""
    problems = []
    containers = [c for c in (pod.get("containers") or []) if isinstance(c, Mapping)]
    if not containers:
        return ["spec.template.spec.containers: a pod needs at least one container"]
    volumes = {v.get("name") for v in pod.get("volumes") or [] if isinstance(v, Mapping)}
    seen: set[Any] = set()
    for index, container in enumerate(containers + [c for c in pod.get("initContainers") or [] if isinstance(c, Mapping)]):
        where = f"spec.template.spec.containers[{index}]"
        name = container.get("name")
        if not DNS_1123_LABEL.fullmatch(str(name or "")):
            problems.append(f"{where}.name: {name!r:.60} must be a DNS-1123 label")
        elif name in seen:
            problems.append(f"{where}.name: {name!r} is a duplicate container name")
        seen.add(name)
        if not str(container.get("image") or "").strip():
            problems.append(f"{where}.image: a container needs an image")
        problems.extend(f"{where}.env: {variable.get('name')!r:.60} is not a valid environment variable name"
                        for variable in container.get("env") or []
                        if isinstance(variable, Mapping) and not _ENV_NAME.fullmatch(str(variable.get("name") or "")))
        problems.extend(f"{where}.volumeMounts: volume {mount.get('name')!r:.60} is not in the pod's volumes"
                        for mount in container.get("volumeMounts") or []
                        if isinstance(mount, Mapping) and mount.get("name") not in volumes)
    return problems
