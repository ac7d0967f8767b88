"""Shard key declarations: both spellings, resolution to database names, and every refusal."""

from __future__ import annotations

import textwrap

import mongomock
import pytest
from bson import Int64, MaxKey, MinKey
from mongoengine import (
    DateTimeField,
    DictField,
    Document,
    DynamicDocument,
    EmbeddedDocument,
    EmbeddedDocumentField,
    IntField,
    ListField,
    StringField,
    connect,
    disconnect,
)
from mongoengine.errors import OperationError

from mongoshard import DeclarationError, ShardSpec, Zone, discover, sharded, spec_for
import mongoshard
from mongoshard.routing.write_facts import Write
from mongoshard.routing.writes import target_write


class Owner(EmbeddedDocument):
    player_id = IntField(db_field="pid")
    tags = ListField(StringField())


def test_meta_and_decorator_give_the_same_spec() -> None:
    class ByMeta(Document):
        user_id = IntField(db_field="uid")
        caught_at = DateTimeField()
        meta = {"collection": "same", "shard_key": ("user_id", "caught_at"), "shard_hashed": "user_id",
                "shard_presplit": 4, "shard_database": "game"}

    @sharded(key=("user_id", "caught_at"), hashed="user_id", presplit=4, database="game")
    class ByDecorator(Document):
        user_id = IntField(db_field="uid")
        caught_at = DateTimeField()
        meta = {"collection": "same"}

    by_meta, by_decorator = spec_for(ByMeta), spec_for(ByDecorator)
    assert by_meta == by_decorator
    assert by_meta.key == (("uid", "hashed"), ("caught_at", 1))
    assert by_meta.namespace == "game.same" and by_meta.initial_chunks == 4
    assert ByDecorator._meta["shard_key"] == ("user_id", "caught_at")  # mongoengine sees the key too


def test_strategy_words_and_dotted_embedded_paths() -> None:
    @sharded(key=("owner.player_id", "box"), strategy="ranged", unique=True, database="game", presplit=[{"owner.player_id": 100}])
    class Box(Document):
        owner = EmbeddedDocumentField(Owner)
        box = IntField()

    @sharded(key=("owner.player_id", "box"), database="game",
             zones=[Zone("low", {"owner.player_id": 0}, {"owner.player_id": 50}, ("s0",))])
    class ZonedBox(Document):
        owner = EmbeddedDocumentField(Owner)
        box = IntField()

    spec = spec_for(Box)
    assert spec.key_pattern == {"owner.pid": 1, "box": 1}
    assert spec.unique and spec.strategy == "ranged"
    assert spec.split_points == ({"owner.pid": 100},)
    zoned = spec_for(ZonedBox)
    assert zoned.zones[0].min == {"owner.pid": 0} and zoned.zones[0].shards == ("s0",)

    @sharded(key="owner.player_id", strategy="hashed", database="game")
    class HashedBox(Document):
        owner = EmbeddedDocumentField(Owner)

    assert spec_for(HashedBox).key == (("owner.pid", "hashed"),)


def test_database_comes_from_the_registered_connection() -> None:
    connect("registered_db", alias="shard-test-alias", mongo_client_class=mongomock.MongoClient, uuidRepresentation="standard")
    try:
        class Aliased(Document):
            x = IntField()
            meta = {"db_alias": "shard-test-alias", "shard_key": ("x",)}

        assert spec_for(Aliased).database == "registered_db"
        assert spec_for(Aliased, database="override").database == "override"
    finally:
        disconnect("shard-test-alias")


def test_unregistered_alias_says_how_to_fix_it() -> None:
    class Orphan(Document):
        x = IntField()
        meta = {"db_alias": "nobody-registered-this", "shard_key": ("x",)}

    with pytest.raises(DeclarationError, match="register_connection"):
        spec_for(Orphan)
    assert spec_for(Orphan, database="given").database == "given"


