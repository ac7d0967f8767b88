"""Lookups (global secondary indexes) on real servers: a one-member replica set for the transactions, the router-less
cluster where sharding itself matters.  Each write path has a plain mongoengine control beside it showing the problem
lookups solve, and ``verify_lookup`` (both sides compared) is the judge after every write, in processes racing each
other and in writers killed mid-transaction.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from typing import Any
from collections.abc import Iterator

import mongoengine as me
import pytest
from commandline import ROOT, run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mongoengine.errors import NotUniqueError
from pymongo import monitoring

from mongoshard import DeclarationError, Lookup, LookupWriteError, sharded
from mongoshard.cluster.lookups import build_lookup, verify_lookup
from mongoshard.model.declaration import spec_for

pytestmark = pytest.mark.mongod


class Commands(monitoring.CommandListener):
    """The commands a client sends, by name: what a write or a read costs."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def started(self, event: Any) -> None:
        self.names.append(event.command_name)

    def succeeded(self, event: Any) -> None:
        pass

    def failed(self, event: Any) -> None:
        pass


@pytest.fixture
def accounts(replica_set) -> Iterator[tuple[type, Commands]]:
    """examples.accounts.models.User on a fresh database of the replica set, with its commands counted."""
    from examples.accounts import models

    listener = Commands()
    me.disconnect(alias="accounts")
    me.connect(db=f"accounts_{uuid.uuid4().hex[:8]}", alias="accounts", host=replica_set.uri, event_listeners=[listener],
               uuidRepresentation="standard")
    models.User._collection = None  # mongoengine caches the collection of the previous connection
    yield models.User, listener
    me.connection.get_connection("accounts").drop_database(models.User._get_db().name)
    me.disconnect(alias="accounts")
    models.User._collection = None


def _exact(user_class: type) -> None:
    """Both lookups agree with the users, both ways."""
    spec = spec_for(user_class)
    client = me.connection.get_connection("accounts")
    for lookup in spec.lookups:
        report = verify_lookup(client, spec, lookup)
        assert report.exact, (lookup.collection, report)


def _entries(user_class: type, field: str) -> list[dict[str, Any]]:
    return list(user_class._get_db()[f"users.by_{field}"].find({}, {"_id": 1, "value": 1, "key": 1}))


# Declarations ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("lookups, says", [
    ([Lookup("user_id")], "names a shard key field"),
    ([Lookup("tags")], "goes through the list field 'tags'"),
    ([Lookup("addresses.city")], "goes through the list field 'addresses'"),
    ([Lookup("id")], "looks up the primary key"),
    ([Lookup("email"), Lookup("email", unique=True)], "is declared twice"),
    ([Lookup("mail")], "looked-up field 'mail' is unknown"),
    ("email", "lookups must be a list of Lookup"),
])
def test_a_lookup_the_server_could_not_keep_is_refused_in_one_sentence(lookups: Any, says: str) -> None:
    class Address(me.EmbeddedDocument):
        city = me.StringField()

    with pytest.raises(DeclarationError, match=says):
        @sharded(key=("user_id",), lookups=lookups)
        class Person(me.Document):
            user_id = me.IntField()
            email = me.StringField()
            tags = me.ListField(me.StringField())
            addresses = me.ListField(me.EmbeddedDocumentField(Address))
            meta = {"collection": f"people_{uuid.uuid4().hex[:6]}"}


@pytest.mark.parametrize("make, says", [
    (lambda: Lookup(""), "needs a field name"),
    (lambda: Lookup("email", unique="yes"), "unique must be True or False"),
    (lambda: Lookup("email", strategy="range"), "strategy must be 'hashed' or 'ranged'"),
    (lambda: Lookup("email", route_reads=1), "route_reads must be True, False or None"),
])
def test_lookup_arguments_are_checked(make: Any, says: str) -> None:
    with pytest.raises(DeclarationError, match=says):
        make()


