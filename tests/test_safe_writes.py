"""mongoengine's write path on a @sharded class, on the real mongod, with the commands it sends captured.

Each trap is shown twice: on a plain mongoengine class declaring the same key
(what mongoengine does: the bug, from the server's own answer), and on the
@sharded class (what mongoshard makes of it).  The filters asserted are what
the server received (pymongo command monitoring), and the outcome is what the
server stored.
"""

from __future__ import annotations

import copy
import itertools
import pickle

import pytest
from bson import ObjectId
from mongoengine import (
    Document,
    DynamicDocument,
    EmbeddedDocument,
    EmbeddedDocumentField,
    IntField,
    StringField,
    connect,
    disconnect,
)
from mongoengine.errors import NotUniqueError, OperationError, SaveConditionError, ValidationError
from pymongo import monitoring

from mongoshard import sharded
from mongoshard.model.safe_writes import ShardKeyWriteError

pytestmark = pytest.mark.mongod

WRITES = {"insert", "update", "findAndModify", "delete"}
_names = itertools.count()


class Commands(monitoring.CommandListener):
    """Every command the client sends, as the server receives it."""

    def __init__(self) -> None:
        self.sent: list[dict] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.sent.append({"name": event.command_name, **event.command})

    def succeeded(self, event) -> None:
        pass

    def failed(self, event) -> None:
        pass

    def writes(self) -> list[dict]:
        return [command for command in self.sent if command["name"] in WRITES]

    def filters(self) -> list[tuple[str, dict]]:
        """(command, filter) of every write and find since the last clear."""
        found = []
        for command in self.sent:
            if command["name"] in ("update", "delete"):
                found += [(command["name"], dict(op["q"])) for op in command.get("updates", command.get("deletes", []))]
            elif command["name"] in ("findAndModify", "find"):
                found.append((command["name"], dict(command.get("query", command.get("filter", {})))))
        return found

    def clear(self) -> None:
        self.sent.clear()


@pytest.fixture
def server(cluster):
    """mongoengine connected to a real mongod (a shard's primary), every command captured."""
    commands = Commands()
    port = cluster.topology.shards[0].ports[0]
    connect("safewrites", alias="default", host=f"mongodb://127.0.0.1:{port}/?directConnection=true",
            event_listeners=[commands], uuidRepresentation="standard")
    yield commands
    disconnect("default")


def fresh(name: str) -> str:
    return f"{name}_{next(_names)}"


class Owner(EmbeddedDocument):
    player_id = IntField(db_field="pid")


def box_classes():
    """The same StorageBox twice: as mongoengine alone declares it, and through @sharded."""
    collection = fresh("boxes")

    class PlainBox(Document):
        owner = EmbeddedDocumentField(Owner)
        box = IntField()
        label = StringField()
        meta = {"collection": collection, "shard_key": ("owner.player_id", "box")}

    @sharded(key=("owner.player_id", "box"), database="safewrites")
    class SafeBox(Document):
        owner = EmbeddedDocumentField(Owner)
        box = IntField()
        label = StringField()
        meta = {"collection": collection}

    return PlainBox, SafeBox


def test_a_changed_embedded_key_field_is_a_duplicate_in_mongoengine_and_refused_before_sending_here(server) -> None:
    PlainBox, SafeBox = box_classes()
    PlainBox(owner=Owner(player_id=1), box=1, label="a").save()
    plain = PlainBox.objects.first()
    plain.owner.player_id = 2
    with pytest.raises(NotUniqueError):  # the server's E11000: mongoengine upserted a second document with the same _id
        plain.save()

    safe = SafeBox.objects.first()
    safe.owner.player_id = 2
    server.clear()
    with pytest.raises(ShardKeyWriteError, match=r"SafeBox.owner.player_id is part of the shard key and changed from 1 to 2"):
        safe.save()
    assert server.writes() == []
    safe = SafeBox.objects.first()
    safe.owner = Owner(player_id=3)  # the whole embedded document replaced
    with pytest.raises(ShardKeyWriteError, match="changed from 1 to 3"):
        safe.save()
    assert SafeBox._get_collection().find_one({}, {"_id": 0}) == {"owner": {"pid": 1}, "box": 1, "label": "a"}


