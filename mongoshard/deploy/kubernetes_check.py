"""``mongoshard kubernetes --check``: each document of a rendering checked as the API server and the operator would
check it (``psmdb_check`` for the custom resource, ``kubernetes_objects`` for the Job)."""

from __future__ import annotations

from typing import Any
from collections.abc import Iterator, Mapping

from .kubernetes_objects import KUBERNETES_VERSION, KubernetesCheckError, job_problems
from .psmdb_check import custom_resource_problems

__all__ = ["custom_resource_problems", "job_problems", "document_problems", "check_text", "KUBERNETES_VERSION",
           "KubernetesCheckError"]


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

    from ..files import strict_yaml_loader

    try:  # no aliases (a kilobyte of them expands to a billion nodes) and no key twice (strict field validation)
        documents = [d for d in yaml.load_all(text, Loader=strict_yaml_loader()) if d is not None]
    except RecursionError:
        raise KubernetesCheckError(f"{origin} nests too deeply to be a Kubernetes object") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise KubernetesCheckError(f"{origin} is not valid YAML{where} ({problem}); fix it there") from None
    if not documents:
        raise KubernetesCheckError(f"{origin} holds no Kubernetes object")
    for number, document in enumerate(documents, 1):
        label = f"document {number}"
        if isinstance(document, Mapping):
            label += f" ({document.get('kind')} {(document.get('metadata') or {}).get('name')})"
        yield label, document_problems(document, operator)
