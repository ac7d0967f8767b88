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
    with pytest.raises(OperationError, match="SafeMedia.sku is part of the shard key and changed from 'a' to 'b'; "
                                             r"the assignment was refused.*use modify\(sku=...\)"):
        safe.sku = "b"
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
    with pytest.raises(ShardKeyWriteError, match="changed from 1 to 2; nothing was sent"):
        copied.save()  # the copy knows the key it was stored with
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


# What five real applications do (issue 17, section 3), each beside a plain mongoengine control -----------------


def test_a_new_document_whose_id_is_assigned_after_construction_is_inserted(server) -> None:
    """st2's pattern for every action run: ``doc = Model(...); doc.id = ObjectId(); doc.save()``."""
    PlainAccount, SafeAccount = tenant_classes()
    plain = PlainAccount(tenant="t0", n=0)
    plain.id = ObjectId()
    plain.save()  # mongoengine: an upsert, so the document is written
    assert PlainAccount._get_collection().count_documents({"_id": plain.id}) == 1

    safe = SafeAccount(tenant="t1", n=1)
    safe.id = ObjectId()
    server.clear()
    safe.save()
    sent = [u for c in server.writes() for u in c["updates"]]
    assert [(u["q"], u["upsert"]) for u in sent] == [({"_id": safe.id, "tenant": "t1"}, True)]  # the whole key: every version routes it
    assert SafeAccount._get_collection().find_one({"_id": safe.id}, {"_id": 0}) == {"tenant": "t1", "n": 1}
    safe.n = 2
    server.clear()
    safe.save()  # now stored: an update, never an upsert
    assert [u["upsert"] for c in server.writes() for u in c["updates"]] == [False]
    late = SafeAccount(n=3)
    late.id = ObjectId()
    late.tenant = "t3"  # mongoengine's guard refuses this once the id is set; a new document's key is its own
    late.save()
    assert SafeAccount._get_collection().count_documents({"tenant": "t3"}) == 1


def computed_key_classes():
    """A key computed during save(): by clean() (MPContribs' md5), a pre_save handler (udata's slug) and a
    pre_save_post_validation handler."""
    from mongoengine import signals

    collection = fresh("computed")

    def computed(base):
        class Model(base):
            title = StringField()
            slug = StringField()
            digest = StringField()
            stamp = StringField()
            n = IntField()
            meta = {"collection": collection}

            def clean(self):
                self.digest = f"md5:{self.title}"

        return Model

    PlainPage = computed(Document)
    PlainPage._meta["shard_key"] = ("slug", "digest", "stamp")
    SafePage = sharded(computed(Document), key=("slug", "digest", "stamp"), database="safewrites")
    for model in (PlainPage, SafePage):
        signals.pre_save.connect(_slug, sender=model, weak=False)
        signals.pre_save_post_validation.connect(_stamp, sender=model, weak=False)
    return PlainPage, SafePage


def _slug(sender, document, **kwargs) -> None:
    document.slug = document.slug or document.title.lower()


def _stamp(sender, document, **kwargs) -> None:
    document.stamp = document.stamp or "v1"


def test_key_values_computed_during_save_are_checked_after_they_exist(server) -> None:
    PlainPage, SafePage = computed_key_classes()
    PlainPage(title="Plain").save()
    server.clear()
    safe = SafePage(title="Safe").save()
    assert (safe.slug, safe.digest, safe.stamp) == ("safe", "md5:Safe", "v1")
    assert SafePage._get_collection().count_documents({"slug": "safe", "digest": "md5:Safe", "stamp": "v1"}) == 1
    safe.n = 1
    server.clear()
    safe.save()
    assert server.filters() == [("update", {"_id": safe.pk, "slug": "safe", "digest": "md5:Safe", "stamp": "v1"})]


def test_an_embedded_key_changed_by_clean_on_a_stored_document_is_refused_before_sending(server) -> None:
    collection = fresh("rooms")

    def room(base_meta):
        class Room(Document):
            owner = EmbeddedDocumentField(Owner)
            floor = IntField()
            meta = {"collection": collection, **base_meta}

            def clean(self):
                self.owner = Owner(player_id=self.floor * 100)  # the key follows another field

        return Room

    PlainRoom = room({"shard_key": ("owner.player_id",)})
    SafeRoom = sharded(room({}), key=("owner.player_id",), database="safewrites")
    PlainRoom(floor=1).save()
    plain = PlainRoom.objects.first()
    plain.floor = 2
    with pytest.raises(NotUniqueError):  # an upsert filtered on the new key (#551): a second _id on a cluster
        plain.save()

    PlainRoom._get_collection().delete_many({})
    SafeRoom(floor=1).save()
    safe = SafeRoom.objects.first()
    safe.floor = 2
    server.clear()
    with pytest.raises(ShardKeyWriteError, match="Room.owner.player_id is part of the shard key and changed from "
                                                 "100 to 200; nothing was sent"):
        safe.save()
    assert server.writes() == []
    assert SafeRoom._get_collection().find_one({}, {"_id": 0}) == {"owner": {"pid": 100}, "floor": 1}


