"""advise reads the model and says "unknown" where it cannot know (issue 17: udata, StackStorm, AmazingQuant, kairon).

Each model below rebuilds, small, a shape one of those applications declares; the expected finding is what the model
itself tells (its field types, its unique indexes, its inheritance), never a guess from a name alone.
"""

from __future__ import annotations

from mongoengine import (
    DateTimeField,
    Document,
    GenericReferenceField,
    ReferenceField,
    StringField,
)

from mongoshard import ShardSpec, advise
from mongoshard.advice.advise import candidate_spec


class Dataset(Document):  # udata: a document with a string primary key (its slug)
    slug = StringField(primary_key=True)


class Organization(Document):  # an ObjectId primary key
    name = StringField()


class Activity(Document):  # udata's activity: one collection, many subclasses, a GenericReferenceField with choices
    related_to = GenericReferenceField(choices=(Dataset, Organization))
    actor_id = StringField(unique=True)
    meta = {"allow_inheritance": True, "collection": "activity"}


class DatasetActivity(Activity):
    pass


class OrganizationActivity(Activity):
    pass


class Reuse(Document):
    dataset = ReferenceField(Dataset)  # a reference to a slug: nothing grows
    organization = ReferenceField(Organization)  # a reference to an ObjectId: grows
    title = StringField()
    meta = {"indexes": [{"fields": ("title", "id"), "unique": True}]}  # unique with the primary key


class Factor(Document):  # AmazingQuant: names and codes the model says nothing about
    factor_name = StringField()
    security_code = StringField()


class ActionExecution(Document):  # StackStorm: str(ObjectId()) kept as text
    execution_id = StringField()
    trigger = StringField()
    occurrence_time = DateTimeField()


def findings(model: type, key: dict, **options) -> dict[str, str]:
    spec = candidate_spec(model, f"app.{model._get_collection_name()}", key)
    return {f.rule: f.message for f in advise([spec], **options)}


def test_a_generic_reference_with_choices_has_many_values() -> None:
    assert "low-cardinality" not in findings(Activity, {"related_to": 1})


def test_a_reference_grows_only_when_what_it_points_at_has_an_objectid() -> None:
    assert "monotonic-key" not in findings(Reuse, {"dataset": 1})
    assert "Organization, whose primary key is an ObjectId" in findings(Reuse, {"organization": 1})["monotonic-key"]


def test_a_key_on_id_keeps_unique_indexes_holding_id() -> None:
    assert "unenforceable-unique" not in findings(Reuse, {"_id": "hashed"})
    assert "unenforceable-unique" in findings(Reuse, {"dataset": 1})  # (title, _id) does not start with dataset


def test_names_alone_say_nothing_about_cardinality() -> None:
    for field in ("factor_name", "security_code"):
        message = findings(Factor, {field: 1})["unknown-cardinality"]
        assert f"'{field}'" in message and "game servers" not in message
    assert "unknown-cardinality" not in findings(Activity, {"actor_id": 1})  # unique: as many values as documents


def test_an_identifier_kept_as_text_may_grow() -> None:
    found = findings(ActionExecution, {"execution_id": 1})
    assert "str(ObjectId())" in found["unknown-growth"] and "monotonic-key" not in found


def test_a_leading_field_of_unknown_cardinality_before_a_growing_one() -> None:
    message = findings(ActionExecution, {"trigger": 1, "occurrence_time": 1})["unknown-cardinality"]
    assert "'trigger'" in message and "'occurrence_time' grows" in message


def test_one_collection_is_one_finding_in_the_database_given() -> None:
    found = [f for f in advise([], unsharded=[Activity, DatasetActivity, OrganizationActivity, Factor], database="udata")
             if f.rule == "unsharded-collection"]
    assert sorted(f.namespace for f in found) == ["udata.activity", "udata.factor"]
    activity = next(f for f in found if f.namespace == "udata.activity")
    assert "and 2 model(s) sharing its collection" in activity.message
    assert "udata.activity='{\"actor_id\": 1}'" in activity.fix  # its own unique field, no placeholder
    factor = next(f for f in found if f.namespace == "udata.factor")
    assert "FIELD" not in factor.fix


def test_shard_spec_stays_usable_for_candidates() -> None:
    assert isinstance(candidate_spec(Factor, "app.factor", {"factor_name": 1}), ShardSpec)


def test_one_collection_per_entity_is_said_and_judged_with_a_pattern(tmp_path, monkeypatch) -> None:
    """AmazingQuant keeps one collection per security (``Quote.switch_collection(code)``)."""
    import importlib
    import textwrap

    (tmp_path / "quotes_app.py").write_text(textwrap.dedent("""
        from mongoengine import Document, StringField, FloatField
        class Quote(Document):
            security_code = StringField()
            price = FloatField()
            meta = {"collection": "quotes", "shard_key": ("security_code",), "shard_database": "market"}
        def save_quote(code, price):
            with Quote.switch_collection(f"quotes_{code}") as bound:
                bound(security_code=code, price=price).save()
        """))
    monkeypatch.syspath_prepend(str(tmp_path))
    from mongoshard import spec_for

    spec = spec_for(importlib.import_module("quotes_app").Quote)
    said = {f.rule: f for f in advise([spec])}
    assert "switch_collection" in said["other-collections"].message and "--collection-pattern Quote=" in said["other-collections"].fix
    records = [{"namespace": f"market.quotes_{code}", "operation": "find", "shape": {"price": "?number"}}
               for code in ("600000", "600001") for _ in range(5)]
    assert "scatter-gather-queries" not in {f.rule for f in advise([spec], records)}  # not its collection: not judged
    judged = {f.rule: f for f in advise([spec], records, collection_patterns={"Quote": "quotes_*"})}
    assert "100% of the 10 audited queries" in judged["scatter-gather-queries"].message
    assert "2 audited collection(s) match 'quotes_*'" in judged["other-collections"].message


def test_keys_says_a_model_switches_collections(tmp_path) -> None:
    import textwrap

    from commandline import ROOT, run

    (tmp_path / "ticks.py").write_text(textwrap.dedent("""
        from mongoengine import Document, StringField
        class Tick(Document):
            code = StringField()
            meta = {"shard_key": ("code",), "shard_database": "market"}
        def store(code):
            Tick.switch_collection(f"tick_{code}")
        """))
    result = run("keys", "ticks", "--json", cwd=tmp_path, env={"PYTHONPATH": f"{ROOT}:{tmp_path}"})
    assert result.returncode == 0
    warnings = [line for line in result.stderr.splitlines() if "switch_collection" in line]
    assert len(warnings) == 1 and "market.tick" in warnings[0] and "--collection-pattern Tick=GLOB" in warnings[0]


def test_a_pattern_never_takes_in_another_models_collection() -> None:
    spec = candidate_spec(Factor, "app.factor", {"factor_name": 1})
    other = candidate_spec(ActionExecution, "app.action_execution", {"trigger": 1})
    records = [{"namespace": "app.action_execution", "operation": "find", "shape": {"x": "?int"}}] * 5
    judged = {(f.model, f.rule) for f in advise([spec, other], records, collection_patterns={"Factor": "*"})}
    assert ("ActionExecution", "scatter-gather-queries") in judged and ("Factor", "scatter-gather-queries") not in judged
