"""Without a router, reports read each shard directly: a user that exists only on the config server is refused there.

The cluster is real and has auth on (keyfile, an admin on every replica set, as `mongoshard up` creates it).  A user
made through mongos lives on the config server only; the real shards then refuse its login, and the report must say
so in one sentence naming MONGOSHARD_SHARD_URI, which, given a user every shard knows, makes the same report work.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from collections.abc import Iterator

import pytest
from commandline import run
from harness import RouterlessCluster

pytestmark = pytest.mark.mongod

MODELS = """
from mongoengine import Document, IntField
class Item(Document):
    k = IntField()
    meta = {"collection": "items", "shard_key": ("k",)}
"""


@pytest.fixture(scope="module")
def secured(mongod_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RouterlessCluster]:
    running = RouterlessCluster(mongod_path, tmp_path_factory.mktemp("secured"), auth=True)
    running.start()
    try:
        items = running.primary_shard("creds").creds.items
        items.insert_many([{"k": i} for i in range(100)])
        items.create_index("k")
        running.shard_collection("creds.items", {"k": 1})
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def config_only_user(secured: RouterlessCluster) -> tuple[str, str]:
    """A user as mongos would create it: on the config server replica set, nowhere else."""
    password = secrets.token_urlsafe(12)
    secured.config_client.admin.command("createUser", "reporter", pwd=password, roles=["root"])
    assert secured.shard_clients["shard0"].admin.command("usersInfo", "reporter")["users"] == []
    return "reporter", password


def _config_uri(cluster: RouterlessCluster, user: str, password: str) -> str:
    return f"mongodb://{user}:{password}@127.0.0.1:{cluster.topology.config_server.ports[0]}/?directConnection=true&authSource=admin"


def test_a_shard_that_refuses_the_login_is_one_sentence_naming_the_fix(secured, config_only_user, tmp_path: Path) -> None:
    user, password = config_only_user
    refused = run("balance", "creds.items", "--uri", _config_uri(secured, user, password), cwd=tmp_path)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert "refused the login" in refused.stderr and "$MONGOSHARD_SHARD_URI" in refused.stderr
    assert "Authentication failed" in refused.stderr  # the server's own reason, kept
    assert password not in refused.stdout + refused.stderr


def test_shard_credentials_from_the_environment_make_the_report_work(secured, config_only_user, tmp_path: Path) -> None:
    user, password = config_only_user
    admin_password = secured.admin_password
    shard_uri = f"mongodb://admin:{admin_password}@unused/?authSource=admin"
    result = run("balance", "creds.items", "--json", "--max-imbalance", "2", "--uri", _config_uri(secured, user, password), cwd=tmp_path,
                 env={"MONGOSHARD_SHARD_URI": shard_uri})
    assert result.returncode == 0, result.stderr
    (collection,) = json.loads(result.stdout)["collections"]
    assert sum(shard["documents"] for shard in collection["shards"]) == 100  # counted on the shards themselves
    assert password not in result.stdout + result.stderr and admin_password not in result.stdout + result.stderr


def test_explain_without_a_router_says_the_same(secured, config_only_user, tmp_path: Path) -> None:
    user, password = config_only_user
    (tmp_path / "cred_models.py").write_text(MODELS)
    arguments = ("explain", "cred_models:Item", '{"k": 5}', "--database", "creds", "--uri", _config_uri(secured, user, password))
    refused = run(*arguments, cwd=tmp_path, env={"PYTHONPATH": f"{tmp_path}:{Path(__file__).parent.parent}"})
    assert refused.returncode == 2 and "$MONGOSHARD_SHARD_URI" in refused.stderr, refused.stderr
    shard_uri = f"mongodb://admin:{secured.admin_password}@unused/?authSource=admin"
    planned = run(*arguments, "--json", cwd=tmp_path,
                  env={"PYTHONPATH": f"{tmp_path}:{Path(__file__).parent.parent}", "MONGOSHARD_SHARD_URI": shard_uri})
    assert planned.returncode == 0, planned.stderr
    plans = json.loads(planned.stdout)["from_shards"]["shards"]
    assert [plan["shard"] for plan in plans] == [secured.routing_table("creds.items").shard_for({"k": 5})]