def test_bulk_insert_refuses_documents_without_their_key(server) -> None:
    PlainAccount, SafeAccount = tenant_classes()
    PlainAccount.objects.insert([PlainAccount(n=1)])  # mongoengine stores it with no key (filed under null)
    assert PlainAccount._get_collection().count_documents({"tenant": {"$exists": False}}) == 1

    SafeAccount._get_collection().delete_many({})
    server.clear()
    with pytest.raises(ValidationError, match="SafeAccount has no value for the shard key field"):
        SafeAccount.objects.insert([SafeAccount(tenant="t1", n=1), SafeAccount(n=2)])
    assert server.writes() == [] and SafeAccount._get_collection().count_documents({}) == 0
    inserted = SafeAccount(tenant="t2", n=2)
    SafeAccount.objects.insert([inserted], load_bulk=False)
    inserted.n = 3
    server.clear()
    inserted.save()  # stored by insert: an update on the stored key, no upsert
    assert [(u["q"], u["upsert"]) for c in server.writes() for u in c["updates"]] == [({"_id": inserted.pk, "tenant": "t2"}, False)]


def test_a_top_level_key_change_gets_the_modify_fix(server) -> None:
    PlainAccount, SafeAccount = tenant_classes()
    PlainAccount(tenant="t1", n=1).save()
    with pytest.raises(OperationError, match="^Shard Keys are immutable. Tried to update tenant$"):
        PlainAccount.objects.first().tenant = "t2"  # mongoengine: no hint
    safe = SafeAccount.objects.first()
    with pytest.raises(ShardKeyWriteError, match=r"SafeAccount.tenant .* changed from 't1' to 't2'; the assignment "
                                                 r"was refused.*use modify\(tenant=...\)"):
        safe.tenant = "t2"
    assert safe.modify(tenant="t2") is True
    assert SafeAccount._get_collection().find_one({}, {"_id": 0, "tenant": 1}) == {"tenant": "t2"}


def test_a_key_value_of_another_bson_type_is_a_change(server) -> None:
    collection = fresh("flags")

    class PlainFlag(DynamicDocument):
        meta = {"collection": collection, "shard_key": ("on",)}

    @sharded(key="on", database="safewrites")
    class SafeFlag(DynamicDocument):
        meta = {"collection": collection}

    PlainFlag(on=1).save()
    plain = PlainFlag.objects.first()
    plain.on = True  # 1 == True in Python: mongoengine upserts filtered on the new key (a second _id on a cluster)
    with pytest.raises(NotUniqueError):
        plain.save()
    SafeFlag._get_collection().delete_many({})
    SafeFlag(on=1).save()
    safe = SafeFlag.objects.first()
    with pytest.raises(ShardKeyWriteError, match="changed from 1 to True"):
        safe.on = True
    safe.on = 1.0  # the same number as BSON compares it
    assert SafeFlag._get_collection().find_one({}, {"_id": 0}) == {"on": 1}


def test_save_condition_none_never_recreates_a_deleted_document(server) -> None:
    PlainAccount, SafeAccount = tenant_classes()
    PlainAccount(tenant="t1", n=1).save()
    plain = PlainAccount.objects.first()
    PlainAccount._get_collection().delete_many({})
    plain.n = 2
    plain.save(save_condition=None)  # mongoengine: an upsert re-creates it
    assert PlainAccount._get_collection().count_documents({}) == 1

    PlainAccount._get_collection().delete_many({})
    SafeAccount(tenant="t1", n=1).save()
    safe = SafeAccount.objects.first()
    SafeAccount._get_collection().delete_many({})
    safe.n = 2
    with pytest.raises(SaveConditionError):
        safe.save(save_condition=None)
    assert SafeAccount._get_collection().count_documents({}) == 0


