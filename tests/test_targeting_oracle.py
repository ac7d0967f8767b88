"""Targeting against the real server, on generated filters: it never misses a shard, and its bounds are the router's.

Two oracles, both a real mongod:

* **agreement**: for each filter, key and collation, mongoshard's per-field
  bounds must equal the bounds the server's own IndexBoundsBuilder prints in
  ``explain`` for the same filter with the key's index hinted (the router plans
  with that builder, the shard key as its only index);
* **soundness**: every document the server matches (a collection scan, its own
  matching rules and collation) must live on a shard ``target()`` names, on
  routing tables cut at many type and value boundaries; where it does not, the
  server's own index scan must miss that document too (a server rule, such as
  ``/^ab{0}/`` bounded by "ab") and the targeting must say so in a warning.

Filters cover regexes with every option, anchors, quantifiers, escapes, ``\\Q..\\E``
and alternation; ``$type`` by name and code; NaN, infinities, -0.0 and
Decimal128 NaN; whole embedded documents and dotted paths; arrays at every
position of a path; ``$all``, ``$elemMatch`` (both forms), ``$mod``,
``$exists``, null and missing fields; Code and CodeWScope values (a chunk
starting at ``CodeWScope("", {})``); ``$and``/``$or``/``$nor``/``$not``; and
collations.  ``MONGOSHARD_EXAMPLES`` sets how many filters run.
"""

from __future__ import annotations

import datetime
import os

import pytest
from bson import Code, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pymongo import MongoClient
from pymongo.errors import OperationFailure
from server_bounds import Unreadable, server_bounds

from mongoshard import RoutingTable
from mongoshard.routing.bounds import bounds_for_filter
from mongoshard.routing.filters import FilterError, validate_filter
from mongoshard.routing.ordering import sort_key

pytestmark = pytest.mark.mongod

EXAMPLES = int(os.environ.get("MONGOSHARD_EXAMPLES", 300))
STRINGS = ["", "a", "ab", "abc", "ax", "b", "bar", "Bar", "BAR", "fo", "foo", "fop", "FOO", "Foo", "fOo", "m", "z", "é", "éa", "a\u00e9",
           "É", "€", "x y", "a#b"]
NUMBERS = [-3, 0, 1, 5, 7, 50, 99, 100, 130, 0.5, 41.5, -0.0, float("nan"), float("inf"), float("-inf"), 1e9, Int64(250),
           Decimal128("55.5"), Decimal128("NaN"), Decimal128("-Infinity")]
OTHERS = [None, True, False, ObjectId(b"a" * 12), datetime.datetime(2020, 1, 1), MinKey(), MaxKey(),
          Code(""), Code("f"), Code("", {}), Code("f", {"c": 1})]
SCALARS = [*NUMBERS, *STRINGS, *OTHERS]

scalars = st.sampled_from(SCALARS)
documents = st.builds(lambda v: {"a": v}, scalars) | st.just({})
arrays = st.lists(scalars | documents, max_size=3)

_PIECES = ["a", "b", "o", "f", "é", "€", "A", "x", " ", "#", ".", "?", "*", "+", "{0}", "{1}", "{0,2}", "\\.", "\\d", "\\|", "|",
           "\\Qa|b\\E", "\\Qab", "[ab]", "(a)", "$", ".*"]
_TAILS = ["", "", "?", "*", "{0}", "{0,2}", "{1}", "|bar", "|^b", ".*|ab", "\\|b", "\\Q|\\E", "(a)", "[ab]", "$", ".*", " #c"]
_flags = st.text(alphabet="imsux", max_size=3).map(lambda letters: "".join(sorted(set(letters))))
regexes = st.one_of(
    st.builds(lambda anchor, pieces, flags: Regex(anchor + "".join(pieces), flags),
              st.sampled_from(["^", "^", "\\A", ""]), st.lists(st.sampled_from(_PIECES), max_size=5), _flags),
    # the start of a stored string, its case changed or not, then something that may widen what it matches
    st.builds(lambda anchor, text, cut, case, tail, flags: Regex(anchor + case(text[:cut]) + tail, flags),
              st.sampled_from(["^", "^", "\\A"]), st.sampled_from([s for s in STRINGS if s]), st.integers(1, 3),
              st.sampled_from([str, str.upper, str.lower, str.swapcase]), st.sampled_from(_TAILS), _flags),
)
values = scalars | documents | arrays
type_codes = st.sampled_from(["number", "double", "int", "long", "decimal", "string", "object", "array", "binData", "undefined",
                              "objectId", "bool", "date", "null", "regex", "javascript", "symbol", "timestamp", "minKey",
                              "maxKey", 1, 2, 3, 4, 8, 10, 16, 18, 19, -1, 127])


