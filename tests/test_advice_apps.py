"""advise on declarations as public mongoengine applications write them (verbatim shapes; sources in comments).

Each application is written to disk and advised by the real console script,
as a user runs it, with no connection registered (applications connect at
start-up, not at import).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from commandline import ROOT, run

APPLICATIONS = {
    # smartshark/pycoSHARK pycoshark/mongomodels.py @ d94e8ef: "Shard Key: hashed id", declared ranged in meta.
    "mining.py": """
        from mongoengine import Document, ObjectIdField, StringField
        class FileAction(Document):
            commit_id = ObjectIdField()
            file_id = ObjectIdField()
            mode = StringField()
            meta = {
                'indexes': [
                    '#id',
                    'commit_id',
                    ('commit_id', 'file_id'),
                ],
                'shard_key': ('id',),
            }
        """,
    # A CRM's customer list (public code): a date kept as text leads the key.
    "crm.py": """
        from mongoengine import Document, StringField, IntField
        class MyCustomers(Document):
            date_str = StringField()
            psuser_id = IntField()
            meta = {'collection': 'ncrm_my_customers', 'shard_key': ['date_str'], 'indexes': ['psuser_id']}
        """,
    # A game's sessions: a dozen servers, no choices declared.
    "game.py": """
        from mongoengine import Document, StringField, IntField
        from mongoshard import sharded
        @sharded(key="server")
        class Session(Document):
            server = StringField(required=True)
            player_id = IntField()
        """,
    # The same stored value, three field types.
    "refs.py": """
        from mongoengine import Document, ObjectIdField, ReferenceField, LazyReferenceField, StringField
        from mongoshard import sharded
        class Author(Document):
            name = StringField()
        @sharded(key="author")
        class PostByObjectId(Document):
            author = ObjectIdField(required=True)
        @sharded(key="author")
        class PostByReference(Document):
            author = ReferenceField(Author, required=True)
        @sharded(key="author")
        class PostByLazyReference(Document):
            author = LazyReferenceField(Author, required=True)
        """,
    # A code-list service: the application assigns _id, the key is elsewhere.
    "codes.py": """
        from mongoengine import Document, StringField
        from mongoshard import sharded
        @sharded(key="dictionary")
        class Code(Document):
            code = StringField(primary_key=True)
            dictionary = StringField(required=True)
        """,
}

UNSHARDED = """
    from mongoengine import Document, StringField, IntField, ListField
    class Customer(Document):
        email = StringField(unique=True)
        region = StringField()
    class Order(Document):
        customer_id = IntField()
        number = IntField()
        lines = ListField(StringField())
        meta = {"indexes": [{"fields": ["customer_id", "number"], "unique": True}]}
    """


@pytest.fixture
def apps(tmp_path: Path) -> Path:
    package = tmp_path / "apps"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name, text in APPLICATIONS.items():
        (package / name).write_text(textwrap.dedent(text))
    (tmp_path / "shop.py").write_text(textwrap.dedent(UNSHARDED))
    return tmp_path


def advise(apps: Path, *arguments: str) -> tuple[int, dict[tuple[str, str], dict]]:
    result = run("advise", *arguments, "--json", cwd=apps, env={"PYTHONPATH": f"{ROOT}:{apps}"})
    assert result.stdout, result.stderr
    return result.returncode, {(f["model"], f["rule"]): f for f in json.loads(result.stdout)}


def test_findings_fit_each_model(apps: Path) -> None:
    code, findings = advise(apps, "apps")
    assert code == 1  # errors found; no module failed
    # The app already says its key is hashed: no monotonic error, but the declaration to write, in its own spelling.
    hashed = findings[("FileAction", "hashed-index-not-declared")]
    assert hashed["severity"] == "warning" and "'#id'" in hashed["message"]
    assert hashed["fix"] == "declare it hashed: meta[\"shard_key\"] = ('id',), meta[\"shard_hashed\"] = 'id'"
    assert ("FileAction", "monotonic-key") not in findings
    assert "#2772" in findings[("FileAction", "mongoengine-write-path")]["message"]
    # A date as text leads the key; the fix names this model's own fields, not an example's.
    dated = findings[("MyCustomers", "monotonic-key")]
    assert dated["severity"] == "error" and "'date_str'" in dated["message"]
    assert "psuser_id" in dated["fix"] and "sensor_id" not in json.dumps(list(findings.values()))
    # Unknown cardinality is said as unknown, with the command that measures it.
    unknown = findings[("Session", "unknown-cardinality")]
    assert unknown["severity"] == "info" and "mongoshard simulate SAMPLE --key '{\"server\": 1}'" in unknown["fix"]
    # One stored value (an ObjectId), one verdict.
    verdicts = {findings[(model, "monotonic-key")]["severity"] for model in ("PostByObjectId", "PostByReference", "PostByLazyReference")}
    assert verdicts == {"warning"}
    assert "unique on each shard only" in findings[("Code", "primary-key-outside-key")]["message"]
    assert ("Code", "mongoengine-write-path") not in findings  # @sharded guards its writes


def test_an_application_without_keys_gets_its_collections_and_candidates(apps: Path) -> None:
    code, findings = advise(apps, "shop")
    assert code == 0
    assert "its unique indexes (email) stay enforceable under a key that starts with email" in findings[("Customer", "unsharded-collection")]["message"]
    assert "(customer_id, number) stay enforceable under a key that starts with customer_id" in findings[("Order", "unsharded-collection")]["message"]
    code, findings = advise(apps, "shop", "--key", 'shop.order={"number": 1}', "--key", 'shop.customer={"email": "hashed"}')
    assert code == 1
    assert "(customer_id, number) does not start with the shard key (number)" in findings[("Order", "unenforceable-unique")]["message"]
    assert ("Customer", "unenforceable-unique") not in findings and ("Customer", "unsharded-collection") not in findings


@pytest.mark.parametrize("key, says", [
    ('{"lines": 1}', "'lines' goes through the list field 'lines': MongoDB refuses arrays in shard keys"),
    ('{"tags": 1}', "--key shop.order: 'tags': Order has no field stored as 'tags'"),
    ('{"customer": 1}', "has no field stored as 'customer'"),
])
def test_a_candidate_naming_no_stored_field_is_refused(apps: Path, key: str, says: str) -> None:
    result = run("advise", "shop", "--key", f"shop.order={key}", cwd=apps, env={"PYTHONPATH": f"{ROOT}:{apps}"})
    assert result.returncode == 2 and says in result.stderr


def test_candidates_keep_their_findings_apart(apps: Path) -> None:
    result = run("advise", "shop", "--key", 'shop.order={"number": 1}', "--key", 'shop.order={"customer_id": 1}',
                 cwd=apps, env={"PYTHONPATH": f"{ROOT}:{apps}"})
    assert "(Order key {number: 1}) unenforceable-unique" in result.stdout.replace("\n", " ")
    assert result.stdout.count("unknown-cardinality") == 1


def test_a_candidate_for_a_collection_the_application_does_not_have(apps: Path) -> None:
    result = run("advise", "shop", "--key", 'shop.orders={"number": 1}', cwd=apps, env={"PYTHONPATH": f"{ROOT}:{apps}"})
    assert result.returncode == 2 and "no Document of the application is stored in 'orders' (collections: customer, order)" in result.stderr