def test_modify_moves_the_key_filtering_on_the_loaded_value(server) -> None:
    _, SafeBox = box_classes()
    SafeBox(owner=Owner(player_id=1), box=1, label="a").save()
    safe = SafeBox.objects.first()
    server.clear()
    assert safe.modify(owner__player_id=2) is True
    assert server.filters() == [("findAndModify", {"_id": safe.pk, "owner.pid": 1, "box": 1})]
    assert [d["owner"] for d in SafeBox._get_collection().find()] == [{"pid": 2}]
    assert safe.owner.player_id == 2
    safe.label = "b"
    server.clear()
    safe.save()  # filtered on the key the server now holds
    assert server.filters() == [("update", {"_id": safe.pk, "owner.pid": 2, "box": 1})]
    assert [u["upsert"] for c in server.writes() for u in c["updates"]] == [False]
    assert SafeBox._get_collection().count_documents({"label": "b", "owner.pid": 2}) == 1


def id_classes():
    collection = fresh("events")

    class PlainEvent(Document):
        kind = StringField()
        meta = {"collection": collection, "shard_key": ("id",)}

    @sharded(key="id", hashed=True, database="safewrites")
    class SafeEvent(Document):
        kind = StringField()
        meta = {"collection": collection}

    return PlainEvent, SafeEvent


def test_a_key_on_the_primary_key_is_filtered_on_id_once(server) -> None:
    PlainEvent, SafeEvent = id_classes()
    plain = PlainEvent(kind="a").save()
    server.clear()
    plain.modify(kind="b")
    assert server.filters() == [("findAndModify", {"$and": [{"_id": plain.pk}, {"_id": plain.pk}]})]  # #2772

    safe = SafeEvent.objects.get(pk=plain.pk)
    server.clear()
    safe.modify(kind="c")
    safe.update(kind="d")
    safe.reload()
    safe.kind = "e"
    safe.save()
    safe.delete()
    assert server.filters() == [("findAndModify", {"_id": safe.pk}), ("update", {"_id": safe.pk}),
                                ("find", {"_id": safe.pk}), ("update", {"_id": safe.pk}), ("delete", {"_id": safe.pk})]
    assert SafeEvent._get_collection().count_documents({}) == 0


def tenant_classes():
    collection = fresh("accounts")

    class PlainAccount(Document):
        tenant = StringField()
        n = IntField()
        meta = {"collection": collection, "shard_key": ("tenant",)}

    @sharded(key="tenant", database="safewrites")
    class SafeAccount(Document):
        tenant = StringField()
        n = IntField()
        meta = {"collection": collection}

    return PlainAccount, SafeAccount


def test_after_only_an_update_reaches_the_document_instead_of_matching_nothing(server) -> None:
    PlainAccount, SafeAccount = tenant_classes()
    stored = PlainAccount(tenant="t1", n=1).save()
    plain = PlainAccount.objects.only("n").first()
    assert plain.update(n=2) == 0  # mongoengine filters on tenant=None: silently nothing

    safe = SafeAccount.objects.only("n").first()
    server.clear()
    assert safe.update(n=3) == 1
    assert server.filters() == [("update", {"_id": stored.pk})]
    server.clear()
    assert safe.modify(n=4) is True  # findAndModify needs the whole key before 7.1: fetched first
    assert server.filters()[-1] == ("findAndModify", {"_id": stored.pk, "tenant": "t1"})
    assert SafeAccount._get_collection().find_one({}, {"_id": 0}) == {"tenant": "t1", "n": 4}
    safe = SafeAccount.objects.only("n").first()
    safe.delete()
    assert SafeAccount._get_collection().count_documents({}) == 0


def test_a_missing_key_value_is_a_validation_error_for_new_documents_and_no_keyerror_for_stored_ones(server) -> None:
    PlainAccount, SafeAccount = tenant_classes()
    collection = SafeAccount._get_collection()
    with pytest.raises(ValidationError, match="SafeAccount has no value for the shard key field"):
        SafeAccount(n=1).save()
    assert collection.count_documents({}) == 0

    collection.insert_one({"n": 1})  # written before the key existed
    plain = PlainAccount.objects.first()
    plain.n = 2
    with pytest.raises(KeyError):
        plain.save()
    safe = SafeAccount.objects.first()
    safe.n = 3
    server.clear()
    safe.save()
    assert server.filters() == [("update", {"_id": safe.pk})]
    assert collection.find_one({}, {"_id": 0}) == {"n": 3}