def _conditions(inner: st.SearchStrategy) -> st.SearchStrategy:
    comparison = st.sampled_from(["$gt", "$gte", "$lt", "$lte"])
    return st.one_of(
        values, regexes,
        st.builds(lambda v: {"$eq": v}, values | regexes),
        st.builds(lambda v: {"$ne": v}, values),
        st.dictionaries(comparison, scalars | documents, min_size=1, max_size=2),
        st.builds(lambda vs: {"$in": vs}, st.lists(values | regexes, max_size=4)),
        st.builds(lambda vs: {"$nin": vs}, st.lists(values, max_size=3)),
        st.builds(lambda op, v: {"$not": {op: v}}, comparison, scalars),
        st.builds(lambda r: {"$not": r}, regexes),
        st.builds(lambda flag: {"$exists": flag}, st.booleans()),
        st.builds(lambda t: {"$type": t}, type_codes | st.lists(type_codes, min_size=1, max_size=3)),
        st.builds(lambda d, r: {"$mod": [d, r]}, st.integers(1, 4), st.integers(0, 3)),
        # $all: [] is $alwaysFalse, which the optimizer folds into whole conjunctions: not generated (nobody writes it).
        st.builds(lambda vs: {"$all": vs}, st.lists(scalars | documents, min_size=1, max_size=3)),
        st.builds(lambda low, high: {"$elemMatch": {"$gte": low, "$lt": high}}, scalars, scalars),
        st.builds(lambda q: {"$elemMatch": q}, inner),
        st.builds(lambda r: {"$regex": r.pattern, "$options": r.flags}, regexes),
        st.builds(lambda n: {"$size": n}, st.integers(0, 2)),
    )


def _leaves(inner: st.SearchStrategy) -> st.SearchStrategy:
    conditions = _conditions(inner)
    return st.one_of(*(st.builds(lambda c, f=field: {f: c}, conditions) for field in ("x", "x", "x.a", "y", "z")))


sub_filters = st.builds(lambda v: {"a": v}, scalars | regexes) | st.builds(lambda v: {"a": {"$gt": v}}, scalars)
leaves = _leaves(sub_filters)
filters = st.recursive(leaves, lambda inner: st.one_of(
    st.builds(lambda xs: {"$or": xs}, st.lists(inner, min_size=1, max_size=3)),
    st.builds(lambda xs: {"$and": xs}, st.lists(inner, min_size=1, max_size=3)),
    st.builds(lambda xs: {"$nor": xs}, st.lists(inner, min_size=1, max_size=2)),
    st.builds(lambda a, b: {**a, **b}, inner, inner),
), max_leaves=4)
collations = st.sampled_from([None, None, {"locale": "simple"}, {"locale": "fr"}, {"locale": "en", "strength": 2}])

KEYS = {"x_1": {"x": 1}, "x.a_1": {"x.a": 1}, "x_hashed": {"x": "hashed"}, "x_1_y_1": {"x": 1, "y": 1}}


def _split_table(key: dict, points: list) -> RoutingTable:
    """Chunks cut at every point, each on a shard of its own: a chunk left out is a shard left out."""
    fields = list(key)
    ordered = sorted({repr(sort_key(p)): p for p in points}.values(), key=sort_key)
    bounds = [MinKey(), *ordered, MaxKey()]
    chunks = [{"min": {f: (low if i == 0 else MinKey()) for i, f in enumerate(fields)},
               "max": {f: (high if i == 0 else MinKey()) for i, f in enumerate(fields)}, "shard": f"s{n}"}
              for n, (low, high) in enumerate(zip(bounds, bounds[1:]))]
    chunks[-1]["max"] = {f: MaxKey() for f in fields}
    return RoutingTable("oracle.docs", key, chunks)


_VALUE_POINTS = [None, float("-inf"), -1, 0, 5.5, 41.5, 100, float("inf"), "B", "F", "", "A", "FOO", "a", "ab", "b", "fo", "fop", "m", "z", "é", {}, {"a": 5},
                 ObjectId(b"a" * 12), False, True, datetime.datetime(2020, 1, 1), Code(""), Code("f"), Code("", {}),
                 Code("f", {"c": 1})]
