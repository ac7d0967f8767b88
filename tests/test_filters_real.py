"""The filter check agrees with the real mongod: it refuses exactly the filters the server refuses to parse.

Hypothesis builds filters from MongoDB's query operators with operands of
every type, well-formed and not; the real server (a shard of the test
cluster) runs each one as a ``find``.  Whatever the server refuses,
``validate_filter`` must refuse, and nothing else; and for every filter both
accept, targeting must answer without an exception.

Left out, because accepting them depends on more than their shape: ``$text``
(needs a text index), ``$expr`` and ``$jsonSchema`` (aggregation and schema
languages mongoshard does not parse), ``$where`` (JavaScript), geo operators
(need a geo index), and invalid regular expressions (PCRE compiles them).
"""

from __future__ import annotations

import math
import os

import pytest
from bson import Decimal128, Int64, MaxKey, MinKey, Regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymongo.errors import OperationFailure

from mongoshard.routing.filters import FilterError, validate_filter
from mongoshard.routing.table import RoutingTable

pytestmark = pytest.mark.mongod

FIELD_OPERATORS = ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$type", "$mod", "$regex", "$options",
                   "$not", "$all", "$elemMatch", "$size", "$bitsAllSet", "$bitsAnyClear", "$foo", "$and", "$where", "$comment"]
TOP_OPERATORS = ["$and", "$or", "$nor", "$comment", "$foo", "$sampleRate", "$alwaysTrue"]

scalars = st.one_of(
    st.integers(-5, 25), st.sampled_from([0.5, 2.0, -1.0, 1.5, math.nan, math.inf, 2**40]), st.booleans(), st.none(),
    st.sampled_from(["a", "", "string", "number", "int", "double", "integer", "i", "mx", "^ab", "imsux", "l", "ix "]),
    st.sampled_from([Int64(2), Decimal128("2"), Decimal128("2.5"), Decimal128("NaN"), MinKey(), MaxKey()]),
    st.sampled_from([Regex("^a"), Regex("b", "i"), Regex("c", "l"), Regex("d", "mx")]),
    st.sampled_from([2**31 - 1, 2**31, 2**63 - 1]),
)


def operand(depth: int) -> st.SearchStrategy:
    if depth <= 0:
        return scalars
    return st.one_of(
        scalars,
        st.lists(scalars | st.dictionaries(st.sampled_from(["a", "$gt", "$elemMatch"]), scalars, max_size=1), max_size=3),
        st.builds(dict, st.lists(st.tuples(st.sampled_from(FIELD_OPERATORS + ["a", "b"]), st.deferred(lambda: operand(depth - 1))),
                                 max_size=2)),
    )


conditions = st.one_of(scalars, st.builds(dict, st.lists(st.tuples(st.sampled_from(FIELD_OPERATORS), operand(2)), min_size=1, max_size=2)))
leaf = st.builds(lambda name, condition: {name: condition}, st.sampled_from(["x", "y", "a.b"]), conditions)
filters = st.recursive(
    leaf,
    lambda inner: st.one_of(
        st.builds(lambda op, branches: {op: branches}, st.sampled_from(["$and", "$or", "$nor"]), st.lists(inner | scalars, max_size=3)),
        st.builds(lambda op, value: {op: value}, st.sampled_from(TOP_OPERATORS), scalars | inner),
        st.builds(lambda a, b: {**a, **b}, inner, inner),
    ),
    max_leaves=6,
)


@pytest.fixture(scope="module")
def collection(cluster):
    target = cluster.shard_clients[cluster.shard_names[0]].filters_oracle.docs
    target.drop()
    target.insert_many([{"x": 1, "y": "string", "a": {"b": [1, 2]}}, {"x": [1, 2, 3], "y": None}])
    return target


TABLE = RoutingTable("filters_oracle.docs", {"x": 1}, [
    {"min": {"x": MinKey()}, "max": {"x": 0}, "shard": "s0"},
    {"min": {"x": 0}, "max": {"x": "m"}, "shard": "s1"},
    {"min": {"x": "m"}, "max": {"x": MaxKey()}, "shard": "s2"},
])


# CI runs 400; more by hand: MONGOSHARD_EXAMPLES=5000 pytest tests/test_filters_real.py
@settings(max_examples=int(os.environ.get("MONGOSHARD_EXAMPLES", 400)), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(query=filters)
def test_validation_refuses_exactly_what_the_server_refuses(collection, query) -> None:
    try:
        list(collection.find(query))
        server = None
    except OperationFailure as exc:
        server = exc.details.get("errmsg", str(exc)) if exc.details else str(exc)
    try:
        validate_filter(query)
        ours = None
    except FilterError as exc:
        ours = str(exc)
    assert (server is None) == (ours is None), (query, "server:", server, "mongoshard:", ours)
    if ours is None:
        TABLE.target(query)  # every filter the server parses can be targeted
