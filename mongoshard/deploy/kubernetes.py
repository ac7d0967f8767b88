"""``mongoshard kubernetes``: the topology as a Percona operator cluster, and a Job that applies the shard keys.

The operator (mongodb-sharding-facts.md, "Kubernetes: the Percona operator") owns the replica sets, TLS, internal
auth, system users, ``addShard`` and the balancer; no operator declares shard keys, so a ``batch/v1`` Job runs
``mongoshard apply`` against ``<cluster>-mongos`` as one least-privilege user the operator creates (``spec.users``,
its password generated into ``<cluster>-custom-user-secret`` under the user's name: ``custom_users.go``).

The output is deterministic (same topology and models, same bytes) and holds no password: the Job reads it from
the operator's Secret at run time.
"""

from __future__ import annotations

from typing import Any
from collections.abc import Sequence

from ..errors import MongoshardError
from ..model.declaration import ShardSpec
from .kubernetes_settings import DNS_1035_LABEL, OPERATORS, KubernetesSettings
from .topology import Topology

__all__ = ["render_kubernetes", "kubernetes_documents", "KubernetesError", "RENDERED_HEADER", "is_rendered",
           "APPLY_USER", "APPLY_CONTAINER", "RETRIED_EXIT", "FAILING_EXITS", "CONFIG_REPLSET"]

RENDERED_HEADER = "# Rendered by 'mongoshard kubernetes' from mongoshard.yaml and the models; edit those, not this file."
APPLY_USER = "mongoshard-apply"
APPLY_CONTAINER = "apply"
CONFIG_REPLSET = "cfg"  # api.ConfigReplSetName: the operator names the config server replica set itself
# The Job's podFailurePolicy: drift (1), a bug (70) and an image that cannot run mongoshard (126, 127: the shell's
# "cannot execute" and "not found") fail it at once; 2 (unreachable, no shards yet) is retried.
FAILING_EXITS = (1, 70, 126, 127)
RETRIED_EXIT = 2
# psmdb_defaults.go: len(cluster name + replset name) <= clusterNameMaxLen
_CLUSTER_NAME_MAX = 50
_CA_MOUNT = "/etc/mongoshard/tls"
# Retries of the Job (each run waits up to apply_wait seconds; the pod backoff doubles from 10 s to 6 min): about
# an hour and a half for a cluster that is still coming up.
_BACKOFF_LIMIT = 12


class KubernetesError(MongoshardError):
    """The topology cannot be run by the chosen operator as written."""


def is_rendered(text: str) -> bool:
    return text.startswith(RENDERED_HEADER)


def render_kubernetes(topology: Topology, specs: Sequence[ShardSpec], apply_arguments: Sequence[str], *,
                      operator: str | None = None) -> str:
    """The multi-document YAML: the PerconaServerMongoDB, then the Job (``mongoshard apply`` with ``apply_arguments``:
    the models' module, and ``--database`` when given)."""
    import yaml

    documents = kubernetes_documents(topology, specs, apply_arguments, operator=operator)
    settings = topology.kubernetes
    release = OPERATORS[operator or settings.operator]
    lines = [RENDERED_HEADER,
             f"# Percona operator {release.version}: install it first with",
             f"#   kubectl apply --server-side -f {release.bundle_url} -n {settings.namespace}",
             "# then 'kubectl apply -f' this file. No password is written here: the operator generates them."]
    body = "---\n".join(yaml.safe_dump(document, sort_keys=False, default_flow_style=False) for document in documents)
    return "\n".join(lines) + "\n---\n" + body


def kubernetes_documents(topology: Topology, specs: Sequence[ShardSpec], apply_arguments: Sequence[str], *,
                         operator: str | None = None) -> list[dict[str, Any]]:
    """The custom resource and the Job, as documents; refused in one sentence where the operator would refuse."""
    settings = topology.kubernetes
    if operator is not None and operator not in OPERATORS:
        raise KubernetesError(f"--operator must be a Percona operator release mongoshard renders for "
                              f"({', '.join(OPERATORS)}), not {operator!r:.40}")
    release = OPERATORS[operator or settings.operator]
    _check(topology, specs, settings, release.version)
    return [_custom_resource(topology, specs, settings, release.version), _job(topology, apply_arguments, settings)]


