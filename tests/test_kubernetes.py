"""``mongoshard kubernetes``: the rendering checked the way the API server and the Percona operator check it.

The validator is proven on the operator's own sharded samples (vendored in ``server_cases/psmdb_samples``, prepared as its
e2e harness prepares them: ``cat_config`` in ``e2e-tests/functions``) and on deliberate breakages; then every
rendering of a matrix passes it.  The least-privilege user's roles are checked on the real mongod: ``rolesInfo``
shows what they grant, and the user itself runs what ``apply`` runs on a database where ``clusterAdmin`` cannot.
No Kubernetes API server can run here, so what the cluster itself would do is not tested (README says what).
"""

from __future__ import annotations

import copy
import itertools
import os
import subprocess
import time
from pathlib import Path
from typing import Any
from collections.abc import Iterator

import pytest
import yaml
from commandline import ROOT, run
from pymongo import MongoClient
from pymongo.errors import OperationFailure

from mongoshard.cli.boundary import EXIT_ERROR, EXIT_INCOMPLETE, EXIT_INTERNAL
from mongoshard.deploy.kubernetes import (APPLY_USER, FAILING_EXITS, RETRIED_EXIT, KubernetesError, kubernetes_documents,
                                          render_kubernetes)
from mongoshard.deploy.kubernetes_check import custom_resource_problems, job_problems
from mongoshard.deploy.kubernetes_settings import OPERATORS, KubernetesSettings
from mongoshard.deploy.processes import free_port
from mongoshard.deploy.topology import Topology
from mongoshard.model.declaration import ShardSpec, Zone

SAMPLES = ROOT / "tests" / "server_cases" / "psmdb_samples"  # the operator's own, vendored with NOTICE.md
# e2e-tests/release_versions at v1.22.0: what the harness fills in
HARNESS_IMAGES = {"image": "percona/percona-server-mongodb:8.0.19-7", "pmm": "percona/pmm-client:2.44.1-1",
                  "backup": "percona/percona-backup-mongodb:2.12.0", "init": "percona/percona-server-mongodb-operator:1.22.0"}


def _prepared(document: dict[str, Any]) -> dict[str, Any]:
    """cat_config: spec.image when null, pmm.image, initImage and backup.image when present, NAME_SPACE, apply Never."""
    spec = document.setdefault("spec", {})
    if spec.get("image") is None:
        spec["image"] = HARNESS_IMAGES["image"]
    if "pmm" in spec:
        spec["pmm"] = {**(spec["pmm"] or {}), "image": HARNESS_IMAGES["pmm"]}
    if "initImage" in spec:
        spec["initImage"] = HARNESS_IMAGES["init"]
    if "backup" in spec:
        spec["backup"] = {**(spec["backup"] or {}), "image": HARNESS_IMAGES["backup"]}
    spec.setdefault("upgradeOptions", {})["apply"] = "Never"
    return yaml.safe_load(yaml.safe_dump(document).replace("NAME_SPACE", "psmdb-test"))