def _bad_unknown_field():
    @sharded(key="usr_id", database="d")
    class Model(Document):
        user_id = IntField()


def _bad_two_hashed():
    class Model(Document):
        a = IntField()
        b = IntField()
        meta = {"shard_key": ("a", "b"), "shard_hashed": ("a", "b"), "shard_database": "d"}
    spec_for(Model)


def _bad_hashed_list():
    @sharded(key="tags", hashed=True, database="d")
    class Model(Document):
        tags = ListField(StringField())


def _bad_hashed_embedded():
    @sharded(key="owner", hashed=True, database="d")
    class Model(Document):
        owner = EmbeddedDocumentField(Owner)


def _bad_unique_hashed():
    @sharded(key="a", hashed=True, unique=True, database="d")
    class Model(Document):
        a = IntField()


def _bad_list_in_path():
    @sharded(key="owner.tags", database="d")
    class Model(Document):
        owner = EmbeddedDocumentField(Owner)


def _bad_empty_key():
    @sharded(key=(), database="d")
    class Model(Document):
        a = IntField()


def _bad_contradicts_meta():
    @sharded(key="b", database="d")
    class Model(Document):
        a = IntField()
        b = IntField()
        meta = {"shard_key": ("a",)}


def _bad_count_on_ranged():
    @sharded(key="a", presplit=4, database="d")
    class Model(Document):
        a = IntField()


def _bad_hashed_not_in_key():
    @sharded(key="a", hashed="b", database="d")
    class Model(Document):
        a = IntField()
        b = IntField()


def _bad_split_point_field():
    @sharded(key="a", presplit=[{"b": 1}], database="d")
    class Model(Document):
        a = IntField()
        b = IntField()


def _bad_strategy_contradiction():
    @sharded(key="a", hashed="a", strategy="ranged", database="d")
    class Model(Document):
        a = IntField()


def _bad_path_past_scalar():
    @sharded(key="a.b", database="d")
    class Model(Document):
        a = IntField()


def _bad_split_points_on_hashed():
    @sharded(key="a", hashed=True, presplit=[{"a": 5}], database="d")
    class Model(Document):
        a = IntField()


def _bad_count_behind_ranged_prefix():
    @sharded(key=("a", "b"), hashed="b", presplit=4, database="d")
    class Model(Document):
        a = IntField()
        b = IntField()


def _bad_split_point_on_hashed_suffix():
    @sharded(key=("a", "b"), hashed="b", presplit=[{"a": 1, "b": 5}], database="d")
    class Model(Document):
        a = IntField()
        b = IntField()


def _bad_zone_raw_value_on_hashed():
    @sharded(key="a", hashed=True, zones=[Zone("z", {"a": 0}, {"a": 100}, ("s0",))], database="d")
    class Model(Document):
        a = IntField()


def _bad_split_points_and_zones():
    @sharded(key="a", presplit=[{"a": 5}], zones=[Zone("z", {"a": 0}, {"a": 3}, ("s0",))], database="d")
    class Model(Document):
        a = IntField()


def _bad_zones_overlap():
    @sharded(key="a", zones=[Zone("x", {"a": 0}, {"a": 10}, ("s0",)), Zone("y", {"a": 5}, {"a": 20}, ("s1",))], database="d")
    class Model(Document):
        a = IntField()


def _bad_zone_empty_range():
    @sharded(key="a", zones=[Zone("x", {"a": 10}, {"a": 10}, ("s0",))], database="d")
    class Model(Document):
        a = IntField()


def _bad_zone_without_shards():
    @sharded(key="a", zones=[Zone("x", {"a": 1}, {"a": 10})], database="d")
    class Model(Document):
        a = IntField()


def _bad_split_point_skipping_the_prefix():
    @sharded(key=("a", "b"), presplit=[{"b": 5}], database="d")
    class Model(Document):
        a = IntField()
        b = IntField()