def test_keys_shows_each_lookup_collection_and_apply_shards_it_on_the_value(cluster) -> None:
    from harness import HarnessRouter

    from mongoshard import apply, discover

    shown = run("keys", "examples.accounts.models", "--json")
    documents = {d["namespace"]: d for d in json.loads(shown.stdout)}
    assert documents["accounts.users.by_email"]["key"] == {"_id": "hashed"}
    assert documents["accounts.users.by_phone"]["key"] == {"value": "hashed"}
    assert documents["accounts.users"]["lookups"][0] == {"field": "email", "collection": "users.by_email", "unique": True,
                                                          "strategy": "hashed", "route_reads": True}
    result = apply(discover("examples.accounts.models"), router=HarnessRouter(cluster))
    assert [c.namespace for c in result.collections] == ["accounts.users", "accounts.users.by_email", "accounts.users.by_phone"]
    for namespace, key in (("accounts.users.by_email", {"_id": "hashed"}), ("accounts.users.by_phone", {"value": "hashed"})):
        entry = cluster.config_client.config.collections.find_one({"_id": namespace})
        assert entry is not None and entry["key"] == key


# Writes ------------------------------------------------------------------------------------------------------------

def test_a_unique_email_holds_across_saves_and_bulk_inserts(accounts) -> None:
    User, _ = accounts
    User(user_id=1, email="ada@x", phone="1").save()
    with pytest.raises(NotUniqueError, match=r"User.email 'ada@x' is taken.*nothing was written"):
        User(user_id=2, email="ada@x").save()
    with pytest.raises(NotUniqueError, match="'bob@x' is taken"):
        User.objects.insert([User(user_id=3, email="bob@x"), User(user_id=4, email="bob@x")])
    assert sorted(u.user_id for u in User.objects) == [1], "a refused write leaves nothing behind"
    User.objects.insert([User(user_id=3, email="bob@x"), User(user_id=4, email="cy@x", phone="1")])
    assert sorted(e["_id"] for e in _entries(User, "email")) == ["ada@x", "bob@x", "cy@x"]
    assert sorted(e["key"]["user_id"] for e in _entries(User, "phone")) == [1, 4]
    _exact(User)


def test_the_control_plain_mongoengine_keeps_a_duplicate_email(accounts) -> None:
    """Without a lookup nothing stops a second user with the same email (a unique index on email cannot exist on a
    collection sharded on user_id: see the next test)."""
    User, _ = accounts

    class Plain(me.Document):
        user_id = me.IntField()
        email = me.StringField()
        meta = {"collection": "plain_users", "db_alias": "accounts"}

    Plain(user_id=1, email="ada@x").save()
    Plain(user_id=2, email="ada@x").save()
    assert Plain.objects(email="ada@x").count() == 2


def test_the_control_the_server_refuses_to_shard_on_user_id_while_email_is_unique(cluster) -> None:
    """The real server's rule: a unique index must be prefixed by the shard key, so a collection keeping email
    unique with an index cannot be sharded on user_id at all."""
    from pymongo.errors import OperationFailure

    cluster.create_database("control")
    cluster.primary_shard("control").control.users.create_index("email", unique=True)
    with pytest.raises(OperationFailure, match="[Uu]niqueness can't be maintained"):
        cluster.shard_collection("control.users", {"user_id": 1})


def test_changing_an_email_moves_its_entry_by_every_write_path(accounts) -> None:
    User, _ = accounts
    user = User(user_id=1, email="a@x", phone="1")
    user.save()
    user.email = "b@x"
    user.save()
    assert [e["_id"] for e in _entries(User, "email")] == ["b@x"]
    user.modify(email="c@x")
    assert [e["_id"] for e in _entries(User, "email")] == ["c@x"] and user.email == "c@x"
    User.objects(user_id=1).update(set__email="d@x", set__phone="2")
    assert [e["_id"] for e in _entries(User, "email")] == ["d@x"] and [e["value"] for e in _entries(User, "phone")] == ["2"]
    User.objects(user_id=1).update(__raw__=[{"$set": {"email": {"$concat": ["e", "@x"]}}}])  # a pipeline: read back
    assert [e["_id"] for e in _entries(User, "email")] == ["e@x"]
    user.reload()
    user.update(unset__email=True)
    assert _entries(User, "email") == [], "no value, no entry"
    User(user_id=2, email="e@x").save()  # the value is free again
    User.objects(user_id=2).delete()
    user.delete()
    assert _entries(User, "email") == [] and _entries(User, "phone") == []
    _exact(User)