TABLES = {
    "x_1": _split_table({"x": 1}, _VALUE_POINTS),
    "x.a_1": _split_table({"x.a": 1}, _VALUE_POINTS),
    "x_1_y_1": _split_table({"x": 1, "y": 1}, _VALUE_POINTS),
    "x_hashed": _split_table({"x": "hashed"}, [Int64(n) for n in (-(2**62), -(2**40), 0, 2**40, 2**62)]),
}


@pytest.fixture(scope="module")
def oracle(cluster):
    """A collection of documents of every kind, with the four key indexes (explain read with non-UTF-8 bytes replaced)."""
    port = cluster.topology.shards[0].ports[0]
    client = MongoClient(f"mongodb://127.0.0.1:{port}/?directConnection=true", unicode_decode_error_handler="replace",
                         **cluster.options)
    collection = client.oracle.docs
    collection.drop()
    docs, number = [], 0
    for value in [*SCALARS, *({"a": v} for v in SCALARS), {}, {"b": 1}]:
        for y in (1, "a", None):
            number += 1
            docs.append({"_id": number, "x": value, "y": y, "z": [value, 1] if number % 2 else value})
    docs += [{"_id": -1, "y": 1}, {"_id": -2}]
    collection.insert_many(docs)
    for name, key in KEYS.items():
        collection.create_index(list(key.items()), name=name)
    yield collection
    client.close()


def _valid(query: dict, collation) -> bool:
    try:
        validate_filter(query)
    except FilterError:
        return False
    return True


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(query=filters, collation=collations, index=st.sampled_from(list(KEYS)))
def test_bounds_are_the_servers(oracle, query, collation, index) -> None:
    assume(_valid(query, collation))
    try:
        theirs = server_bounds(oracle, query, index, collation)
    except OperationFailure:
        assume(False)  # a filter the server refuses to run (an invalid regular expression, say)
    except Unreadable:
        assume(False)
    assume(theirs is not None)
    ours = bounds_for_filter(query, list(KEYS[index].items()), collation=collation).fields
    assert [_as_printed(field) for field in ours] == [_as_printed(field) for field in theirs], (query, collation, index)


def _as_printed(intervals: list) -> list:
    """Intervals as the explain text can show them: string bytes that are not UTF-8 read back as U+FFFD."""
    def printed(key: tuple) -> tuple:
        return (15, key[1].decode("utf-8", "replace").encode()) if key[0] == 15 else key
    shown = [(printed(i.low), printed(i.high), i.low_inclusive, i.high_inclusive) for i in intervals]
    # ["\xc3", "\xc4") prints as two U+FFFD: an interval that the reading back makes empty is left out on both sides.
    return sorted(entry for entry in shown if entry[0] != entry[1] or entry[2] and entry[3])


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(query=filters, collation=collations, index=st.sampled_from(list(KEYS)))
def test_every_matching_document_lives_on_a_targeted_shard(oracle, query, collation, index) -> None:
    assume(_valid(query, collation))
    options = {"collation": collation} if collation else {}
    try:
        matched = list(oracle.find(query, **options))
    except OperationFailure:
        assume(False)
    table = TABLES[index]
    targeting = table.target(query, collation)
    missed = [doc for doc in matched if table.shard_for(doc) not in targeting.shards]
    if missed:
        # Only where the server's own bounds drop them too, and the targeting says so.
        scanned = {doc["_id"] for doc in oracle.find(query, **options).hint(index)}
        assert targeting.warnings, (query, collation, index, missed[:3])
        assert not {doc["_id"] for doc in missed} & scanned, (query, collation, index)


def test_mongoengine_startswith_is_never_targeted_on_a_string_key(oracle) -> None:
    """mongoengine compiles startswith into a Python pattern, which pymongo sends as /^fo/u: a real mongod gives it no
    prefix, and neither does mongoshard, so a query the application thinks targeted is broadcast on a string key."""
    from mongoengine import Document, StringField
    from mongoengine.queryset.transform import query as mongoengine_query

    class Named(Document):
        x = StringField()
        meta = {"collection": "docs"}

    query = mongoengine_query(Named, x__startswith="fo")  # what Named.objects(x__startswith="fo") sends
    assert server_bounds(oracle, query, "x_1", None) == bounds_for_filter(query, [("x", 1)]).fields
    assert bounds_for_filter(query, [("x", 1)]).fields[0][0].low == (15, b"")  # every string, not ["fo", "fp")
    assert TABLES["x_1"].target(query).shape == "key-ranges" and len(TABLES["x_1"].target(query).shards) > 10