def _check(topology: Topology, specs: Sequence[ShardSpec], settings: KubernetesSettings, version: str) -> None:
    name = topology.name
    if topology.config_shard:
        raise KubernetesError("'config_shard: true' cannot run on the Percona operator, which has no config shard "
                              "(percona/roadmap#150); set config_shard: false and shards: 1 or more")
    image = OPERATORS[version].images.get(f"{topology.version_tuple[0]}.{topology.version_tuple[1]}")
    if image is None:
        raise KubernetesError(f"'version' {topology.version} has no Percona Server for MongoDB build in operator "
                              f"{version} (it ships {', '.join(sorted(OPERATORS[version].images))}); set version: '8.0'")
    if not DNS_1035_LABEL.fullmatch(name):
        raise KubernetesError(f"'name' {name!r} cannot name a cluster on Kubernetes: its Services (<name>-mongos) need a "
                              "DNS-1035 label (lowercase letters, digits and '-', starting with a letter); rename it")
    longest = max((CONFIG_REPLSET, *(shard.name for shard in topology.shards)), key=len)
    if len(name + longest) > _CLUSTER_NAME_MAX:
        raise KubernetesError(f"'name' {name!r} is too long for the operator: with the replica set name {longest!r} it "
                              f"makes {len(name + longest)} characters, over its {_CLUSTER_NAME_MAX} (psmdb_defaults.go); "
                              "shorten it")
    if not settings.unsafe_replset_size:
        for setting, members in (("config_members", topology.config_members), ("shard_members", topology.shard_members)):
            if members < 3 or members % 2 == 0:
                raise KubernetesError(f"'{setting}' is {members}: the operator runs odd replica sets of 3 or more members; "
                                      f"set {setting}: 3, or kubernetes.unsafe_replset_size: true for a test cluster")
    if settings.app_image is None:
        raise KubernetesError("'kubernetes.app_image' is not set: the Job that applies the shard keys runs your "
                              "application's image (it holds the models and mongoshard); set it in mongoshard.yaml")
    shards = {shard.name for shard in topology.shards}
    for spec in specs:
        for zone in spec.zones:
            if missing := sorted(set(zone.shards) - shards):
                raise KubernetesError(f"zone {zone.name!r} of {spec.namespace} names shard {missing[0]!r}, which this "
                                      f"cluster does not have (its shards are {', '.join(sorted(shards))}); the operator's "
                                      "shard name is the replica set name")


def _custom_resource(topology: Topology, specs: Sequence[ShardSpec], settings: KubernetesSettings,
                     version: str) -> dict[str, Any]:
    name = topology.name
    major_minor = f"{topology.version_tuple[0]}.{topology.version_tuple[1]}"
    spec: dict[str, Any] = {
        "crVersion": version,
        "image": OPERATORS[version].images[major_minor],
        "upgradeOptions": {"apply": "disabled"},  # UpgradeStrategyDisabled: no automatic upgrades
        "secrets": {"users": f"{name}-secrets"},  # the default is one name shared by every cluster of the namespace
    }
    unsafe: dict[str, bool] = {}
    if topology.auth:
        spec["tls"] = {"mode": "requireTLS"}
        spec["users"] = [_apply_user(specs)]
    else:
        spec["tls"] = {"mode": "disabled"}
        unsafe["tls"] = True  # "TLS must be enabled. Set spec.unsafeFlags.tls to true to disable this check"
    if settings.unsafe_replset_size:
        unsafe["replsetSize"] = True
    if unsafe:
        spec["unsafeFlags"] = unsafe
    spec["replsets"] = [{"name": shard.name, **_members(topology.shard_members, topology.auth, settings)}
                        for shard in topology.shards]
    spec["sharding"] = {
        "enabled": True,
        "configsvrReplSet": _members(topology.config_members, topology.auth, settings),
        "mongos": {"size": topology.router_count, "resources": _resources(settings),
                   "expose": {"type": settings.expose}},
    }
    return {"apiVersion": "psmdb.percona.com/v1", "kind": "PerconaServerMongoDB",
            "metadata": {"name": name, "namespace": settings.namespace, "labels": _labels(topology)},
            "spec": spec}