@pytest.mark.parametrize("failing, labels, code", [
    ("commitTransaction", ["TransientTransactionError"], 112),  # a write conflict found at commit
    ("insert", ["TransientTransactionError"], 112),  # at the owner's insert, which mongoengine wraps in OperationError
])
def test_a_transient_failure_retries_the_whole_write_from_the_documents_first_state(accounts, failing, labels, code) -> None:
    """The server's own failCommand fail point fails the transaction once; with_transaction retries it.  Found by the
    racing processes: mongoengine keeps a document's data in __slots__, and a retry that did not restore them took
    the already-inserted document for a stored one, committed only its entry, and reported success."""
    User, listener = accounts
    User(user_id=1, email="first@x").save()  # the collections exist
    admin = me.connection.get_connection("accounts").admin
    admin.command("configureFailPoint", "failCommand", mode={"times": 1},
                  data={"failCommands": [failing], "errorCode": code, "errorLabels": labels})
    try:
        listener.names.clear()
        user = User(user_id=2, email="ada@x")
        user.save()
    finally:
        admin.command("configureFailPoint", "failCommand", mode="off")
    assert listener.names.count("insert") >= 3, listener.names  # the first attempt, then both inserts again
    assert User.objects.get(user_id=2).email == "ada@x" and User.objects.get(email="ada@x").pk == user.pk
    _exact(User)


def test_an_upsert_through_the_queryset_is_refused_before_anything_is_sent(accounts) -> None:
    User, listener = accounts
    listener.names.clear()
    with pytest.raises(LookupWriteError, match="save\\(\\) a new document instead"):
        User.objects(user_id=9).update(set__email="x@x", upsert=True)
    assert "update" not in listener.names and User.objects.count() == 0


def test_a_write_that_touches_no_looked_up_field_costs_nothing_extra(accounts) -> None:
    User, listener = accounts
    user = User(user_id=1, email="a@x")
    user.save()
    listener.names.clear()
    user.name = "Ada"
    user.save()
    assert listener.names == ["update"], listener.names
    listener.names.clear()
    User.objects(user_id=1).update(set__name="Ada L.")
    assert listener.names == ["update"], listener.names


def test_a_standalone_server_is_refused_in_one_sentence(mongod_path, tmp_path) -> None:
    from examples.accounts import models

    from mongoshard.deploy.processes import free_port

    port = free_port()
    (tmp_path / "db").mkdir()
    process = subprocess.Popen([str(mongod_path), "--port", str(port), "--bind_ip", "127.0.0.1", "--dbpath",
                                str(tmp_path / "db"), "--wiredTigerCacheSizeGB", "0.25", "--logpath", str(tmp_path / "log")])
    try:
        me.disconnect(alias="accounts")
        me.connect(db="standalone", alias="accounts", host=f"mongodb://127.0.0.1:{port}/", serverSelectionTimeoutMS=20_000,
                   uuidRepresentation="standard")
        models.User._collection = None
        with pytest.raises(LookupWriteError, match="a standalone server has no transactions: run a replica set"):
            models.User(user_id=1, email="a@x").save()
        assert models.User.objects.count() == 0
    finally:
        me.disconnect(alias="accounts")
        models.User._collection = None
        process.terminate()
        process.wait(30)


# Reads -------------------------------------------------------------------------------------------------------------

def test_a_read_by_email_is_two_targeted_reads_and_never_returns_a_wrong_document(accounts) -> None:
    User, listener = accounts
    ada = User(user_id=7, email="ada@x", name="Ada")
    ada.save()
    User(user_id=8, email="bob@x").save()
    listener.names.clear()
    found = User.objects.get(email="ada@x")
    assert found.name == "Ada" and listener.names == ["find", "find"], listener.names
    query = User.objects(email="ada@x")._query
    assert query == {"$and": [{"email": "ada@x"}, {"_id": ada.pk, "user_id": 7}]}, "the owner by _id and full key"
    assert User.objects(email="nobody@x").first() is None
    # an entry made stale by a write around mongoshard: it names Bob's account, whose email is not ada@x any more
    User._get_db()["users.by_email"].update_one({"_id": "ada@x"}, {"$set": {"owner": User.objects.get(user_id=8).pk,
                                                                         "key": {"user_id": 8}}})
    assert User.objects(email="ada@x").first() is None, "the owner read re-checks the value"
    assert User.objects(phone="1")._query == {"phone": "1"}, "a lookup not routed (route_reads off) reads as before"


