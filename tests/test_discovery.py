"""Discovery on a code base shaped like the real ones: it imports badly in places, prints, connects at start-up.

The application below is written to disk and analysed by the real console
script in its own process, as a user runs it.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from commandline import ROOT, run

APPLICATION = {
    "shop/__init__.py": "",
    "shop/catalog.py": """
        from mongoengine import Document, StringField, IntField
        print("connecting to the catalogue service...")   # modules that print while importing
        class Product(Document):
            sku = StringField()
            seller = StringField(db_field="seller_id")
            meta = {"collection": "products", "db_alias": "catalog", "shard_key": ("sku", "seller")}
        class Broken(Document):
            asin = StringField()
            meta = {"shard_key": ("asin"), "db_alias": "catalog"}   # a string: one bad model, not a bad module
        class Review(Document):
            sku = StringField()
            stars = IntField()
        """,
    "shop/users.py": """
        from mongoengine import Document, StringField
        from mongoshard import sharded
        @sharded(key="email")
        class User(Document):
            email = StringField()
            meta = {"db_alias": "users"}
        @sharded(key="nickname")            # no such field: this model's error, User still analysed
        class Alias(Document):
            name = StringField()
            meta = {"db_alias": "users"}
        """,
    "shop/payments.py": """
        import stripe_sdk_that_is_not_installed   # an optional dependency
        """,
    "shop/plugins/loyalty.py": """
        import os
        from mongoengine import Document, IntField
        os.write(1, b"loyalty plugin loaded\\n")   # straight to file descriptor 1
        class Points(Document):                    # in a namespace package: no __init__.py above it
            member = IntField()
            meta = {"shard_key": ("member",), "shard_database": "loyalty"}
        """,
    "shop/tests/__init__.py": "",
    "shop/tests/conftest.py": "import pytest_plugin_that_is_not_installed\n",
    "shop/test_models.py": "raise RuntimeError('a test module, never imported')\n",
}


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


@pytest.fixture
def application(tmp_path: Path) -> Path:
    return write_tree(tmp_path, APPLICATION)


def mongoshard(application: Path, *arguments: str, **env: str):
    return run(*arguments, cwd=application, env={"PYTHONPATH": f"{ROOT}:{application}", **env})


def test_one_failing_module_or_model_does_not_hide_the_others(application: Path) -> None:
    result = mongoshard(application, "keys", "shop", "--json", "--alias", "catalog=store")
    assert result.returncode == 2  # something could not be analysed: scripts must notice
    keys = json.loads(result.stdout)  # stdout stays JSON although a module printed while importing
    assert [(k["namespace"], k["key"]) for k in keys] == [("<unknown>.user", {"email": 1}), ("loyalty.points", {"member": 1}),
                                                          ("store.products", {"sku": 1, "seller_id": 1})]
    problems = [json.loads(line)["warning"] for line in result.stderr.splitlines() if line.startswith("{") and "warning" in json.loads(line)]
    assert len(problems) == 3, problems
    assert any("shop.payments" in p and "stripe_sdk_that_is_not_installed" in p and "shop/payments.py:2" in p for p in problems)
    assert any("Broken" in p and "write a tuple: ('asin',)" in p and "catalog.py:" in p for p in problems)
    assert any("Alias" in p and "'nickname' is unknown" in p for p in problems)
    assert "connecting to the catalogue service..." in result.stderr and "loyalty plugin loaded" in result.stderr
    assert "conftest" not in result.stderr and "test_models" not in result.stderr


def test_the_database_comes_from_the_uri_when_nobody_names_it(application: Path) -> None:
    result = mongoshard(application, "keys", "shop.users", "--json", MONGOSHARD_URI="mongodb://u:secret@127.0.0.1:1/accounts")
    assert result.returncode == 2 and "secret" not in result.stdout + result.stderr
    assert [k["namespace"] for k in json.loads(result.stdout)] == ["accounts.user"]


def test_traceback_shows_where_the_import_failed(application: Path) -> None:
    result = mongoshard(application, "keys", "shop.payments", "shop.users", "--traceback")
    assert result.returncode == 2
    assert "Traceback (most recent call last)" in result.stderr and "import stripe_sdk_that_is_not_installed" in result.stderr
    assert "user" in result.stdout


def test_tests_are_imported_when_asked(application: Path) -> None:
    result = mongoshard(application, "keys", "shop", "--json", "--include-tests")
    assert "pytest_plugin_that_is_not_installed" in result.stderr and "a test module, never imported" in result.stderr


@pytest.mark.parametrize("name, says", [("./shop", "'./shop' is not a dotted module name; give one such as 'shop'"),
                                        ("shop/catalog.py", "such as 'shop.catalog'"), ("", "is not a dotted module name")])
def test_a_path_instead_of_a_module_name(application: Path, name: str, says: str) -> None:
    result = mongoshard(application, "keys", name)
    assert result.returncode == 2 and says in result.stderr and "mongoshard/model" not in result.stderr


def test_an_import_error_whose_message_fails_is_still_one_module_problem(application: Path) -> None:
    (application / "shop" / "badrepr.py").write_text("class E(Exception):\n    def __str__(self):\n        return 1 / 0\nraise E()\n")
    result = mongoshard(application, "keys", "shop.badrepr", "shop.users")
    assert result.returncode == 2 and "failed with E: E" in result.stderr and "user" in result.stdout


def test_a_module_that_does_not_exist_is_bad_input(application: Path) -> None:
    result = mongoshard(application, "keys", "shop", "shpo")
    assert result.returncode == 2 and result.stdout == ""
    assert "Cannot import module 'shpo'" in result.stderr


# What real applications taught (issue 17): MPContribs' import order, udata's captured warnings and re-exports --------
PORTAL = {
    "portal/__init__.py": "",
    "portal/contributions.py": """
        from mongoengine import Document, LazyReferenceField, StringField, CASCADE
        class Contribution(Document):   # refers by name to a model of a module imported after this one
            project = LazyReferenceField("Projects", reverse_delete_rule=CASCADE)
            md5 = StringField()
            meta = {"shard_key": ("md5",), "shard_database": "mpcontribs"}
        """,
    "portal/projects.py": """
        from mongoengine import Document, StringField
        class Projects(Document):
            name = StringField(primary_key=True)
            meta = {"shard_key": ("name",), "shard_database": "mpcontribs"}
        """,
    "portal/app.py": """
        import logging
        logging.captureWarnings(True)   # udata's create_app does this at import: Python warnings go to a log
        """,
    "portal/models.py": """
        from portal.projects import *  # noqa: a module that re-exports every model
        from portal.contributions import *  # noqa
        from mongoengine import Document, StringField
        class Broken(Document):
            slug = StringField()
            meta = {"shard_key": ("slug"), "shard_database": "mpcontribs"}
        """,
}


@pytest.fixture
def portal(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "portal_app", PORTAL)


def test_a_module_referring_to_a_later_model_is_imported_again_after_it(portal: Path) -> None:
    """Alphabetically ``contributions`` comes before ``projects``; its CASCADE reference fails with NotRegistered."""
    result = mongoshard(portal, "keys", "portal.contributions", "portal.projects", "--json")
    assert [k["namespace"] for k in json.loads(result.stdout)] == ["mpcontribs.contribution", "mpcontribs.projects"]
    assert "NotRegistered" not in result.stderr and result.returncode == 0


def test_problems_are_reported_although_the_application_captures_warnings(portal: Path) -> None:
    result = mongoshard(portal, "keys", "portal.app", "portal.models", "--json")
    assert result.returncode == 2
    problems = [json.loads(line)["warning"] for line in result.stderr.splitlines() if line.startswith("{") and "warning" in json.loads(line)]
    assert any("Broken" in p and "write a tuple: ('slug',)" in p for p in problems), result.stderr
    result = mongoshard(portal, "keys", "portal.app", "portal.models")
    assert "write a tuple" in result.stderr and "see the problems above" not in result.stderr.split("write a tuple")[0][-5:]


def test_models_reached_through_a_module_count_once(portal: Path) -> None:
    result = mongoshard(portal, "keys", "portal.models", "portal.projects", "--json")
    assert [k["namespace"] for k in json.loads(result.stdout)] == ["mpcontribs.contribution", "mpcontribs.projects"]


def test_audit_takes_several_modules_and_survives_a_failing_one(portal: Path, application: Path) -> None:
    log = portal / "queries.jsonl"
    log.write_text(json.dumps({"namespace": "mpcontribs.contribution", "operation": "find", "shape": {"md5": "?str"}}) + "\n")
    result = run("audit", str(log), "portal.contributions", "portal.projects", "shop.payments", "--json", cwd=portal,
                 env={"PYTHONPATH": f"{ROOT}:{portal}:{application}"})
    assert result.returncode == 2 and "stripe_sdk_that_is_not_installed" in result.stderr
    report = json.loads(result.stdout)
    assert report["collections"][0]["keys"] == {"declared": {"md5": 1}}