def _samples() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted(SAMPLES.rglob("*.y*ml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                yield str(path.relative_to(SAMPLES)), _prepared(document)


SAMPLE_CASES = list(_samples())


def test_the_operator_samples_are_all_here() -> None:
    assert len(SAMPLE_CASES) == 12 and sum(d["spec"].get("sharding", {}).get("enabled", False) for _, d in SAMPLE_CASES) == 12


@pytest.mark.parametrize("operator", sorted(OPERATORS))
@pytest.mark.parametrize("name, document", SAMPLE_CASES, ids=[name for name, _ in SAMPLE_CASES])
def test_the_validator_accepts_the_operators_own_sharded_samples(name: str, document: dict, operator: str) -> None:
    assert custom_resource_problems(document, operator) == []


def _minimal() -> dict[str, Any]:
    return next(copy.deepcopy(d) for name, d in SAMPLE_CASES if name.endswith("cr-minimal.yaml"))


def _set(path: str, value: Any) -> Any:
    """A breakage of cr-minimal: ``value`` written at ``path`` (dots and [index]); a deletion when value is DELETE."""
    def change(document: dict[str, Any]) -> dict[str, Any]:
        parts = [int(p) if p.isdigit() else p for p in path.replace("[", ".").replace("]", "").split(".")]
        node = document
        for part in parts[:-1]:
            node = node[part]
        if value is DELETE:
            del node[parts[-1]]
        else:
            node[parts[-1]] = value
        return document
    return change


DELETE = object()
BREAKAGES = [
    # the schema, strict: unknown fields at any depth, types, int32 ranges
    ("spec.sharding.mongos.sizee", 1, "1.22.0", "'sizee' was unexpected"),
    ("spec.replsets[0].volumeSpec.persistentVolumeClaim.resources.requestz", {}, "1.22.0", "'requestz' was unexpected"),
    ("spec.unsafeFlags.replsetSizes", True, "1.22.0", "'replsetSizes' was unexpected"),
    ("spec.replsets[0].size", "three", "1.22.0", "'three' is not of type 'integer'"),
    ("spec.replsets[0].size", 2**31, "1.22.0", "is not a 'int32'"),
    ("spec.sharding.enabled", "yes", "1.22.0", "'yes' is not of type 'boolean'"),
    ("spec.replsets[0].volumeSpec", DELETE, "1.23.0", "'volumeSpec' is a required property"),
    ("spec.users", [{"name": "app", "roles": [{"name": "read"}]}], "1.22.0", "'db' is a required property"),
    # the operator's Go rules (psmdb_defaults.go)
    ("spec.replsets[0].volumeSpec", DELETE, "1.22.0", "replset rs0: volumeSpec should be specified"),
    ("spec.unsafeFlags", DELETE, "1.22.0", "replset size must be at least 3"),
    ("spec.replsets[0].size", 2, "1.22.0", None),  # still allowed: cr-minimal sets unsafeFlags.replsetSize
    ("spec.image", "", "1.22.0", "Required value for spec.image"),
    ("spec.tls", {"mode": "disabled"}, "1.22.0", "TLS must be enabled. Set spec.unsafeFlags.tls to true"),
    ("spec.sharding.mongos", DELETE, "1.22.0", "mongos should be specified"),
    ("spec.sharding.configsvrReplSet", DELETE, "1.22.0", "config replica set should be specified"),
    ("metadata.name", "a-cluster-name-of-forty-eight-characters-exactly", "1.22.0", "is too long, must be no more than 50"),
    ("spec.replsets[0].configuration", "net:\n  tls:\n    mode: requireTLS\n", "1.22.0", "tlsMode must be set using spec.tls.mode"),
    ("spec.replsets[0].volumeSpec.persistentVolumeClaim.resources.requests", {}, "1.22.0", "volume.resources.storage can't be empty"),
    ("apiVersion", "psmdb.percona.com/v1-12-0", "1.22.0", "apiVersion must be psmdb.percona.com/v1"),
    ("spec.replsets[0].terminationGracePeriodSeconds", 10, "1.22.0", "terminationGracePeriodSeconds must be at least 30"),
    ("spec.replsets[0].storage", {"engine": "mmapv1"}, "1.22.0", "mmapv1 storage engine is not supported"),
    ("spec.sharding.configsvrReplSet.storage", {"engine": "inMemory"}, "1.22.0", "not supported for config server replica set"),
    ("spec.replsets[0].configuration", "net: [", "1.22.0", "is not the YAML of a mongod configuration"),
    ("metadata.labels", {"bad key!": "x"}, "1.22.0", "is not a qualified label name"),
    ("metadata.bogus", 1, "1.22.0", "'bogus' was unexpected"),
    # third attacker of issue 20: what the operator accepts is accepted
    ("spec.allowUnsafeConfigurations", True, "1.22.0", None),  # UnsafeConf's field name
    ("spec.sharding.configsvrReplSet.arbiter", {"enabled": True, "size": 1}, "1.22.0", None),  # turned off, not refused
    ("spec.crVersion", "v1.15.0", "1.22.0", None),  # go-version: before 1.16 no size rules
]


@pytest.mark.parametrize("path, value, operator, says", BREAKAGES, ids=[f"{b[0]}={b[1]!r:.20}" for b in BREAKAGES])
def test_the_validator_refuses_deliberate_breakages(path: str, value: Any, operator: str, says: str | None) -> None:
    document = _set(path, value)(_minimal())
    problems = custom_resource_problems(document, operator)
    if says is None:
        assert problems == []
    else:
        assert any(says in problem for problem in problems), problems


def test_what_the_operator_lets_pass_passes() -> None:
    """psmdb_defaults.go: allowUnsafeConfigurations turns every unsafe flag on; the size and TLS-mode rules
    (checkSafeDefaults) run only from crVersion 1.16.0 and not while paused."""
    document = _minimal()
    del document["spec"]["unsafeFlags"]
    assert any("replset size must be at least 3" in p for p in custom_resource_problems(document, "1.22.0"))
    document["spec"]["allowUnsafeConfigurations"] = True
    assert custom_resource_problems(document, "1.22.0") == []
    paused = _minimal()
    paused["spec"].update(pause=True)
    paused["spec"]["replsets"][0]["configuration"] = "net:\n  tls:\n    mode: requireTLS\n"
    assert custom_resource_problems(paused, "1.22.0") == []
    paused["spec"]["pause"] = False
    assert any("tlsMode must be set using spec.tls.mode" in p for p in custom_resource_problems(paused, "1.22.0"))


def test_check_refuses_aliases_and_keys_given_twice(tmp_path: Path) -> None:
    """A kilobyte of nested aliases expands to a billion nodes; a key given twice is an error under strict field
    validation.  Both are one sentence, at once."""
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(12))
    (tmp_path / "bomb.yaml").write_text(bomb)
    started = time.monotonic()
    refused = run("kubernetes", "--check", str(tmp_path / "bomb.yaml"))
    assert refused.returncode == 2 and "aliases (*name) are not allowed" in refused.stderr and time.monotonic() - started < 20
    (tmp_path / "twice.yaml").write_text("apiVersion: batch/v1\nkind: Job\nkind: Job\n")
    twice = run("kubernetes", "--check", str(tmp_path / "twice.yaml"))
    assert twice.returncode == 2 and "the key 'kind' is given twice" in twice.stderr


def test_nulls_are_pruned_as_the_api_server_prunes_them() -> None:
    document = _minimal()
    document["spec"]["pmm"] = None  # a field left empty in YAML: pruned, not a type error
    document["spec"]["replsets"][0]["nonvoting"] = None
    assert custom_resource_problems(document, "1.22.0") == []


# The rendering ---------------------------------------------------------------------------------------------------

def _topology(**changes: Any) -> Topology:
    settings = {"app_image": "registry.example.com/shop:1.4", "namespace": "shop", **changes.pop("kubernetes", {})}
    defaults = {"name": "shop", "config_members": 3, "shard_members": 3, "shard_count": 2}
    return Topology(**{**defaults, **changes}, kubernetes=KubernetesSettings(**settings))


def _specs(shard_count: int, zoned: bool) -> list[ShardSpec]:
    zones = (Zone("EU", {"region": "EU"}, {"region": "EV"}, (f"shard{shard_count - 1}",)),) if zoned else ()
    return [ShardSpec("shop", "orders", (("region", 1), ("order_id", 1)), zones=zones),
            ShardSpec("accounts", "users", (("user_id", "hashed"),))]


MATRIX = list(itertools.product(range(1, 6), (1, 3, 5), range(1, 4), ("7.0", "8.0"), (True, False), (False, True)))


@pytest.mark.parametrize("operator", sorted(OPERATORS))
def test_every_rendering_of_the_matrix_passes_the_schema_the_operator_rules_and_the_job_schema(operator: str) -> None:
    """Shards 1-5, members 1/3/5, routers 1-3, versions 7.0/8.0, auth on/off, with and without zones: 360 renderings."""
    jobs: dict[str, dict[str, Any]] = {}
    for shards, members, routers, version, auth, zoned in MATRIX:
        topology = _topology(shard_count=shards, config_members=members, shard_members=members, router_count=routers,
                             version=version, auth=auth, kubernetes={"unsafe_replset_size": members == 1})
        resource, job = kubernetes_documents(topology, _specs(shards, zoned), ["shop.models"], operator=operator)
        assert custom_resource_problems(resource, operator) == [], (shards, members, routers, version, auth, zoned)
        assert [rs["name"] for rs in resource["spec"]["replsets"]] == [f"shard{i}" for i in range(shards)]
        assert resource["spec"]["sharding"]["mongos"]["size"] == routers
        assert resource["spec"]["crVersion"] == operator and resource["spec"]["upgradeOptions"] == {"apply": "disabled"}
        jobs[yaml.safe_dump(job)] = job
    assert len(jobs) == 10  # the Job depends on auth and on the shard count (--min-shards) only
    for job in jobs.values():
        assert job_problems(job) == []


def test_the_job_fails_at_once_on_drift_and_bugs_and_retries_an_unreachable_cluster() -> None:
    _, job = kubernetes_documents(_topology(), _specs(2, False), ["shop.models", "--database", "shop"])
    rules = job["spec"]["podFailurePolicy"]["rules"]
    assert FAILING_EXITS[:2] == (EXIT_INCOMPLETE, EXIT_INTERNAL) and RETRIED_EXIT == EXIT_ERROR  # boundary.py's codes
    assert rules[0] == {"action": "FailJob", "onExitCodes": {"containerName": "apply", "operator": "In",
                                                             "values": [1, 70, 126, 127]}}
    assert rules[1]["action"] == "Count" and rules[1]["onExitCodes"]["values"] == [2]
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["mongoshard", "apply", "shop.models", "--database", "shop", "--wait", "600",
                                    "--min-shards", "2"]
    env = {e["name"]: e for e in container["env"]}
    # custom_users.go: the password of a user without passwordSecretRef is <cluster>-custom-user-secret[<user name>]
    assert env["MONGOSHARD_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "shop-custom-user-secret", "key": APPLY_USER}
    # tls.go getShardingSans: <cluster>-mongos.<namespace>.svc.cluster.local is in the certificate; <cluster>-ssl holds ca.crt
    assert env["MONGOSHARD_URI"]["value"] == ("mongodb://shop-mongos.shop.svc.cluster.local:27017/"
                                              "?tls=true&tlsCAFile=/etc/mongoshard/tls/ca.crt")
    assert job["spec"]["template"]["spec"]["volumes"][0]["secret"]["secretName"] == "shop-ssl"


@pytest.mark.parametrize("change, says", [
    (lambda job: job["spec"]["template"]["spec"].update(restartPolicy="OnFailure"), 'only "Never" is supported'),
    (lambda job: job["spec"]["podFailurePolicy"]["rules"][0]["onExitCodes"].update(values=[70, 1]), "must be ordered"),
    (lambda job: job["spec"]["podFailurePolicy"]["rules"][0]["onExitCodes"].update(values=[0, 1]), "must not be 0"),
    (lambda job: job["spec"]["podFailurePolicy"]["rules"][0]["onExitCodes"].update(containerName="main"), "must be one of the container"),
    (lambda job: job["spec"]["podFailurePolicy"]["rules"][2]["onPodConditions"][0].pop("status"), "'status' is a required property"),
    (lambda job: job["spec"]["podFailurePolicy"]["rules"][2]["onPodConditions"][0].update(status="Maybe"), "status is required (True, False or Unknown)"),
    (lambda job: job["spec"].update(backofLimit=3), "'backofLimit' was unexpected"),
    (lambda job: job["spec"].update(backoffLimit=2**31), "2147483648"),
])
def test_the_job_validator_refuses_what_the_api_server_refuses(change: Any, says: str) -> None:
    _, job = kubernetes_documents(_topology(), _specs(2, False), ["shop.models"])
    change(job)
    assert any(says in problem for problem in job_problems(job)), job_problems(job)


def test_the_rendering_is_deterministic_and_holds_no_password() -> None:
    first = render_kubernetes(_topology(), _specs(2, True), ["shop.models"])
    assert first == render_kubernetes(_topology(), list(reversed(_specs(2, True))), ["shop.models"])
    for document in yaml.safe_load_all(first):
        if document and document["kind"] == "Job":
            env = document["spec"]["template"]["spec"]["containers"][0]["env"]
            assert all("value" not in e for e in env if "PASSWORD" in e["name"])
    assert "passwordSecretRef" not in first and "password:" not in first.lower()


@pytest.mark.parametrize("changes, says", [
    ({"config_shard": True}, "'config_shard: true' cannot run on the Percona operator"),
    ({"version": "9.0"}, "'version' 9.0 has no Percona Server for MongoDB build in operator 1.23.0"),
    ({"name": "shop_eu"}, "'name' 'shop_eu' cannot name a cluster on Kubernetes"),
    ({"name": "1shop"}, "DNS-1035 label"),
    ({"name": "a" * 45}, "is too long for the operator"),
    ({"shard_members": 2}, "'shard_members' is 2: the operator runs odd replica sets of 3 or more"),
    ({"config_members": 1}, "'config_members' is 1"),
    ({"kubernetes": {"app_image": None}}, "'kubernetes.app_image' is not set"),
])
def test_what_the_operator_cannot_run_is_refused_in_one_sentence(changes: dict, says: str) -> None:
    with pytest.raises(KubernetesError, match=says.replace("(", r"\(").replace(")", r"\)")):
        kubernetes_documents(_topology(**changes), _specs(2, False), ["shop.models"])


def test_a_zone_naming_a_shard_the_cluster_lacks_is_refused() -> None:
    with pytest.raises(KubernetesError, match="zone 'EU' of shop.orders names shard 'shard4'"):
        kubernetes_documents(_topology(), _specs(5, True), ["shop.models"])


@pytest.mark.parametrize("section, says", [
    ("kubernetes:\n  namespace: Shop\n", "'kubernetes.namespace' must be a namespace name"),
    ("kubernetes:\n  operator: 1.9.0\n", "'kubernetes.operator' must be a Percona operator release mongoshard renders for (1.22.0, 1.23.0)"),
    ("kubernetes:\n  memory: 0Gi\n", "'kubernetes.memory' must be a Kubernetes quantity such as 2Gi, from 256Mi to a finite size"),
    ("kubernetes:\n  memory: 1m\n", "from 256Mi"),
    ("kubernetes:\n  cpu: 1e400\n", "'kubernetes.cpu' must be a Kubernetes quantity such as 500m or 2, from 10m"),
    ("kubernetes:\n  app_image: 'x::'\n", "'kubernetes.app_image' must be an image reference"),
    ("kubernetes:\n  cpu: lots\n", "'kubernetes.cpu' must be a Kubernetes quantity"),
    ("kubernetes:\n  expose: Ingress\n", "'kubernetes.expose' must be one of ClusterIP, LoadBalancer, NodePort"),
    ("kubernetes:\n  app_image: my image\n", "'kubernetes.app_image' must be an image reference"),
    ("kubernetes:\n  replicas: 3\n", "unknown setting(s) kubernetes.replicas"),
    ("kubernetes: [1]\n", "'kubernetes' must be a mapping of settings"),
])
def test_bad_kubernetes_settings_are_one_sentence(tmp_path: Path, section: str, says: str) -> None:
    (tmp_path / "mongoshard.yaml").write_text("config_members: 3\nshard_members: 3\n" + section)
    result = run("kubernetes", "examples.pokemon_storage.models", "-f", str(tmp_path / "mongoshard.yaml"))
    assert result.returncode == 2 and says in result.stderr and result.stderr.count("\n") == 1, result.stderr


def test_the_command_writes_checks_and_never_replaces_a_foreign_file(tmp_path: Path) -> None:
    (tmp_path / "mongoshard.yaml").write_text("name: game\nconfig_members: 3\nshard_members: 3\nkubernetes:\n"
                                              "  app_image: registry.example.com/game:2\n  operator: 1.22.0\n")
    topology = ["-f", str(tmp_path / "mongoshard.yaml")]
    written = run("kubernetes", "examples.pokemon_storage.models", *topology, "-o", str(tmp_path / "k8s.yaml"))
    assert written.returncode == 0, written.stderr
    text = (tmp_path / "k8s.yaml").read_text()
    assert text == run("kubernetes", "examples.pokemon_storage.models", *topology).stdout
    resource = next(d for d in yaml.safe_load_all(text) if d and d["kind"] == "PerconaServerMongoDB")
    assert resource["spec"]["users"][0]["roles"] == [{"name": "clusterManager", "db": "admin"},
                                                      {"name": "dbAdmin", "db": "game"}, {"name": "read", "db": "game"}]
    checked = run("kubernetes", "--check", str(tmp_path / "k8s.yaml"), "--operator", "1.22.0", "--json")
    assert checked.returncode == 0 and '"problems": []' in checked.stdout, checked.stdout
    (tmp_path / "mine.yaml").write_text("kind: mine\n")
    refused = run("kubernetes", "examples.pokemon_storage.models", *topology, "-o", str(tmp_path / "mine.yaml"))
    assert refused.returncode == 2 and "was not written by mongoshard" in refused.stderr
    assert (tmp_path / "mine.yaml").read_text() == "kind: mine\n"
    edited = text.replace("size: 3", "size: 4", 1).replace("backoffLimit: 12", "backoffLimit: 12\n  extra: true")
    (tmp_path / "edited.yaml").write_text(edited)
    found = run("kubernetes", "--check", str(tmp_path / "edited.yaml"), "--operator", "1.22.0")
    assert found.returncode == 1 and "replset size must be odd" in found.stdout and "'extra' was unexpected" in found.stdout


# The least-privilege user on the real mongod ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def secured(mongod_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str]]:
    """A real mongod with --auth, an admin created through the localhost exception."""
    port, data = free_port(), tmp_path_factory.mktemp("secured")
    process = subprocess.Popen([str(mongod_path), "--auth", "--port", str(port), "--bind_ip", "127.0.0.1", "--dbpath", str(data),
                                "--wiredTigerCacheSizeGB", "0.25", "--logpath", str(data / "mongod.log")])
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with MongoClient(port=port, serverSelectionTimeoutMS=500) as client:
                    client.admin.command("createUser", "root", pwd="root-pass", roles=["root"])
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        yield port, "root-pass"
    finally:
        process.terminate()
        process.wait(30)


def _granted(privileges: list[dict[str, Any]], action: str, database: str, collection: str | None) -> bool:
    """Whether a privilege of rolesInfo grants ``action`` on the collection (None: the database resource)."""
    for privilege in privileges:
        resource = privilege["resource"]
        if action not in privilege["actions"] or "cluster" in resource:
            continue
        db_ok = resource.get("db") in ("", database) and not (resource.get("db") == "" and database in ("admin", "config", "local"))
        coll = resource.get("collection")
        if db_ok and (coll == "" or coll == (collection or "")):
            return True
    return False


def test_the_apply_users_roles_grant_what_apply_runs_as_rolesinfo_shows_them(secured: tuple[int, str]) -> None:
    port, password = secured
    roles = kubernetes_documents(_topology(), _specs(2, True), ["shop.models"])[0]["spec"]["users"][0]["roles"]
    with MongoClient(port=port, username="root", password=password) as client:
        info = client.admin.command("rolesInfo", [{"role": r["name"], "db": r["db"]} for r in roles], showPrivileges=True)
        privileges = [p for role in info["roles"] for p in role["inheritedPrivileges"]]
        cluster_admin = client.admin.command("rolesInfo", {"role": "clusterAdmin", "db": "admin"}, showPrivileges=True)
    for database, collection in (("shop", "orders"), ("accounts", "users")):
        # the shard key index (createIndexes, listIndexes), whether it is empty (count), shardCollection and
        # enableSharding (enableSharding), pre-splitting (splitChunk, moveChunk): MongoDB's "Privilege Actions"
        for action in ("createIndex", "listIndexes", "find", "enableSharding", "splitChunk", "moveChunk"):
            assert _granted(privileges, action, database, collection), (action, database)
    for collection in ("shards", "collections", "chunks", "tags", "databases"):  # apply's reads of the config database
        assert _granted(privileges, "find", "config", collection), collection
    # zones: addShardToZone and updateZoneKeyRange are authorised by update of config.shards / config.tags (SERVER-44320)
    assert _granted(privileges, "update", "config", "shards") and _granted(privileges, "update", "config", "tags")
    only_cluster_admin = cluster_admin["roles"][0]["inheritedPrivileges"]
    assert not _granted(only_cluster_admin, "createIndex", "shop", "orders"), "clusterAdmin alone cannot create the index"


def test_the_apply_user_runs_the_index_steps_where_cluster_admin_alone_is_refused(secured: tuple[int, str]) -> None:
    """The real server's authorisation, not a reading of it: createIndexes, listIndexes and the config reads."""
    port, password = secured
    roles = kubernetes_documents(_topology(), _specs(2, False), ["shop.models"])[0]["spec"]["users"][0]["roles"]
    with MongoClient(port=port, username="root", password=password) as root:
        for name, granted in (("applier", roles), ("operator-admin", [{"role": "clusterAdmin", "db": "admin"}])):
            if not root.admin.command("usersInfo", name)["users"]:
                root.admin.command("createUser", name, pwd="pw-" + name,
                                   roles=[{"role": r.get("name", r.get("role")), "db": r["db"]} for r in granted])
    with MongoClient(port=port, username="applier", password="pw-applier") as applier:
        applier.shop.orders.create_index([("region", 1), ("order_id", 1)])
        assert "region_1_order_id_1" in applier.shop.orders.index_information()
        assert applier.shop.orders.count_documents({}) == 0 and applier.config.shards.find_one() is None
        with pytest.raises(OperationFailure, match="not authorized"):
            applier.shop.orders.insert_one({"region": "EU"})  # read and dbAdmin: no writes of application data
    with MongoClient(port=port, username="operator-admin", password="pw-operator-admin") as admin:
        with pytest.raises(OperationFailure, match="not authorized"):
            admin.shop.orders.create_index([("sku", 1)])


# apply as the Job runs it -------------------------------------------------------------------------------------------

def test_apply_logs_in_from_variables_and_waits_for_shards_then_exits_2(secured: tuple[int, str]) -> None:
    """A standalone lists no shard, as a router does before the operator adds them: apply retries for --wait, then exits
    2 (the Job retries).  The login comes from the variables, never the URI; a wrong password is one sentence."""
    port, password = secured
    uri = f"mongodb://127.0.0.1:{port}/"
    started = time.monotonic()
    waited = run("apply", "examples.pokemon_storage.models", "--wait", "4",
                 env={"MONGOSHARD_URI": uri, "MONGOSHARD_USERNAME": "root", "MONGOSHARD_PASSWORD": password})
    assert waited.returncode == 2 and "the router lists no shard yet" in waited.stderr, waited.stderr
    assert 4 <= time.monotonic() - started < 30 and password not in waited.stderr + waited.stdout
    wrong = run("apply", "examples.pokemon_storage.models",
                env={"MONGOSHARD_URI": uri, "MONGOSHARD_USERNAME": "root", "MONGOSHARD_PASSWORD": "not-it"})
    assert wrong.returncode == 2 and "Authentication failed" in wrong.stderr and wrong.stderr.count("\n") == 1
    half = run("apply", "examples.pokemon_storage.models", env={"MONGOSHARD_URI": uri, "MONGOSHARD_USERNAME": "root",
                                                                "MONGOSHARD_PASSWORD": ""})
    assert half.returncode == 2 and "$MONGOSHARD_PASSWORD is not set while $MONGOSHARD_USERNAME is" in half.stderr
    both = run("apply", "examples.pokemon_storage.models", env={
        "MONGOSHARD_URI": f"mongodb://root:{password}@127.0.0.1:{port}/", "MONGOSHARD_USERNAME": "root",
        "MONGOSHARD_PASSWORD": password})
    assert both.returncode == 2 and "keep one of them" in both.stderr and password not in both.stderr


def test_the_kubernetes_command_documents_its_fields_only_from_the_chosen_schema() -> None:
    """A rendered field missing from the chosen release's schema fails the strict check (here: 1.23.0's
    spec.defaultRWConcern, which 1.22.0 does not know)."""
    resource, _ = kubernetes_documents(_topology(), _specs(2, False), ["shop.models"], operator="1.22.0")
    resource["spec"]["defaultRWConcern"] = {}
    assert any("'defaultRWConcern' was unexpected" in p for p in custom_resource_problems(resource, "1.22.0"))
    assert not any("defaultRWConcern" in p for p in custom_resource_problems(resource, "1.23.0"))


def test_no_environment_leaks_into_the_rendering(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONGOSHARD_PASSWORD", "s3cret-value")
    assert "s3cret-value" not in render_kubernetes(_topology(), _specs(2, False), ["shop.models"])
    assert os.environ["MONGOSHARD_PASSWORD"] == "s3cret-value"


# TLS as the operator runs it ----------------------------------------------------------------------------------------

def _certificates(folder: Path, names: list[str]) -> dict[str, Path]:
    """A CA and one certificate for ``names`` signed by it, as the operator's <cluster>-ssl Secret holds them."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def certificate(subject: str, key: Any, issuer: Any, issuer_key: Any, *, ca: bool) -> Any:
        builder = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                   .issuer_name(issuer).public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if not ca:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "root-ca")])
    ca = certificate("root-ca", ca_key, ca_name, ca_key, ca=True)
    leaf = certificate("shop", key, ca_name, ca_key, ca=False)
    files = {"ca.crt": ca.public_bytes(serialization.Encoding.PEM), "tls.crt": leaf.public_bytes(serialization.Encoding.PEM),
             "tls.key": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption())}
    for name, content in files.items():
        (folder / name).write_bytes(content)
    (folder / "server.pem").write_bytes(files["tls.key"] + files["tls.crt"])  # ps-entry.sh: cat tls.key tls.crt > /tmp/tls.pem
    return {name: folder / name for name in (*files, "server.pem")}


def test_the_jobs_tls_settings_reach_a_mongod_run_as_the_operator_runs_it(mongod_path: Path, tmp_path: Path) -> None:
    """The operator starts every server with --tlsMode requireTLS, its <cluster>-ssl certificate, --sslCAFile and
    --sslAllowInvalidCertificates (build/ps-entry.sh, mongos.go).  Such a server refuses a TLS client without a
    certificate (so the Job presents the Secret's), and the Job's URI, CA and certificate variables get through."""
    # tls.go getShardingSans: the mongos names (and "localhost", GetCertificateSans' first)
    files = _certificates(tmp_path, ["localhost", "shop-mongos", "shop-mongos.shop", "shop-mongos.shop.svc.cluster.local"])
    port = free_port()
    (tmp_path / "db").mkdir()
    process = subprocess.Popen([str(mongod_path), "--port", str(port), "--bind_ip", "127.0.0.1", "--dbpath", str(tmp_path / "db"),
                                "--wiredTigerCacheSizeGB", "0.25", "--logpath", str(tmp_path / "mongod.log"), "--tlsMode",
                                "requireTLS", "--tlsCertificateKeyFile", str(files["server.pem"]), "--tlsCAFile",
                                str(files["ca.crt"]), "--tlsAllowInvalidCertificates"])
    try:
        _, job = kubernetes_documents(_topology(), _specs(2, False), ["examples.pokemon_storage.models"])
        env = {e["name"]: e.get("value", "") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
        mount = job["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]["mountPath"]
        local = {name: value.replace("shop-mongos.shop.svc.cluster.local:27017", f"localhost:{port}").replace(mount, str(tmp_path))
                 for name, value in env.items() if name.startswith("MONGOSHARD_") and "PASSWORD" not in name and "USER" not in name}
        assert set(local) == {"MONGOSHARD_URI", "MONGOSHARD_TLS_CERTIFICATE_FILE", "MONGOSHARD_TLS_KEY_FILE"}
        deadline = time.monotonic() + 30
        while run("apply", "examples.pokemon_storage.models", env=local).stderr.find("lists no shard") < 0:
            assert time.monotonic() < deadline, "the server did not come up"
            time.sleep(0.5)
        through = run("apply", "examples.pokemon_storage.models", env=local)
        assert through.returncode == 2 and "the router lists no shard yet" in through.stderr  # TLS passed: a standalone
        without = {name: value for name, value in local.items() if name == "MONGOSHARD_URI"}
        refused = run("apply", "examples.pokemon_storage.models", env=without)
        assert refused.returncode == 2 and "Cannot reach" in refused.stderr
        assert "no SSL certificate provided by peer" in (tmp_path / "mongod.log").read_text()
        half = run("apply", "examples.pokemon_storage.models", env={**without, "MONGOSHARD_TLS_KEY_FILE": str(files["tls.key"])})
        assert half.returncode == 2 and "$MONGOSHARD_TLS_CERTIFICATE_FILE is not set while $MONGOSHARD_TLS_KEY_FILE is" in half.stderr
    finally:
        process.terminate()
        process.wait(30)