def test_route_says_a_read_by_email_is_two_targeted_reads_where_the_owner_query_alone_scatters() -> None:
    """The control is the owner query itself (what plain mongoengine sends): every shard.  Through the lookup: one
    shard for the entry (hashed _id), then the owner's by _id and full key."""
    routed = json.loads(run("route", "examples.accounts.models:User", '{"email": "ada@x"}', "--shards", "3", "--json").stdout)
    assert routed["kind"] == "scatter-gather" and routed["shards"] == ["shard0", "shard1", "shard2"]
    assert routed["lookup"]["collection"] == "accounts.users.by_email" and routed["lookup"]["kind"] == "single-shard"
    assert routed["lookup"]["verdict"] == "two targeted reads, not a scatter-gather"
    phone = json.loads(run("route", "examples.accounts.models:User", '{"phone": "1"}', "--json").stdout)
    assert phone["lookup"] is None, "reads by phone are not routed (route_reads off by default for a plain lookup)"


# Operations --------------------------------------------------------------------------------------------------------

def test_build_resumes_reports_duplicates_and_verify_repairs_what_the_data_proves(accounts, replica_set) -> None:
    User, _ = accounts
    database = User._get_db()
    database.users.insert_many([{"user_id": i, "email": f"u{i % 95}@x", "phone": str(i % 3)} for i in range(100)])
    spec = spec_for(User)
    client = me.connection.get_connection("accounts")
    by_email = next(lookup for lookup in spec.lookups if lookup.unique)
    database["mongoshard.lookup_builds"].insert_one({"_id": "users.by_email", "after": None})  # a run that stopped at once
    report = build_lookup(client, spec, by_email, batch=30)
    assert report.owners == 100 and report.written == 95 and report.duplicates == 5 and not report.exact
    assert database["mongoshard.lookup_builds"].count_documents({}) == 0, "a finished build leaves no checkpoint"
    assert verify_lookup(client, spec, by_email).duplicates == 5
    database.users.delete_many({"user_id": {"$gte": 95}})  # the duplicates resolved by hand
    again = build_lookup(client, spec, by_email, batch=30)
    assert again.written == 0 and again.exact, "a second build finds every entry made, and keeps them"
    database["users.by_email"].delete_one({"_id": "u3@x"})
    database.users.update_one({"user_id": 4}, {"$set": {"email": "new@x"}})
    broken = verify_lookup(client, spec, by_email)
    assert (broken.missing, broken.orphans, broken.exact) == (2, 1, False)
    command = ("lookups", "verify", "examples.accounts.models", "--database", database.name, "--json")
    verified = run(*command, env={"MONGOSHARD_URI": replica_set.uri})
    by_collection = {r["collection"]: r for r in json.loads(verified.stdout)}
    assert verified.returncode == 1 and by_collection["users.by_email"]["missing"] == 2
    assert by_collection["users.by_email"]["examples"]["orphans"][0].startswith("users.by_email 'u4@x' names")
    assert run(*command, "--repair", env={"MONGOSHARD_URI": replica_set.uri}).returncode == 1  # what it found, fixed
    assert run(*command, env={"MONGOSHARD_URI": replica_set.uri}).returncode == 0
    assert verify_lookup(client, spec, by_email).exact


_WRITER = """
import random, sys, mongoengine as me
from mongoengine.errors import NotUniqueError
from examples.accounts.models import User
me.disconnect(alias="accounts")
me.connect(db=sys.argv[2], alias="accounts", host=sys.argv[1], uuidRepresentation="standard")
mode, taken = sys.argv[3], 0
random.seed(int(sys.argv[4]))
for i in range(int(sys.argv[5])):
    try:
        if mode == "insert":
            User(user_id=int(sys.argv[4]) * 1000 + i, email=f"e{random.randrange(15)}@x").save()
        else:
            users = list(User.objects.only("id", "user_id", "email").limit(20))
            user = random.choice(users)
            user.email = f"e{random.randrange(40)}@x"
            user.save()
        taken += 1
    except NotUniqueError:
        pass
print(taken)
"""