def _apply_user(specs: Sequence[ShardSpec]) -> dict[str, Any]:
    """clusterManager@admin (enableSharding, splitChunk, zones, config reads) plus dbAdmin and read on each declared
    database (createIndex, listIndexes, collStats): clusterAdmin alone cannot create the shard key index."""
    databases = sorted({spec.database for spec in specs})
    roles = [{"name": "clusterManager", "db": "admin"}]
    for database in databases:
        roles += [{"name": "dbAdmin", "db": database}, {"name": "read", "db": database}]
    return {"name": APPLY_USER, "db": "admin", "roles": roles}


def _members(size: int, auth: bool, settings: KubernetesSettings) -> dict[str, Any]:
    claim: dict[str, Any] = {"resources": {"requests": {"storage": settings.storage_size}}}
    if settings.storage_class:
        claim = {"storageClassName": settings.storage_class, **claim}
    members: dict[str, Any] = {"size": size, "resources": _resources(settings),
                               "volumeSpec": {"persistentVolumeClaim": claim}}
    if not auth:
        members["configuration"] = "security:\n  authorization: disabled\n"
    return members


def _resources(settings: KubernetesSettings) -> dict[str, Any]:
    amount = {"cpu": settings.cpu, "memory": settings.memory}
    return {"requests": dict(amount), "limits": dict(amount)}


def _labels(topology: Topology) -> dict[str, str]:
    return {"app.kubernetes.io/instance": topology.name, "app.kubernetes.io/managed-by": "mongoshard"}


def _job(topology: Topology, apply_arguments: Sequence[str], settings: KubernetesSettings) -> dict[str, Any]:
    name, namespace = topology.name, settings.namespace
    host = f"{name}-mongos.{namespace}.svc.cluster.local:27017"  # in the operator's certificate (getShardingSans)
    container: dict[str, Any] = {"name": APPLY_CONTAINER, "image": settings.app_image,
                                 "command": ["mongoshard", "apply", *apply_arguments, "--wait", str(settings.apply_wait),
                                             "--min-shards", str(topology.shard_count)]}
    pod: dict[str, Any] = {"restartPolicy": "Never"}
    if topology.auth:
        # The operator's servers run with a CA file (build/ps-entry.sh: --sslCAFile), so a TLS client must present a
        # certificate: the Job presents the operator's own <cluster>-ssl one, as its e2e clients do.
        container["env"] = [
            {"name": "MONGOSHARD_URI", "value": f"mongodb://{host}/?tls=true&tlsCAFile={_CA_MOUNT}/ca.crt"},
            {"name": "MONGOSHARD_TLS_CERTIFICATE_FILE", "value": f"{_CA_MOUNT}/tls.crt"},
            {"name": "MONGOSHARD_TLS_KEY_FILE", "value": f"{_CA_MOUNT}/tls.key"},
            {"name": "MONGOSHARD_USERNAME", "value": APPLY_USER},
            {"name": "MONGOSHARD_PASSWORD",
             "valueFrom": {"secretKeyRef": {"name": f"{name}-custom-user-secret", "key": APPLY_USER}}},
        ]
        container["volumeMounts"] = [{"name": "tls", "mountPath": _CA_MOUNT, "readOnly": True}]
        # the Secret's default mode (0644): the application image may run as any user, and owns the container alone
        pod["volumes"] = [{"name": "tls", "secret": {"secretName": f"{name}-ssl", "items": [
            {"key": key, "path": key} for key in ("ca.crt", "tls.crt", "tls.key")]}}]
    else:
        container["env"] = [{"name": "MONGOSHARD_URI", "value": f"mongodb://{host}/"}]
    container["securityContext"] = {"allowPrivilegeEscalation": False}
    pod["containers"] = [container]
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": f"{name}-apply-shard-keys", "namespace": namespace, "labels": _labels(topology)},
        "spec": {
            "backoffLimit": _BACKOFF_LIMIT,
            "podFailurePolicy": {"rules": [
                {"action": "FailJob", "onExitCodes": {"containerName": APPLY_CONTAINER, "operator": "In",
                                                      "values": list(FAILING_EXITS)}},
                {"action": "Count", "onExitCodes": {"containerName": APPLY_CONTAINER, "operator": "In",
                                                    "values": [RETRIED_EXIT]}},
                {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},  # evicted
            ]},
            "template": {"metadata": {"labels": _labels(topology)}, "spec": pod},
        },
    }
