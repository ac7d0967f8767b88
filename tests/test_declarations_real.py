"""The declaration check and the real server agree, over the whole space the declaration API accepts.

Hypothesis declares keys (ranged or hashed, the hashed field first or not,
one to three fields), uniqueness, pre-splitting (a chunk count or split
points of several types) and zones (on ranged and hashed fields, with
integers, Int64 hashes, MinKey and MaxKey).  For each declaration:

* if mongoshard accepts it, ``apply`` through the harness (which does what
  mongos does, checks included) must succeed and leave exactly the chunks
  ``initial_chunks`` predicts for 6.0, zones and all;
* if mongoshard refuses it, the same declaration is sent literally, as the
  commands a user would type (zones, index, shardCollection with the count,
  split at every point), through the same harness: the server must refuse it
  too, or the refusal is counted as stricter than the server (a figure the
  closing note reports, with each case; never a wrong answer).

CI runs a bounded number; ``MONGOSHARD_EXAMPLES=300`` runs more, and
``MONGOSHARD_AGREEMENT_REPORT=FILE`` writes the figures.
"""

from __future__ import annotations

import itertools
import json
import os

import pytest
from bson import Int64, MaxKey, MinKey
from harness import HarnessRouter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mongoengine import Document, IntField
from pymongo.errors import OperationFailure

from mongoshard import DeclarationError, ShardSpec, Zone, apply, sharded, spec_for
from mongoshard.routing.splitting import initial_chunks

pytestmark = pytest.mark.mongod

DATABASE = "agree"
FIGURES: dict = {"accepted and matched": 0, "refused by both": 0, "refused by mongoshard only": 0, "stricter": []}
_numbers = itertools.count()

scalars = st.one_of(st.integers(-20, 20), st.sampled_from(["a", "m", "z"]), st.sampled_from([MinKey(), MaxKey()]),
                    st.builds(Int64, st.integers(-2**62, 2**62)))


@st.composite
def declarations(draw: st.DrawFn) -> dict:
    fields = draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3, unique=True))
    hashed = draw(st.none() | st.sampled_from(fields))
    presplit = draw(st.one_of(
        st.none(),
        st.integers(1, 9),
        st.lists(st.dictionaries(st.sampled_from(fields), scalars, min_size=1, max_size=len(fields)), min_size=1, max_size=3),
    ))
    zones = draw(st.lists(st.builds(
        lambda low, high, shards: {"min": low, "max": high, "shards": shards},
        st.dictionaries(st.sampled_from(fields), scalars, min_size=1, max_size=len(fields)),
        st.dictionaries(st.sampled_from(fields), scalars, min_size=1, max_size=len(fields)),
        st.lists(st.sampled_from(["shard0", "shard1"]), min_size=0, max_size=2, unique=True)), max_size=2))
    return {"fields": fields, "hashed": hashed, "unique": draw(st.booleans()), "presplit": presplit, "zones": zones}


@st.composite
def plausible_declarations(draw: st.DrawFn) -> dict:
    """Declarations a user would mean: increasing split points and disjoint zones on the leading field, counts on hashed keys."""
    fields = draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3, unique=True))
    hashed = draw(st.none() | st.sampled_from(fields))
    lead = fields[0]
    cuts = sorted(draw(st.lists(st.integers(-50, 50), min_size=1, max_size=4, unique=True)))
    if lead == hashed:
        cuts = [Int64(value * 2**56) for value in cuts]
    choice = draw(st.sampled_from(["count", "points", "zones", "zones and count", "none"]))
    presplit, zones = None, []
    if choice in ("count", "zones and count"):
        presplit = draw(st.integers(1, 9))
    if choice == "points":
        presplit = [{lead: value} for value in cuts]
    if choice.startswith("zones"):
        pairs = list(zip(cuts[::2], cuts[1::2])) or [(cuts[0], type(cuts[0])(cuts[0] + 1))]
        zones = [{"min": {lead: low}, "max": {lead: high}, "shards": draw(st.lists(st.sampled_from(["shard0", "shard1"]),
                                                                                      min_size=1, max_size=2, unique=True))}
                 for low, high in pairs]
    return {"fields": fields, "hashed": hashed, "unique": draw(st.booleans()) and hashed is None, "presplit": presplit,
            "zones": zones}


