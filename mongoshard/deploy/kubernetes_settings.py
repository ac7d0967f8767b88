"""The ``kubernetes:`` section of ``mongoshard.yaml``, and the Percona operator releases mongoshard renders for.

Only the Percona Operator for MongoDB runs a sharded MongoDB 8.0 on Kubernetes under an open licence
(mongodb-sharding-facts.md, "Kubernetes: the Percona operator").  Each release pins the Percona Server for MongoDB
builds its own end-to-end tests run (``e2e-tests/release_versions``), and ships the CRD schema kept beside this
package in ``deploy/kubernetes/`` (with its attribution).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from collections.abc import Mapping

from ..errors import MongoshardError

__all__ = ["KubernetesSettings", "OperatorRelease", "OPERATORS", "NEWEST_OPERATOR", "parse_kubernetes_settings",
           "KUBERNETES_COMMENTS", "DNS_1035_LABEL", "DNS_1123_LABEL", "DNS_1123_SUBDOMAIN"]


@dataclass(frozen=True)
class OperatorRelease:
    version: str
    images: Mapping[str, str]  # MongoDB major.minor -> the Percona Server for MongoDB image the release is tested with
    source: str  # where the images and the schema were read

    @property
    def bundle_url(self) -> str:
        """The release's bundle (CRDs, RBAC, the operator's Deployment), for ``kubectl apply --server-side``."""
        return f"https://raw.githubusercontent.com/percona/percona-server-mongodb-operator/v{self.version}/deploy/bundle.yaml"

    @property
    def schema_file(self) -> str:
        return f"psmdb-{self.version}.schema.json"


# e2e-tests/release_versions: IMAGE_MONGOD80 and IMAGE_MONGOD70 (6.0 is past end of life; there is no 9.0 build).
_TESTED_IMAGES = {"8.0": "percona/percona-server-mongodb:8.0.19-7", "7.0": "percona/percona-server-mongodb:7.0.30-16"}
OPERATORS: dict[str, OperatorRelease] = {
    "1.22.0": OperatorRelease("1.22.0", _TESTED_IMAGES, "tag v1.22.0 (5856026f)"),
    # read from main at b15af500 (2026-07-02), already versioned 1.23.0, three weeks before the tag
    "1.23.0": OperatorRelease("1.23.0", _TESTED_IMAGES, "main at b15af500, versioned 1.23.0"),
}
NEWEST_OPERATOR = "1.23.0"

# Kubernetes names (k8s.io/apimachinery/pkg/util/validation): Services are DNS-1035 labels, namespaces DNS-1123
# labels, custom resources and storage classes DNS-1123 subdomains.
DNS_1035_LABEL = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?")
DNS_1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
DNS_1123_SUBDOMAIN = re.compile(r"(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
# A resource quantity as Kubernetes writes one (resource.Quantity): a positive decimal, a binary or decimal suffix.
_QUANTITY = re.compile(r"(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?")
# An image reference, as distribution/reference's grammar has it: [domain[:port]/]path[:tag][@digest], the path in
# lowercase components joined by '.', '_', '__' or dashes, a tag of up to 128 word characters, dots and dashes.
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE = re.compile(rf"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
                    rf"(?::[0-9]+)?/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})?"
                    rf"(?:@sha256:[0-9a-f]{{64}})?")
# Floors below which a mongod cannot run (its WiredTiger cache alone takes 256 MB) or a value is a typo (1m of
# memory is a thousandth of a byte): a Kubernetes quantity in bytes or cores.
_FLOORS = {"memory": ("256Mi", 256 * 2**20), "storage_size": ("1Gi", 2**30), "cpu": ("10m", 0.01)}
_SUFFIXES = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60, "n": 1e-9, "u": 1e-6,
             "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18, "": 1}
EXPOSE_TYPES = ("ClusterIP", "LoadBalancer", "NodePort")


@dataclass(frozen=True)
class KubernetesSettings:
    namespace: str = "default"
    operator: str = NEWEST_OPERATOR
    app_image: str | None = None  # the application's image: it holds the models and mongoshard, and runs the Job
    storage_size: str = "10Gi"
    storage_class: str | None = None
    cpu: str = "1"
    memory: str = "2Gi"
    expose: str = "ClusterIP"
    unsafe_replset_size: bool = False
    apply_wait: int = 600

    @property
    def release(self) -> OperatorRelease:
        return OPERATORS[self.operator]


KUBERNETES_COMMENTS: dict[str, str] = {
    "namespace": "The namespace the operator watches and the cluster runs in.",
    "operator": f"The Percona operator release: {', '.join(OPERATORS)} (default the newest).",
    "app_image": "Your application's image (it holds the models and mongoshard): the Job that applies the keys runs it.",
    "storage_size": "Each mongod's volume (a Kubernetes quantity).",
    "storage_class": "The StorageClass of the volumes (default: the cluster's default class).",
    "cpu": "CPU of each mongod (requests and limits).",
    "memory": "Memory of each mongod (requests and limits).",
    "expose": f"The mongos Service type: {', '.join(EXPOSE_TYPES)}.",
    "unsafe_replset_size": "Allow replica sets of 1 or an even size (the operator's unsafeFlags.replsetSize): tests only.",
    "apply_wait": "Seconds each run of the Job waits for the router to list shards before it exits 2 (and is retried).",
}


def parse_kubernetes_settings(document: Any, origin: str) -> KubernetesSettings:
    """The validated ``kubernetes`` section; every problem is one sentence naming the setting."""
    if document is None:
        return KubernetesSettings()
    if not isinstance(document, Mapping):
        raise MongoshardError(f"{origin}: 'kubernetes' must be a mapping of settings ({', '.join(KUBERNETES_COMMENTS)}), "
                              f"not {type(document).__name__}")
    unknown = sorted(str(key) for key in document if key not in KUBERNETES_COMMENTS)
    if unknown:
        raise MongoshardError(f"{origin}: unknown setting(s) kubernetes.{', kubernetes.'.join(unknown)}; known settings are "
                              f"{', '.join(KUBERNETES_COMMENTS)}")
    values = {key: _value(key, value, origin) for key, value in document.items()}
    return KubernetesSettings(**values)


def _value(key: str, value: Any, origin: str) -> Any:
    def refuse(what: str) -> MongoshardError:
        return MongoshardError(f"{origin}: 'kubernetes.{key}' must be {what}, not {value!r:.80}")

    if key == "unsafe_replset_size":
        if not isinstance(value, bool):
            raise refuse("true or false")
        return value
    if key == "apply_wait":
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 86400:
            raise refuse("a whole number of seconds from 0 to 86400")
        return value
    if value is None and key in ("app_image", "storage_class"):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and key in ("cpu", "memory", "storage_size", "operator"):
        value = str(value)  # cpu: 2, or operator: 1.23 read as numbers
    if not isinstance(value, str):
        raise refuse("text")
    rules: dict[str, tuple[Any, str]] = {
        "namespace": (DNS_1123_LABEL, "a namespace name (lowercase letters, digits and '-', at most 63)"),
        "storage_class": (DNS_1123_SUBDOMAIN, "a StorageClass name (lowercase letters, digits, '-' and '.')"),
        "app_image": (_IMAGE, "an image reference such as registry.example.com/shop:1.4"),
        "cpu": (_QUANTITY, "a Kubernetes quantity such as 500m or 2"),
        "memory": (_QUANTITY, "a Kubernetes quantity such as 2Gi"),
        "storage_size": (_QUANTITY, "a Kubernetes quantity such as 10Gi"),
    }
    if key == "operator":
        if value not in OPERATORS:
            raise refuse(f"a Percona operator release mongoshard renders for ({', '.join(OPERATORS)})")
        return value
    if key == "expose":
        if value not in EXPOSE_TYPES:
            raise refuse(f"one of {', '.join(EXPOSE_TYPES)}")
        return value
    pattern, what = rules[key]
    if not pattern.fullmatch(value) or (key == "app_image" and len(value) > 512):
        raise refuse(what)
    if key in _FLOORS:
        floor_text, floor = _FLOORS[key]
        amount = _quantity(value)
        if not floor <= amount < 2**63:
            raise refuse(f"{what}, from {floor_text} to a finite size")
    return value


def _quantity(text: str) -> float:
    """A Kubernetes quantity's value (resource.ParseQuantity: a decimal, then an exponent or a suffix)."""
    number, suffix = re.fullmatch(r"([\d.]+)(.*)", text).groups()  # type: ignore[union-attr]
    if suffix[:1] in ("e", "E") and suffix[1:].lstrip("+-").isdigit():
        return float(number) * 10.0 ** min(int(suffix[1:]), 400) if int(suffix[1:]) < 400 else float("inf")
    return float(number) * _SUFFIXES[suffix]