def test_no_write_of_a_sharded_class_is_refused_by_any_router_release(server) -> None:
    """Every write the safe path sends, as the server received it, judged by the routers of 7.0 to 9.0 on a layout
    of three shards: none refused (upserts and findAndModify carry the whole key, updates and deletes an exact _id)."""
    from bson import MaxKey, MinKey

    from mongoshard import RoutingTable
    from mongoshard.routing.writes import SERVER_ERAS, Write, target_write

    _, SafeBox = box_classes()
    stored = SafeBox(owner=Owner(player_id=1), box=1, label="a").save()
    server.clear()
    fresh_box = SafeBox(owner=Owner(player_id=50), box=2)
    fresh_box.id = ObjectId()
    fresh_box.save()  # an upsert on the whole key
    SafeBox(id=ObjectId(), owner=Owner(player_id=7), box=3).save()  # replace-then-insert
    loaded = SafeBox.objects.get(pk=stored.pk)
    loaded.label = "b"
    loaded.save()
    loaded.modify(label="c")
    loaded.modify(owner__player_id=99)
    loaded.update(label="d")
    partial = SafeBox.objects.only("label").get(pk=stored.pk)
    partial.update(label="e")
    partial.modify(label="f")
    SafeBox.objects.insert([SafeBox(owner=Owner(player_id=3), box=4)])
    loaded.reload()
    loaded.delete()
    layout = RoutingTable(f"safewrites.{SafeBox._get_collection_name()}", {"owner.pid": 1, "box": 1}, [
        {"min": {"owner.pid": MinKey(), "box": MinKey()}, "max": {"owner.pid": 5, "box": MinKey()}, "shard": "s0"},
        {"min": {"owner.pid": 5, "box": MinKey()}, "max": {"owner.pid": 60, "box": MinKey()}, "shard": "s1"},
        {"min": {"owner.pid": 60, "box": MinKey()}, "max": {"owner.pid": MaxKey(), "box": MaxKey()}, "shard": "s2"},
    ])
    sent = []
    for command in server.writes():
        if command["name"] == "insert":
            sent += [Write("insert", document=d) for d in command["documents"]]
        elif command["name"] == "update":
            sent += [Write("update", u["q"], u["u"], upsert=u.get("upsert", False), multi=u.get("multi", False)) for u in command["updates"]]
        elif command["name"] == "delete":
            sent += [Write("delete", d["q"], multi=d["limit"] == 0) for d in command["deletes"]]
        else:
            sent.append(Write("findAndModify", command["query"], command.get("update", {"$set": {}}), upsert=command.get("upsert", False)))
    assert {w.operation for w in sent} == {"insert", "update", "delete", "findAndModify"} and len(sent) >= 10
    for write in sent:
        for version in SERVER_ERAS:
            routed = target_write(layout, write, version)
            assert routed.outcome != "refused", (version, write, routed)


# The second attacker's writes (issue 18) --------------------------------------------------------------------------


def test_a_compare_and_set_modify_keeps_the_callers_filter(server) -> None:
    """modify(query={"__raw__": {"version": 1}}) as optimistic locking: a stale writer must match nothing."""
    PlainAccount, SafeAccount = tenant_classes()
    plain = PlainAccount(tenant="t1", n=1).save()
    assert plain.modify(query={"__raw__": {"n": 1}}, n=2) is True
    assert plain.modify(query={"__raw__": {"n": 1}}, n=3) is False  # mongoengine alone: the stale writer loses
    PlainAccount._get_collection().delete_many({})

    SafeAccount(tenant="t1", n=1).save()
    first, stale = SafeAccount.objects.first(), SafeAccount.objects.first()
    assert first.modify(query={"__raw__": {"n": 1}}, n=2) is True
    server.clear()
    assert stale.modify(query={"__raw__": {"n": 1}}, n=3) is False
    assert server.filters()[-1] == ("findAndModify", {"_id": stale.pk, "$and": [{"n": 1}, {"tenant": "t1"}]})
    assert SafeAccount._get_collection().find_one({}, {"_id": 0}) == {"tenant": "t1", "n": 2}


def test_a_subclass_cannot_declare_another_key_for_the_same_collection(server) -> None:
    from mongoshard import DeclarationError

    collection = fresh("inherited")

    @sharded(key="tenant", database="safewrites")
    class Base(Document):
        tenant = StringField()
        region = StringField()
        meta = {"collection": collection, "allow_inheritance": True}

    class Same(Base):  # inherits the key: fine
        pass

    assert Same._meta["shard_key"] == ("tenant",)
    with pytest.raises(DeclarationError, match="shares the collection of Base, sharded on \\('tenant',\\)"):
        class Other(Base):
            meta = {"shard_key": ("region",)}