def _declare(number: int, declaration: dict) -> ShardSpec:
    """The declaration through the public API: @sharded on a Document (raises DeclarationError when refused)."""
    attributes = {name: IntField() for name in declaration["fields"]}
    attributes["meta"] = {"collection": f"c{number}"}
    document_class = type(f"Agree{number}", (Document,), attributes)
    zones = [Zone(f"z{number}_{i}", zone["min"], zone["max"], tuple(zone["shards"])) for i, zone in enumerate(declaration["zones"])]
    sharded(key=tuple(declaration["fields"]), hashed=declaration["hashed"], unique=declaration["unique"],
            presplit=declaration["presplit"], zones=zones, database=DATABASE)(document_class)
    return spec_for(document_class)


def _send_literally(cluster, number: int, declaration: dict) -> None:
    """The declaration as the commands a user would send through mongos; OperationFailure when the server refuses."""
    router = HarnessRouter(cluster)
    fields = declaration["fields"]
    key = {name: "hashed" if name == declaration["hashed"] else 1 for name in fields}
    namespace = f"{DATABASE}.c{number}"
    full = lambda bound: {name: bound.get(name, MinKey()) for name in fields}  # noqa: E731
    for index, zone in enumerate(declaration["zones"]):
        for shard in zone["shards"]:
            router.command("admin", {"addShardToZone": shard, "zone": f"z{number}_{index}"})
        router.command("admin", {"updateZoneKeyRange": namespace, "min": full(zone["min"]), "max": full(zone["max"]),
                                 "zone": f"z{number}_{index}"})
    router.command(DATABASE, {"createIndexes": f"c{number}", "indexes": [
        {"key": key, "name": f"key{number}", "unique": declaration["unique"]}]})
    command = {"shardCollection": namespace, "key": key, "unique": declaration["unique"]}
    if isinstance(declaration["presplit"], int):
        command["numInitialChunks"] = declaration["presplit"]
        if declaration["zones"]:
            command["presplitHashedZones"] = True
    router.command("admin", command)
    for point in declaration["presplit"] if isinstance(declaration["presplit"], list) else ():
        router.command("admin", {"split": namespace, "middle": full(point)})


def _server_chunks(cluster, namespace: str) -> list[tuple]:
    return [(chunk.min, chunk.max, chunk.shard) for chunk in cluster.routing_table(namespace).chunks]


@settings(max_examples=int(os.environ.get("MONGOSHARD_EXAMPLES", 60)), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(declaration=st.one_of(declarations(), plausible_declarations()))
def test_what_mongoshard_accepts_the_server_applies_as_predicted(cluster, declaration: dict) -> None:
    number = next(_numbers)
    try:
        spec = _declare(number, declaration)
    except DeclarationError as refusal:
        try:
            _send_literally(cluster, number, declaration)
            FIGURES["refused by mongoshard only"] += 1  # stricter than the server: reported, not a wrong answer
            FIGURES["stricter"].append(str(refusal).split(": ", 1)[1])
        except OperationFailure:
            FIGURES["refused by both"] += 1
        _report()
        return
    result = apply([spec], router=HarnessRouter(cluster))  # must not raise: the server takes what mongoshard accepted
    assert [c.outcome for c in result.collections] == ["sharded"], result
    primary = cluster.config_client.config.databases.find_one({"_id": DATABASE})["primary"]
    predicted = initial_chunks(spec.key, cluster.shard_names, primary=primary, initial_chunk_count=spec.initial_chunks,
                               split_points=spec.split_points, zones=spec.zone_ranges())
    assert _server_chunks(cluster, spec.namespace) == [(c.min, c.max, c.shard) for c in predicted], declaration
    FIGURES["accepted and matched"] += 1
    _report()


def _report() -> None:
    path = os.environ.get("MONGOSHARD_AGREEMENT_REPORT")
    if path:
        with open(path, "w") as handle:
            json.dump(FIGURES, handle, indent=1)