def test_a_document_deleted_meanwhile_is_not_recreated_by_save(server) -> None:
    _, SafeAccount = tenant_classes()
    SafeAccount(tenant="t1", n=1).save()
    safe = SafeAccount.objects.first()
    SafeAccount._get_collection().delete_many({})
    safe.n = 2
    with pytest.raises(SaveConditionError):
        safe.save()
    assert SafeAccount._get_collection().count_documents({}) == 0


def test_a_dynamic_key_field_change_is_refused(server) -> None:
    collection = fresh("dynamic")

    class PlainMedia(DynamicDocument):
        meta = {"collection": collection, "shard_key": ("sku",)}

    @sharded(key="sku", database="safewrites")
    class SafeMedia(DynamicDocument):
        meta = {"collection": collection}

    PlainMedia(sku="a", n=1).save()
    plain = PlainMedia.objects.first()
    plain.sku = "b"  # mongoengine's guard does not see dynamic fields: an upsert on the new value
    with pytest.raises(NotUniqueError):
        plain.save()
    safe = SafeMedia.objects.first()
    safe.sku = "b"
    with pytest.raises(OperationError, match="SafeMedia.sku is part of the shard key and changed from 'a' to 'b'"):
        safe.save()
    assert [d["sku"] for d in SafeMedia._get_collection().find()] == ["a"]


def test_new_documents_with_an_explicit_id_carry_their_key(server) -> None:
    _, SafeBox = box_classes()
    chosen = ObjectId()
    server.clear()
    SafeBox(id=chosen, owner=Owner(player_id=5), box=2).save()
    assert ("findAndModify", {"_id": chosen, "owner.pid": 5, "box": 2}) in server.filters()
    assert SafeBox._get_collection().count_documents({"_id": chosen}) == 1


@sharded(key=("owner.player_id", "box"), database="safewrites")
class PickledBox(Document):  # at module level: pickle finds classes by name
    owner = EmbeddedDocumentField(Owner)
    box = IntField()
    label = StringField()


@pytest.mark.parametrize("copy_of", [lambda d: pickle.loads(pickle.dumps(d)), copy.deepcopy], ids=["pickle", "deepcopy"])
def test_a_copied_document_keeps_the_protection(server, copy_of) -> None:
    SafeBox = PickledBox
    SafeBox.drop_collection()
    SafeBox(owner=Owner(player_id=1), box=1, label="a").save()
    copied = copy_of(SafeBox.objects.first())
    copied.owner.player_id = 2
    with pytest.raises(ShardKeyWriteError, match="does not know the value it was stored with"):
        copied.save()
    copied = copy_of(SafeBox.objects.first())
    SafeBox._get_collection().delete_many({})
    copied.label = "b"
    with pytest.raises(SaveConditionError):  # not re-created by an upsert
        copied.save()
    assert SafeBox._get_collection().count_documents({}) == 0


def test_a_new_document_with_a_stored_id_and_another_key_is_refused(server) -> None:
    _, SafeBox = box_classes()
    stored = SafeBox(owner=Owner(player_id=1), box=1).save()
    server.clear()
    with pytest.raises(ShardKeyWriteError, match="is stored with owner.player_id = 1, not 3"):
        SafeBox(id=stored.pk, owner=Owner(player_id=3), box=1).save()
    assert [c["name"] for c in server.writes()] == []
    SafeBox(id=stored.pk, owner=Owner(player_id=1), box=1, label="same key").save()  # mongoengine's replace
    assert [d["label"] for d in SafeBox._get_collection().find()] == ["same key"]


def test_switch_collection_still_copies_a_document(server) -> None:
    _, SafeBox = box_classes()
    SafeBox(owner=Owner(player_id=1), box=1, label="a").save()
    archived = SafeBox.objects.first()
    archive = fresh("archive")
    archived.switch_collection(archive)
    archived.label = "archived"
    archived.save()  # mongoengine's documented archiving: an upsert into the other collection
    assert SafeBox._get_db()[archive].find_one({}, {"_id": 0}) == {"owner": {"pid": 1}, "box": 1, "label": "archived"}