def _writer(replica_set, database: str, mode: str, seed: int, count: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", _WRITER, replica_set.uri, database, mode, str(seed), str(count)],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_racing_processes_with_colliding_emails_end_with_one_user_per_email(accounts, replica_set) -> None:
    """4 processes x 25 inserts over 15 emails: exactly one user holds each email taken, and the lookup is exact."""
    User, _ = accounts
    writers = [_writer(replica_set, User._get_db().name, "insert", seed, 25) for seed in range(1, 5)]
    saved = sum(int(w.communicate(timeout=180)[0]) for w in writers)
    emails = [u.email for u in User.objects]
    assert len(emails) == len(set(emails)) == saved and 0 < saved <= 15
    _exact(User)


def test_a_writer_killed_mid_transaction_leaves_the_lookups_exact(accounts, replica_set) -> None:
    """SIGKILL a process changing emails, five times at random moments: what committed is exact, the rest never was."""
    User, _ = accounts
    User.objects.insert([User(user_id=i, email=f"e{i}@x") for i in range(20)])
    first = {u.user_id: u.email for u in User.objects}
    for round_number in range(5):
        writer = _writer(replica_set, User._get_db().name, "change", round_number, 10_000)
        time.sleep(0.8 + 0.3 * round_number)
        writer.send_signal(signal.SIGKILL)
        writer.wait(30)
        _exact(User)
    assert User.objects.count() == 20
    assert {u.user_id: u.email for u in User.objects} != first, "the writers changed emails before they were killed"
    # the killed clients' transactions would hold their locks for transactionLifetimeLimitSeconds (60 s): end them
    me.connection.get_connection("accounts").admin.command("killAllSessions", [])


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=st.lists(st.tuples(st.sampled_from(["new", "email", "modify", "update", "delete", "insert", "phone"]),
                                st.integers(0, 5), st.integers(0, 6)), min_size=1, max_size=12))
def test_any_sequence_of_writes_keeps_the_lookups_exact(replica_set, steps) -> None:
    from examples.accounts.models import User

    me.disconnect(alias="accounts")
    me.connect(db=f"seq_{uuid.uuid4().hex[:8]}", alias="accounts", host=replica_set.uri, uuidRepresentation="standard")
    User._collection = None
    try:
        for action, who, value in steps:
            email = f"e{value}@x"
            target = User.objects(user_id=who).first()
            try:
                if action == "new":
                    User(user_id=100 + len(User.objects), email=email, phone=str(value % 2)).save()
                elif action == "insert":
                    User.objects.insert([User(user_id=200 + len(User.objects), email=email)])
                elif target is None:
                    User(user_id=who, email=email).save()
                elif action == "email":
                    target.email = email
                    target.save()
                elif action == "modify":
                    target.modify(email=email)
                elif action == "update":
                    User.objects(user_id=who).update(set__email=email)
                elif action == "phone":
                    User.objects(user_id=who).update(set__phone=None if value > 4 else str(value))
                else:
                    target.delete()
            except NotUniqueError:
                pass
            _exact(User)
    finally:
        me.connection.get_connection("accounts").drop_database(User._get_db().name)
        me.disconnect(alias="accounts")
        User._collection = None


def test_audit_counts_a_read_by_email_as_two_targeted_reads_where_the_key_alone_scatters(tmp_path) -> None:
    """The same captured queries, judged under the declared key: with the models (their lookups known) a read by email
    is single-shard through the lookup; the control, the key alone, says scatter-gather."""
    log = tmp_path / "queries.jsonl"
    log.write_text("\n".join(json.dumps({"namespace": "accounts.users", "operation": "find", "shape": shape})
                             for shape in ({"email": "ada@x"}, {"email": "bob@x"}, {"phone": "1"})) + "\n")
    with_models = json.loads(run("audit", str(log), "examples.accounts.models", "--json").stdout)
    shares = with_models["collections"][0]["distribution"]["declared"]
    assert shares["single-shard"] == pytest.approx(2 / 3) and shares["scatter-gather"] == pytest.approx(1 / 3)
    control = json.loads(run("audit", str(log), "--key", 'accounts.users={"user_id": "hashed"}', "--json").stdout)
    assert control["collections"][0]["distribution"]['{user_id: "hashed"}']["scatter-gather"] == pytest.approx(1.0)