@pytest.mark.parametrize("field, path, says", [
    ("generic", "owner.pid", "goes through the GenericEmbeddedDocumentField 'owner'"),
    ("dynamic", "owner.pid", "which the DynamicEmbeddedDocument Loose does not declare"),
])
def test_a_key_mongoengine_cannot_address_is_refused_at_definition(field: str, path: str, says: str) -> None:
    from mongoengine import DynamicEmbeddedDocument, GenericEmbeddedDocumentField

    from mongoshard import DeclarationError

    class Loose(DynamicEmbeddedDocument):
        pass

    owner = GenericEmbeddedDocumentField() if field == "generic" else EmbeddedDocumentField(Loose)
    with pytest.raises(DeclarationError, match=says):
        sharded(type("Held", (Document,), {"owner": owner, "meta": {"collection": fresh("held")}}), key=(path,), database="x")


def test_a_new_document_taking_a_stored_id_with_a_key_of_another_type_is_refused(server) -> None:
    collection = fresh("moved")

    @sharded(key="on", database="safewrites")
    class Flag(DynamicDocument):
        meta = {"collection": collection}

    stored = Flag(on=1).save()
    server.clear()
    with pytest.raises(ShardKeyWriteError, match="is stored with on = 1, not True"):
        Flag(id=stored.pk, on=True).save()
    assert server.writes() == [] and Flag._get_collection().find_one({}, {"_id": 0}) == {"on": 1}


def test_a_bulk_insert_taking_a_stored_id_with_another_key_is_refused(server) -> None:
    """Issue 18 (second attacker, F12): save() read the stored _id first, QuerySet.insert did not; on a cluster the
    insert is routed by the new key to another shard, where it makes a second document with the same _id."""
    _, SafeBox = box_classes()
    stored = SafeBox(owner=Owner(player_id=1), box=1).save()
    server.clear()
    with pytest.raises(ShardKeyWriteError, match="is stored with owner.player_id = 1, not 2"):
        SafeBox.objects.insert([SafeBox(owner=Owner(player_id=5), box=2), SafeBox(id=stored.pk, owner=Owner(player_id=2), box=1)])
    assert [c["name"] for c in server.writes()] == []
    assert SafeBox._get_collection().count_documents({}) == 1


def test_an_array_on_a_dynamic_key_is_refused_before_it_is_stored(server) -> None:
    """Issue 18 (F12): a DynamicDocument's key field can hold a list, which a sharded collection refuses."""
    collection = fresh("dynamic_array")

    @sharded(key="tenant", database="safewrites")
    class Tagged(DynamicDocument):
        meta = {"collection": collection}

    for write in (lambda: Tagged(tenant=[1]).save(), lambda: Tagged.objects.insert([Tagged(tenant=["a", "b"])])):
        with pytest.raises(ValidationError, match="holds an array on the shard key path tenant"):
            write()
    assert Tagged._get_collection().count_documents({}) == 0
    Tagged(tenant=1).save()
    assert Tagged._get_collection().count_documents({}) == 1


# The third attacker's findings on safe writes ---------------------------------------------------------------------


def test_a_key_on_the_primary_key_saves_a_new_document_once(server) -> None:
    collection = fresh("by_id")

    @sharded(key=("id",), database="safewrites")
    class ById(Document):
        x = IntField()
        meta = {"collection": collection}

    saved = ById(x=42).save()  # mongoengine assigns the id after the insert: never a key change
    assert saved.pk is not None and ById._get_collection().count_documents({}) == 1
    saved.x = 43
    saved.save()
    assert ById._get_collection().find_one({}, {"_id": 0}) == {"x": 43}


def test_force_insert_never_inserts_a_stored_document_again(server) -> None:
    _, SafeBox = box_classes()
    SafeBox(owner=Owner(player_id=1), box=1).save()
    loaded = SafeBox.objects.first()
    loaded.owner.player_id = 2
    server.clear()
    with pytest.raises(ShardKeyWriteError, match="is stored already; save\\(force_insert=True\\) would insert it again"):
        loaded.save(force_insert=True)
    with pytest.raises(ShardKeyWriteError, match="is stored with owner.player_id = 1, not 3"):
        SafeBox(id=loaded.pk, owner=Owner(player_id=3), box=1).save(force_insert=True)
    assert server.writes() == [] and SafeBox._get_collection().count_documents({}) == 1


def test_bulk_insert_checks_any_iterable(server) -> None:
    import collections

    _, SafeAccount = tenant_classes()
    for documents in ({SafeAccount(n=1)}, collections.deque([SafeAccount(n=1)]), (d for d in [SafeAccount(n=1)])):
        with pytest.raises(ValidationError, match="has no value for the shard key field"):
            SafeAccount.objects.insert(documents)
    assert SafeAccount._get_collection().count_documents({}) == 0
    SafeAccount.objects.insert({SafeAccount(tenant="t", n=2)})
    assert SafeAccount._get_collection().count_documents({"tenant": "t"}) == 1


