"""simulate's key columns order and group values as a real mongod does, however the values arrive in batches.

The columns read a sample a batch at a time, with a tight loop for a field's one kind of value and ``add`` for
anything else (``FieldColumn.add_all``): a column changes mode mid-batch (None first, then numbers; a second kind,
then generic).  The oracle is the server: its sort order (ties by insertion, as an index orders equal keys by record
id) and its grouping of equal values.
"""

from __future__ import annotations

import datetime

import pytest
from bson import Int64, ObjectId
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mongoshard.advice import simulate as simulation

pytestmark = pytest.mark.mongod

_MISSING = object()
VALUES = st.one_of(
    st.just(_MISSING), st.none(),
    st.integers(-3, 3), st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=True, width=64),
    st.sampled_from([0.0, -0.0, 2.0, 2.5, 2**53 + 1.0, float("nan"), float("-inf")]), st.builds(Int64, st.integers(-5, 5)),
    st.sampled_from(["", "a", "b", "\u00e9", "ab"]), st.text(max_size=3),
    st.datetimes(min_value=datetime.datetime(1960, 1, 1), max_value=datetime.datetime(2040, 1, 1)),
    st.datetimes(min_value=datetime.datetime(1960, 1, 2), max_value=datetime.datetime(2040, 1, 1),
                 timezones=st.just(datetime.timezone(datetime.timedelta(hours=5)))),
    st.sampled_from([ObjectId(b"\x00" * 12), ObjectId(b"\x01" * 12)]), st.booleans(),
    st.fixed_dictionaries({"n": st.integers(0, 2)}),
)
# runs of one kind, as real fields mostly hold, with other kinds breaking in
RUNS = st.lists(st.tuples(VALUES, st.integers(1, 6)), min_size=1, max_size=12)


@example(runs=[(1.0, 2), (float("nan"), 1), (-5.0, 1)], batch=4096)  # NaN orders below every number
@example(runs=[(None, 2), ("b", 1), ("a", 2), (3, 1), ("a", 1)], batch=3)  # mode set mid-batch, then generic
@example(runs=[(datetime.datetime(2020, 1, 1), 1), (datetime.datetime(1969, 12, 31, 23, 59, 59, 999999), 1),
               (datetime.datetime(2020, 1, 1, 4, tzinfo=datetime.timezone(datetime.timedelta(hours=5))), 1)], batch=4096)
@example(runs=[(1, 1), (2**60 + 1, 1), (2**60, 1), (float(2**60), 1)], batch=4096)  # past float64's exact integers
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(runs=RUNS, batch=st.sampled_from([1, 3, 7, 4096]))
def test_ranks_are_the_servers_order_and_equality(cluster, monkeypatch, runs, batch) -> None:
    monkeypatch.setattr(simulation, "BATCH", batch)
    values = [value for value, times in runs for _ in range(times)]
    documents = [{"_id": i} if value is _MISSING else {"_id": i, "f": value} for i, value in enumerate(values)]
    sample = simulation._Sample([{"f": 1}])
    assert sample.read(documents, None) == len(documents)
    ranks = sample.ranks({"f": 1}).ranks
    collection = cluster.shard_clients["shard0"].columns.values
    collection.drop()
    collection.insert_many(documents)
    server_order = [d["_id"] for d in collection.find({}, {"_id": 1}).sort([("f", 1), ("_id", 1)])]
    assert sorted(range(len(values)), key=lambda i: (ranks[i], i)) == server_order
    server_groups = list(collection.aggregate([{"$group": {"_id": "$f"}}]))
    assert len(set(ranks.tolist())) == len(server_groups)