def _bad_split_point_twice():
    @sharded(key="a", presplit=[{"a": 5}, {"a": 5.0}], database="d")
    class Model(Document):
        a = IntField()


def _bad_presplit_zones_on_hashed_prefix():
    from bson import MinKey

    @sharded(key="a", hashed=True, presplit=4, zones=[Zone("x", {"a": MinKey()}, {"a": Int64(0)}, ("s0",))], database="d")
    class Model(Document):
        a = IntField()


def _bad_presplit_zone_prefix_minkey():
    from bson import MinKey

    @sharded(key=("c", "h"), hashed="h", presplit=4, zones=[Zone("x", {"c": MinKey()}, {"c": "US"}, ("s0",))], database="d")
    class Model(Document):
        c = StringField()
        h = IntField()


BAD_DECLARATIONS = [
    (_bad_unknown_field, r"'usr_id' is unknown.*use one of: id, user_id"),
    (_bad_two_hashed, r"only one shard key field can be hashed"),
    (_bad_hashed_list, r"list field 'tags'.*cannot shard on arrays"),
    (_bad_hashed_embedded, r"hashed shard key field 'owner' is an embedded document"),
    (_bad_unique_hashed, r"hashed shard key cannot be unique"),
    (_bad_list_in_path, r"'owner.tags' goes through the list field 'tags'"),
    (_bad_empty_key, r"shard key is empty"),
    (_bad_contradicts_meta, r"@sharded sets shard_key=\('b',\) but the class's meta says \('a',\)"),
    (_bad_count_on_ranged, r"only a hashed key can have"),
    (_bad_hashed_not_in_key, r"hashed field 'b' is not in the shard key"),
    (_bad_split_point_field, r"split point .* names \['b'\], which are not shard key fields"),
    (_bad_strategy_contradiction, r"strategy='ranged' contradicts hashed='a'"),
    (_bad_path_past_scalar, r"continues past 'a', which has no fields"),
    (_bad_split_points_on_hashed, r"split points on the hashed field 'a' never match the chunks.*presplit=8"),
    (_bad_count_behind_ranged_prefix, r"presplit=4 needs the hashed field 'b' first"),
    (_bad_split_point_on_hashed_suffix, r"gives the hashed field 'b' the value 5; leave it out .* or give a hashed value"),
    (_bad_zone_raw_value_on_hashed, r"zone 'z' bounds the hashed field 'a' with 0; .* give Int64 values"),
    (_bad_split_points_and_zones, r"split points and zones cannot both be declared"),
    (_bad_zones_overlap, r"zones 'x' and 'y' overlap"),
    (_bad_zone_empty_range, r"zone 'x' has min \{a: 10\} not below max \{a: 10\}"),
    (_bad_zone_without_shards, r"zone 'x' names no shard"),
    (_bad_split_point_skipping_the_prefix, r"names \['b'\] but must name a prefix of the key \['a', 'b'\]"),
    (_bad_split_point_twice, r"is declared twice"),
    (_bad_presplit_zones_on_hashed_prefix, r"exactly one zone\s+from MinKey to MaxKey .*31412"),
    (_bad_presplit_zone_prefix_minkey, r"31388"),
]


@pytest.mark.parametrize(("declare", "message"), BAD_DECLARATIONS, ids=[f.__name__[5:] for f, _ in BAD_DECLARATIONS])
def test_bad_declarations_fail_with_one_clear_sentence(declare, message: str) -> None:
    with pytest.raises(DeclarationError, match=message) as caught:
        declare()
    text = str(caught.value)
    assert "\n" not in text and text.startswith("Model Model:")


def test_decorator_refuses_non_documents() -> None:
    with pytest.raises(DeclarationError, match="not a mongoengine Document"):
        sharded(key="a")(type("Plain", (), {}))


def test_free_form_paths_inside_dict_fields_are_allowed() -> None:
    @sharded(key="attrs.region", database="d")
    class Flexible(Document):
        attrs = DictField()

    assert spec_for(Flexible).key_pattern == {"attrs.region": 1}


