"""hashed_value against published server values and, property-based, against a real mongod."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal

import pytest
from bson import Binary, Code, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mongoshard.routing.hashing import UnhashableValueError, hashed_value

# Published in the server's hasher_test.cpp / hasher.cpp startup test.
PUBLISHED = [
    (42, -944302157085130861),
    ("abc", 8478485326885698097),
    (ObjectId("010203040506070809101112"), -5588663249627035708),
    (True, 6405873908747105701),
    ({"a": "abc", "b": 123}, 4771603801758380216),
]


@pytest.mark.parametrize(("value", "expected"), PUBLISHED)
def test_published_server_values(value: object, expected: int) -> None:
    assert hashed_value(value) == expected


def test_numbers_of_every_type_hash_alike() -> None:
    assert hashed_value(42) == hashed_value(Int64(42)) == hashed_value(42.9) == hashed_value(Decimal128("42"))


def test_arrays_are_rejected() -> None:
    with pytest.raises(UnhashableValueError, match="arrays"):
        hashed_value([1, 2])


def test_integers_beyond_int64_are_rejected() -> None:
    with pytest.raises(UnhashableValueError, match="int64"):
        hashed_value(2**63)


int64s = st.integers(min_value=-(2**63), max_value=2**63 - 1)
doubles = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([2.0**63, -(2.0**63), -0.0, 2.0**53 + 1, 1e300, -1e300])
decimals = st.one_of(
    st.builds(lambda digits, exponent: Decimal128(Decimal(digits).scaleb(exponent)),
              st.integers(-(10**33), 10**33), st.integers(-30, 30)),
    st.sampled_from([Decimal128("NaN"), Decimal128("Infinity"), Decimal128("-Infinity"), Decimal128("2.5"), Decimal128("-3.5"),
                     Decimal128("9223372036854775807.5"), Decimal128("-9223372036854775808.5"), Decimal128("-0")]),
)
texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
dates = st.datetimes(min_value=datetime.datetime(1, 1, 1), max_value=datetime.datetime(9999, 12, 31)).map(
    lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))
binaries = st.builds(Binary, st.binary(max_size=40), st.sampled_from([0, 1, 2, 5, 128])) | st.uuids().map(
    lambda u: Binary.from_uuid(u))
scalars = st.one_of(
    st.integers(min_value=-(2**31), max_value=2**31 - 1), int64s.map(Int64), doubles, decimals, texts,
    st.binary(min_size=12, max_size=12).map(ObjectId), dates, st.booleans(), st.none(), binaries,
    # The server replaces a top-level Timestamp(0, 0) with the current time on insert, so start at 1.
    st.builds(Timestamp, st.integers(1, 2**32 - 1), st.integers(0, 2**32 - 1)),
    st.sampled_from([MinKey(), MaxKey(), Code("function () {}"), Regex("^ab", "i")]),
)
field_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=6)
values = st.recursive(scalars, lambda inner: st.dictionaries(field_names, inner, max_size=4), max_leaves=8)


@pytest.fixture(scope="module")
def oracle(cluster):
    """A collection with a hashed index on a real mongod: its index keys are MongoDB's hashes."""
    collection = cluster.shard_clients["shard0"].hash_oracle.values
    collection.drop()
    collection.create_index([("_id", 1), ("k", "hashed")])
    return collection


def server_hashes(collection, batch: list) -> dict[int, int]:
    collection.delete_many({})
    collection.insert_many([{"_id": i, "k": v} for i, v in enumerate(batch)])
    cursor = collection.find({}, hint=[("_id", 1), ("k", "hashed")], return_key=True)
    return {doc["_id"]: doc["k"] for doc in cursor}


@pytest.mark.mongod
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(batch=st.lists(values, min_size=100, max_size=200))
def test_hashed_value_equals_the_real_server(oracle, batch: list) -> None:
    expected = server_hashes(oracle, batch)
    ours = {i: hashed_value(v) for i, v in enumerate(batch)}
    differences = {i: (batch[i], ours[i], expected[i]) for i in expected if ours[i] != expected[i]}
    assert not differences


@pytest.mark.mongod
def test_edge_values_equal_the_real_server(oracle) -> None:
    batch = [2.0**63, -(2.0**63), float("nan"), float("inf"), -0.0, Decimal128("2.5"), Decimal128("3.5"),
             Decimal128("NaN"), None, {}, {"a": [1, {"b": 2}]}, Code("x", {"y": 1}), "",
             Binary.from_uuid(uuid.UUID(int=7)), datetime.datetime(1969, 12, 31, 23, 59, 59, 999000),
             datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))]
    expected = server_hashes(oracle, batch)
    assert [hashed_value(v) for v in batch] == [expected[i] for i in range(len(batch))]


@pytest.mark.mongod
def test_missing_field_hashes_as_null(oracle) -> None:
    oracle.delete_many({})
    oracle.insert_one({"_id": 1})
    key = next(oracle.find({}, hint=[("_id", 1), ("k", "hashed")], return_key=True))
    assert key["k"] == hashed_value(None)


@pytest.mark.mongod
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(numbers=st.lists(st.one_of(st.integers(-(2**53), 2**53), st.floats(allow_nan=True)), min_size=50, max_size=100),
       milliseconds=st.lists(st.integers(-(2**50), 2**50), min_size=50, max_size=100))
def test_bulk_hashes_of_numbers_and_dates_equal_the_real_server(oracle, numbers: list, milliseconds: list) -> None:
    from bson import DatetimeMS

    from mongoshard.routing.hashing import hashed_dates, hashed_numbers

    expected = server_hashes(oracle, numbers + [DatetimeMS(ms) for ms in milliseconds])
    assert hashed_numbers(numbers) + hashed_dates(milliseconds) == [expected[i] for i in range(len(expected))]