# The second attacker's findings (issue 21) ---------------------------------------------------------------------------

def test_a_save_syncs_from_what_the_server_holds_not_from_the_object(accounts) -> None:
    """F1: a user loaded with .only() without its email, saved after a phone change, kept its email but lost the
    entry; F2: a stale object (another writer moved the email meanwhile) moved the entries back to its stale email."""
    User, _ = accounts
    User(user_id=1, email="a@x", phone="1").save()
    partial = User.objects.only("user_id", "phone").get(user_id=1)
    partial.phone = "2"
    partial.save()
    stale = User.objects.get(user_id=1)
    User.objects(user_id=1).update(set__email="b@x")  # another writer
    stale.phone = "3"
    stale.save()
    assert [e["_id"] for e in _entries(User, "email")] == ["b@x"]
    with pytest.raises(NotUniqueError):
        User(user_id=2, email="b@x").save()
    _exact(User)


def test_any_upsert_through_the_queryset_is_refused_even_with_the_value_in_the_filter(accounts) -> None:
    """F3: the filter alone gives the new document its email: upsert_one, update(upsert=True), modify(upsert=True)."""
    User, _ = accounts
    for write in (lambda: User.objects(email="a@x", user_id=1).upsert_one(set__name="A"),
                  lambda: User.objects(email="a@x", user_id=1).update(upsert=True, set__name="A"),
                  lambda: User.objects(email="a@x", user_id=1).modify(upsert=True, set__name="A")):
        with pytest.raises(LookupWriteError, match="save\\(\\) a new document instead"):
            write()
    assert User.objects.count() == 0


def test_writes_nested_in_another_write_keep_their_entries(accounts) -> None:
    """F4: a save made by a post_save handler (and a cascade delete) runs inside the outer write's transaction and
    still writes, checks and deletes its entries."""
    from mongoengine import signals

    User, _ = accounts

    def add_admin(sender: Any, document: Any, created: bool = False, **_: Any) -> None:
        if created and document.user_id == 1:
            User(user_id=100, email="admin@x").save()

    signals.post_save.connect(add_admin, sender=User)
    try:
        User(user_id=1, email="a@x").save()
        with pytest.raises(NotUniqueError, match="'admin@x' is taken"):
            User(user_id=2, email="admin@x").save()
    finally:
        signals.post_save.disconnect(add_admin, sender=User)
    User.objects(user_id__in=[1, 100]).delete()
    assert _entries(User, "email") == []
    _exact(User)


def test_null_and_reused_querysets_read_as_mongoengine_does(accounts) -> None:
    """F7: a null equality is not routed (null has no entries); F14: a reused queryset reads the lookup again."""
    User, _ = accounts
    User(user_id=1).save()
    assert User.objects(email=None).count() == 1
    User(user_id=2, email="a@x").save()
    kept = User.objects(email="a@x")
    assert kept.count() == 1
    User.objects(user_id=2).update(set__email="z@x")
    User.objects(user_id=1).update(set__email="a@x")
    assert kept.count() == 1 and [u.user_id for u in kept] == [1]


def test_verify_compares_values_as_bson_does(accounts) -> None:
    """F9: 1 and 1.0 are one value to the server and to the writes; verify agrees (and Decimal128 does not crash it)."""
    from bson import Decimal128

    User, _ = accounts
    User(user_id=1, email="a@x", phone="1").save()
    User.objects(user_id=1).update(__raw__={"$set": {"phone": Decimal128("1.5")}})
    database = User._get_db()
    database.users.insert_one({"user_id": 2, "email": 7})
    database["users.by_email"].insert_one({"_id": 7.0, "key": {"user_id": 2}, "owner": database.users.find_one({"user_id": 2})["_id"]})
    _exact(User)


def test_a_geo_field_cannot_be_looked_up() -> None:
    with pytest.raises(DeclarationError, match="is a geo field, stored as an array"):
        @sharded(key=("user_id",), lookups=[Lookup("where")])
        class Place(me.Document):
            user_id = me.IntField()
            where = me.GeoPointField()
            meta = {"collection": "places"}