def test_the_switch_collection_context_manager_still_archives(server) -> None:
    from mongoengine.context_managers import switch_collection

    _, SafeBox = box_classes()
    SafeBox(owner=Owner(player_id=1), box=1, label="a").save()
    loaded = SafeBox.objects.first()
    archive = fresh("archive")
    with switch_collection(SafeBox, archive):
        loaded.label = "archived"
        loaded.save()  # mongoengine's upsert into the other collection
    assert SafeBox._get_db()[archive].find_one({}, {"_id": 0}) == {"owner": {"pid": 1}, "box": 1, "label": "archived"}


def test_the_switch_db_context_manager_still_archives(server, cluster) -> None:
    """Fifth attacker: the switch_db context manager rewrites the class's db_alias, so a save into the other database
    was judged "not switched" and refused (SaveConditionError); the plain class archives (control)."""
    from mongoengine.context_managers import switch_db

    port = cluster.topology.shards[0].ports[0]
    connect("safewrites_archive", alias="archive", host=f"mongodb://127.0.0.1:{port}/?directConnection=true",
            uuidRepresentation="standard")
    try:
        for cls in tenant_classes():
            cls(tenant="t1", n=1).save()
            loaded = cls.objects.get(tenant="t1", n=1)
            with switch_db(cls, "archive"):
                loaded.n = 2
                loaded.save()  # mongoengine's upsert into the other database
                assert cls._get_collection().find_one({"_id": loaded.pk}, {"_id": 0}) == {"tenant": "t1", "n": 2}
            cls.objects(id=loaded.pk).delete()
    finally:
        disconnect("archive")


def test_a_save_condition_on_a_key_field_is_kept(server) -> None:
    _, SafeAccount = tenant_classes()
    SafeAccount(tenant="t1", n=1).save()
    loaded = SafeAccount.objects.first()
    loaded.n = 2
    with pytest.raises(SaveConditionError):
        loaded.save(save_condition={"tenant": "t9"})  # the caller's condition fails: nothing written
    assert SafeAccount._get_collection().find_one({}, {"_id": 0}) == {"tenant": "t1", "n": 1}


def test_after_update_moves_the_key_delete_and_save_follow_it(server) -> None:
    _, SafeAccount = tenant_classes()
    SafeAccount(tenant="t1", n=1).save()
    loaded = SafeAccount.objects.first()
    loaded.update(set__tenant="t2")
    assert loaded.tenant == "t2"
    loaded.n = 5
    loaded.save()
    assert SafeAccount._get_collection().find_one({}, {"_id": 0}) == {"tenant": "t2", "n": 5}
    loaded.delete()
    assert SafeAccount._get_collection().count_documents({}) == 0


def test_a_pipeline_update_that_moves_the_key_is_followed_too(server) -> None:
    """Fifth attacker: doc.update(__raw__=[{"$set": ...}]) (a pipeline) moved the key unseen; delete() then matched
    nothing and returned as if it had deleted."""
    _, SafeAccount = tenant_classes()
    SafeAccount(tenant="t1", n=1).save()
    loaded = SafeAccount.objects.first()
    loaded.update(__raw__=[{"$set": {"tenant": "t3"}}])
    assert loaded.tenant == "t3"
    loaded.delete()
    assert SafeAccount._get_collection().count_documents({}) == 0


def test_a_stored_document_marked_new_again_is_not_re_created(server) -> None:
    """Fifth attacker: switch_collection(its own collection, keep_created=False) marks a loaded document new, and
    mongoengine's replace-then-insert re-created it after a delete; the plain class does (control)."""
    PlainAccount, SafeAccount = tenant_classes()
    for cls in (PlainAccount, SafeAccount):
        cls(tenant="t1", n=1).save()
        loaded = cls.objects.first()
        cls.objects(id=loaded.pk).delete()
        loaded.switch_collection(cls._get_collection_name(), keep_created=False)
        loaded.n = 2
        if cls is PlainAccount:
            loaded.save()
            assert cls._get_collection().count_documents({"_id": loaded.pk}) == 1  # mongoengine alone re-creates it
        else:
            with pytest.raises(SaveConditionError, match="was deleted since it was loaded"):
                loaded.save()
            assert cls._get_collection().count_documents({"_id": loaded.pk}) == 0