@pytest.fixture
def package(tmp_path, monkeypatch):
    """Write a throw-away models package and put it on sys.path."""
    def write(files: dict[str, str]) -> str:
        root = tmp_path / "pkg_under_test"
        root.mkdir(exist_ok=True)
        for name, text in {"__init__.py": "", **files}.items():
            (root / name).write_text(textwrap.dedent(text))
        return "pkg_under_test"

    monkeypatch.syspath_prepend(str(tmp_path))
    yield write
    import sys
    for name in [m for m in sys.modules if m.startswith("pkg_under_test")]:
        del sys.modules[name]


def test_discover_merges_inheritance_and_walks_subpackages(package) -> None:
    name = package({
        "animals.py": """
            from mongoengine import Document, IntField, StringField
            from mongoshard import sharded

            @sharded(key="owner", hashed=True, database="zoo")
            class Animal(Document):
                owner = IntField()
                meta = {"allow_inheritance": True}

            class Cat(Animal):
                lives = IntField()

            class NotSharded(Document):
                x = StringField()
            """,
        "plants.py": """
            from mongoengine import Document, IntField
            class Plant(Document):
                bed = IntField()
                meta = {"shard_key": ("bed",), "shard_database": "zoo"}
            """,
    })
    specs = discover(name)
    assert [s.namespace for s in specs] == ["zoo.animal", "zoo.plant"]
    assert specs[0].models == ("pkg_under_test.animals.Animal", "pkg_under_test.animals.Cat")
    assert all(isinstance(s, ShardSpec) for s in specs)


def test_discover_rejects_conflicting_declarations(package) -> None:
    name = package({"models.py": """
        from mongoengine import Document, IntField
        class First(Document):
            a = IntField()
            b = IntField()
            meta = {"collection": "shared", "shard_key": ("a",), "shard_database": "d"}
        class Second(Document):
            a = IntField()
            b = IntField()
            meta = {"collection": "shared", "shard_key": ("b",), "shard_database": "d"}
        """})
    with pytest.raises(DeclarationError, match=r"d.shared is declared twice.*\{'a': 1\}.*\{'b': 1\}"):
        discover(name)


def test_discover_names_an_unimportable_module() -> None:
    with pytest.raises(DeclarationError, match="Cannot import module 'no_such_models_module'"):
        discover("no_such_models_module")


@pytest.fixture
def mock_db():
    connect("shardtest", alias="default", mongo_client_class=mongomock.MongoClient, uuidRepresentation="standard")
    yield
    disconnect("default")


def test_mongoengine_keeps_using_the_declared_key(mock_db) -> None:
    @sharded(key=("region", "number"))
    class Order(Document):
        region = StringField()
        number = IntField()
        note = StringField()

    order = Order(region="EU", number=1, note="first").save()
    order.note = "changed"
    order.save()
    assert Order.objects.get(pk=order.pk).note == "changed"
    with pytest.raises(OperationError, match=r"Order.region is part of the shard key.*use modify\(region=...\)"):
        order.region = "US"
    assert spec_for(Order).database == "shardtest"


# Declarations as public mongoengine applications write them (fixtures from real code, see the closing note).


def test_a_string_shard_key_is_refused_with_the_tuple_to_write() -> None:
    class CynesNews(Document):  # meta = {"shard_key": ("date")}: parentheses without a comma are a string
        date = StringField()
        meta = {"shard_key": ("date"), "shard_database": "news"}

    with pytest.raises(DeclarationError, match=r"meta\['shard_key'\] is the string 'date'.*write a tuple: \('date',\)"):
        spec_for(CynesNews)


