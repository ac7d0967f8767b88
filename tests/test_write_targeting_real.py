"""A write mongoshard sends to one shard finds every document it could touch there, on real shards.

The documents are inserted into the collection before it is sharded and then moved by the server's own migrations
(``_configsvrMoveRange``, as the harness does a router's part), so which shard holds which document is the real
server's decision, not mongoshard's.  For generated writes (filters on the key, on part of it, on ``_id``, with ranges,
``$in`` and collations) and every release from 7.0 to 9.0: whenever ``target_write`` sends a write to one shard by its
filter, no other shard holds a document the filter matches (each shard's own mongod counts them, with the write's
collation).  A replacement routed by the replacement document is left out: the server itself may miss there.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mongoshard.routing.writes import SERVER_ERAS, Write, target_write

pytestmark = pytest.mark.mongod

NAMESPACE = "wprop.items"
EXAMPLES = int(os.environ.get("MONGOSHARD_EXAMPLES", 150))
A_VALUES = [-3, 0, 2, 5, 7, 9, 12, "x", "X", "y", None]
B_VALUES = [0, 1, "s", "S"]


@pytest.fixture(scope="module")
def layout(cluster):
    """{a: 1, b: 1} cut at a = 2, 5, 9 and "x", chunks alternating between the two shards, documents moved with them."""
    database, collection = NAMESPACE.split(".")
    primary = cluster.primary_shard(database)[database][collection]
    primary.drop()
    documents = [{"_id": n, "a": a, "b": b} for n, (a, b) in enumerate((a, b) for a in A_VALUES for b in B_VALUES)]
    documents += [{"_id": "missing-a", "b": 1}, {"_id": "missing-both"}]
    primary.insert_many(documents)
    primary.create_index([("a", 1), ("b", 1)])
    cluster.shard_collection(NAMESPACE, {"a": 1, "b": 1})
    for point in (2, 5, 9, "x"):
        cluster.split(NAMESPACE, _bound(point))
    table = cluster.routing_table(NAMESPACE)
    names = cluster.shard_names
    for index, chunk in enumerate(table.chunks):
        if chunk.shard != names[index % 2]:
            cluster.move_range(NAMESPACE, chunk.min, chunk.max, names[index % 2])
    table = cluster.routing_table(NAMESPACE)
    shards = {name: client[database][collection] for name, client in cluster.shard_clients.items()}
    held = sum(shard.count_documents({}) for shard in shards.values())
    assert held == len(documents), "each document on exactly one shard after the migrations"
    assert len(table.shards) == 2
    return table, shards


def _bound(point):
    from bson import MinKey

    return {"a": point, "b": MinKey()}


values_a = st.sampled_from(A_VALUES)
values_b = st.sampled_from(B_VALUES)
ids = st.sampled_from([0, 7, 23, "missing-a", 999])
conditions_a = st.one_of(values_a, st.builds(lambda v: {"$eq": v}, values_a),
                         st.builds(lambda low, high: {"$gte": low, "$lt": high}, st.sampled_from([0, 2, 5]), st.sampled_from([5, 9, 12])),
                         st.builds(lambda v: {"$in": [v]}, values_a), st.builds(lambda v, w: {"$in": [v, w]}, values_a, values_a))
filters = st.one_of(
    st.builds(lambda a: {"a": a}, conditions_a),
    st.builds(lambda a, b: {"a": a, "b": b}, conditions_a, values_b),
    st.builds(lambda i: {"_id": i}, ids),
    st.builds(lambda i, a: {"_id": i, "a": a}, ids, conditions_a),
    st.builds(lambda a, b: {"$and": [{"a": a}, {"b": b}]}, values_a, values_b),
    st.builds(lambda b: {"b": b}, values_b),
)
writes = st.builds(
    lambda operation, query, upsert, multi, collation: Write(
        operation, filter=query, update=None if operation == "delete" else {"$set": {"touched": True}},
        upsert=upsert and operation != "delete", multi=multi and operation != "findAndModify", collation=collation),
    st.sampled_from(["update", "delete", "findAndModify"]), filters, st.booleans(), st.booleans(),
    st.sampled_from([None, None, {"locale": "simple"}, {"locale": "en", "strength": 2}]))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(write=writes)
def test_a_write_sent_to_one_shard_misses_no_document(layout, write: Write) -> None:
    table, shards = layout
    options = {"collation": write.collation} if write.collation else {}
    holding = {name for name, shard in shards.items() if shard.count_documents(write.filter, **options)}
    for version in SERVER_ERAS:
        routed = target_write(table, write, version)
        if routed.outcome == "targeted" and len(routed.shards) == 1 and not routed.notes:
            assert holding <= set(routed.shards), (version, write, routed, holding)
        if routed.outcome == "broadcast":
            assert set(routed.shards) == set(table.shards)