@pytest.mark.parametrize("written, fix", [("_id", "write 'uid'"), ("pk", "write 'uid'"), ("id", "write 'uid'")])
def test_the_primary_key_is_named_by_its_model_field(written: str, fix: str) -> None:
    class UserInfo(DynamicDocument):
        uid = IntField(primary_key=True)
        meta = {"shard_key": (written,), "shard_database": "users"}

    with pytest.raises(DeclarationError, match=f"calls its primary key 'uid': {fix}"):
        spec_for(UserInfo)


def test_a_database_field_name_is_refused_with_the_model_name_even_on_dynamic_documents() -> None:
    class MediaModel(DynamicDocument):
        seller = StringField(db_field="seller_id")
        meta = {"shard_key": ("sku", "seller_id"), "shard_database": "taz"}

    with pytest.raises(DeclarationError, match="uses the database name 'seller_id'; mongoengine needs the model name 'seller'"):
        spec_for(MediaModel)


def test_a_bare_sharded_adopts_the_meta_key() -> None:
    @sharded
    class Sample(Document):
        md5 = StringField()
        meta = {"shard_key": ("md5",), "shard_database": "crits"}

    assert spec_for(Sample).key == (("md5", 1),)
    with pytest.raises(DeclarationError, match="needs meta\\['shard_key'\\]"):
        @sharded
        class Nothing(Document):
            x = IntField()


# Found by an independent attacker: each used to be an internal error (exit 70) or a silent wrong answer.


@pytest.mark.parametrize("written, says", [
    (("n", 3, None), "must be a tuple of field names"),
    ((None,), "must be a tuple of field names"),
    ((("n",),), "must be a tuple of field names"),
    (5, "must be a tuple of field names"),
    ({"n": "hashed"}, "is a key pattern; .* write \\('n',\\) with shard_hashed='n'"),
])
def test_keys_that_are_not_tuples_of_names_are_refused(written, says) -> None:
    class Odd(Document):
        n = IntField()
        meta = {"shard_key": written, "shard_database": "d"}

    with pytest.raises(DeclarationError, match=says):
        spec_for(Odd)


@pytest.mark.parametrize("arguments, says", [
    ({"key": 5}, "key= must be a field name or a tuple"),
    ({"key": ("n", None)}, "key= must be a field name or a tuple"),
    ({"key": {"n": "hashed"}}, "key= must be a field name or a tuple"),
    ({"key": "n", "presplit": "abc"}, "presplit must be a chunk count"),
    ({"key": "n", "presplit": [1]}, "split point 1 must map"),
    ({"key": "n", "zones": "abc"}, "zones must be a list"),
    ({"key": "n", "zones": [1]}, "a zone must be Zone"),
    ({"key": "n", "database": "a.b"}, "database='a.b' holds a character MongoDB refuses"),
    ({"key": "n", "database": ""}, "must be a non-empty string"),
    ({"key": "n", "database": "x" * 64}, "longer than MongoDB's 63 bytes"),
    ({"key": "n", "unique": "no"}, "unique= must be True or False"),
])
def test_bad_decorator_arguments_are_declaration_errors(arguments, says) -> None:
    with pytest.raises(DeclarationError, match=says):
        @sharded(**arguments)
        class Odd(Document):
            n = IntField()


def test_sharded_refuses_what_is_not_a_document_class() -> None:
    with pytest.raises(DeclarationError, match="42 is not a mongoengine Document class"):
        sharded(key="n")(42)
    with pytest.raises(DeclarationError, match="Inner is not a mongoengine Document class"):
        @sharded(key="n")
        class Inner(EmbeddedDocument):
            n = IntField()


def test_a_collection_name_mongodb_refuses() -> None:
    class Weird(Document):
        n = IntField()
        meta = {"collection": "a.b$c", "shard_key": ("n",), "shard_database": "d"}

    with pytest.raises(DeclarationError, match="the collection name 'a.b\\$c' is one MongoDB refuses"):
        spec_for(Weird)


# Library misuse and BSON types the second attacker used (issue 18) ----------------------------------------------


def test_split_points_of_every_bson_date_and_reference_are_a_models_own_answer() -> None:
    from bson import DBRef, ObjectId
    from bson.datetime_ms import DatetimeMS

    for point in (DatetimeMS(-(2**62)), DBRef("c", ObjectId(b"a" * 12))):
        @sharded(key="a", presplit=[{"a": point}], database="t")
        class Split(Document):
            a = IntField()
            meta = {"collection": f"split_{type(point).__name__}"}

        assert spec_for(Split).split_points == ({"a": point},)


@pytest.mark.parametrize("call, says", [
    (lambda: mongoshard.ShardSpec("db", "c", ()), "the shard key must be a non-empty tuple"),
    (lambda: mongoshard.ShardSpec("db", "c", (("a", 2),)), "the shard key must be a non-empty tuple"),
    (lambda: mongoshard.advise([mongoshard.ShardSpec("db", "c", (("a", 1),))]), "this ShardSpec names no model"),
    (lambda: mongoshard.hashed_value(_nested(5000)), "nested deeper than MongoDB stores"),
    # the second attacker's F11, each a raw Python exception or a silent wrong answer before
    (lambda: mongoshard.hashed_value("\udcff"), "is not UTF-8 .a lone surrogate."),
    (lambda: _table().shard_for({"user_id": "\udcff"}), "is not UTF-8"),
    (lambda: _table().shard_for(None), "a document is a mapping of field names to values"),
    (lambda: _table().shard_for("x"), "a document is a mapping"),
    (lambda: _table().target({}, {"locale": 5}), "locale"),
    (lambda: mongoshard.PredictedSource(_specs(), "shard0"), "a list of names such as"),
    (lambda: mongoshard.PredictedSource(_specs(), ["s0"], server_version="8"), "a server version is .major, minor."),
    (lambda: mongoshard.PredictedSource([5], ["s0"]), "built from ShardSpecs"),
    (lambda: mongoshard.RoutingTable("a.b", {"x": 1}, None), "chunks must be a list"),
    (lambda: mongoshard.RoutingTable("a.b", "x", []), "the shard key pattern must be a document"),
    (lambda: mongoshard.RoutingTable("ab", {"x": 1}, []), "namespace is 'database.collection'"),
    (lambda: mongoshard.RoutingTable("a.b", {"x": 1}, [{"min": {"x": MinKey()}, "max": {"x": MaxKey()}, "shard": 5}]),
     "a 'shard' name"),
    (lambda: mongoshard.ShardSpec("a.b", "c", (("a", 1),)), "the database name 'a.b' holds a character"),
    (lambda: mongoshard.ShardSpec("", "", (("a", 1),)), "the database name '' must be a non-empty string"),
    (lambda: mongoshard.ShardSpec("a", "c$", (("a", 1),)), "the collection name 'c\\$' is one MongoDB refuses"),
    (lambda: mongoshard.ShardSpec("a", "b", (("a", "hashed"),), initial_chunks=-1), "initial_chunks must be a whole"),
    (lambda: mongoshard.ShardSpec("a", "b", (("a", "hashed"),), initial_chunks="8"), "initial_chunks must be a whole"),
    (lambda: mongoshard.ShardSpec("a", "b", (("a", 1),), zones=(5,)), "zones must be a tuple of Zone"),
    (lambda: mongoshard.ShardSpec("a", "b", (("a", 1),), split_points=(5,)), "split_points must be a tuple of documents"),
    (lambda: mongoshard.ShardSpec("a", "b", (("a", 1),), unique=1), "unique must be True or False"),
    (lambda: mongoshard.ShardSpec("a", "b", (("$k", 1),)), "the shard key '\\$k' cannot be a shard key field"),
    (lambda: mongoshard.ShardSpec("a", "b", (("a..b", 1),)), "cannot be a shard key field"),
    (lambda: mongoshard.ShardSpec("a", "b", (("a", 1), ("a", 1))), "the shard key names 'a' twice"),
    (lambda: mongoshard.Zone("EU", {"a": 1}, {"a": 2}, "shard0"), "shards must be a tuple of shard names"),
    (lambda: mongoshard.Zone("EU", 1, {"a": 2}, ("shard0",)), "min must be a document"),
    (lambda: mongoshard.Salting("a", buckets=0), "at least 2"),
    (lambda: mongoshard.Salting("a", buckets="3"), "at least 2"),
    (lambda: mongoshard.Salting(5, buckets=3), "Salting.field must be a field name"),
    (lambda: mongoshard.advise(None), "advise needs the ShardSpecs"),
    (lambda: mongoshard.advise([1]), "advise needs ShardSpecs"),
    (lambda: mongoshard.advise("x"), "advise needs the ShardSpecs"),
    (lambda: target_write(None, Write("delete", filter={}), (8, 0)), "needs a RoutingTable"),
    (lambda: target_write(_table(), None, (8, 0)), "needs a Write"),
    (lambda: Write("update", filter={"user_id": 1}, update={"$set": 5}), "takes a document of fields"),
    (lambda: Write("update", filter={"user_id": 1}, update={"$pushAll": {"a": [1]}}), "unknown update operator"),
    (lambda: mongoshard.discover(5), "a module's dotted name"),
    (lambda: mongoshard.scan(5), "a list of dotted module names"),
    (lambda: mongoshard.scan("examples.pokemon_storage.models"), "a list of dotted module names"),
    (lambda: mongoshard.SnapshotSource(5), "read from a file path"),
    # the fourth attacker's F16
    (lambda: mongoshard.ShardSpec("a", "b", (("a", 1),), models=(1,)), "ShardSpec.models names the Document classes"),
    (lambda: mongoshard.Salting("a", 3).assign(None), "Salting.assign takes a mongoengine document or a dict"),
    (lambda: mongoshard.PredictedSource(None), "built from ShardSpecs"),
    (lambda: mongoshard.advise([], unsharded="abc"), "advise's unsharded are Document classes"),
    # the third attacker's F18
    (lambda: mongoshard.Salting("author", salt_field="author"), "salt_field must differ from the hot field"),
    (lambda: mongoshard.PredictedSource(_specs(), ["s0", "s0"]), "s0 is listed twice"),
    (lambda: mongoshard.PredictedSource(_specs() * 2, ["s0"]), "is declared twice"),
    (lambda: mongoshard.discover("examples.pokemon_storage.models", database=5), "database is a database name"),
    (lambda: target_write(_table(), Write("delete", filter={}), (8, 0), cluster_shards="s0"), "cluster_shards is a list"),
    (lambda: target_write(_table(), Write("delete", filter={}), (8, 0), without_shard_key_protocol="yes"),
     "without_shard_key_protocol is True, False or None"),
])
def test_library_misuse_is_one_sentence(call, says: str) -> None:
    with pytest.raises(mongoshard.MongoshardError, match=says):
        call()


def _specs() -> list:
    return mongoshard.discover("examples.pokemon_storage.models")


def _table() -> mongoshard.RoutingTable:
    return mongoshard.PredictedSource(_specs(), ["shard0", "shard1"]).routing_table("game.creatures")


def _nested(depth: int) -> dict:
    document: dict = {}
    for _ in range(depth):
        document = {"a": document}
    return document


def test_dates_outside_pythons_range_are_read_from_json() -> None:
    """Issue 18: a snapshot or a sample holding a date past year 9999 (MongoDB stores them) failed with InvalidBSON."""
    from bson.datetime_ms import DatetimeMS

    from mongoshard.files import parse_json_object

    text = '{"d": {"$date": {"$numberLong": "4611686018427387904"}}, "e": {"$date": "2020-01-01T00:00:00Z"}}'
    document = parse_json_object(text)
    assert document["d"] == DatetimeMS(2**62) and document["e"].year == 2020
