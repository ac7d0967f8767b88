"""simulate: hot spots, jumbo chunks, and what adding a shard moves, on generated and real data."""

from __future__ import annotations

import datetime
import html
import json
import re
from pathlib import Path

import bson
import pytest
from bson import json_util
from commandline import run

from mongoshard.advice.sample import SampleError, load_documents
from mongoshard.advice.simulate import simulate
from mongoshard.files import FileProblem

START = datetime.datetime(2026, 1, 1)
GB, MB = 1024**3, 1024**2
CHUNK = 128 * MB  # the server's default chunk size
THRESHOLD = 3 * CHUNK  # _singleZoneBalanceBasedOnDataSize: a donor gives only while 3 x chunk size ahead


def _readings(count: int = 20_000, sensors: int = 100) -> list[dict]:
    return [{"_id": n, "sensor": f"s{n % sensors:03d}", "ts": START + datetime.timedelta(seconds=n)} for n in range(count)]


def test_a_monotonic_key_sends_recent_inserts_to_one_shard_and_the_fixes_do_not() -> None:
    by_time, hashed, compound = simulate(_readings(), [{"ts": 1}, {"ts": "hashed"}, {"sensor": 1, "ts": 1}], shards=4,
                                         data_bytes=10 * GB).candidates
    assert by_time.hot_insert_share == 1.0
    assert hashed.hot_insert_share < 0.35 and compound.hot_insert_share < 0.35
    for candidate in (by_time, hashed, compound):
        assert max(candidate.bytes_per_shard) - min(candidate.bytes_per_shard) < THRESHOLD
        assert candidate.jumbo_chunks == 0 and candidate.rounds > 0


def test_a_celebrity_value_makes_a_jumbo_chunk_and_salting_removes_it() -> None:
    # Half the documents are one author's; 64 buckets make each bucket of theirs smaller than a chunk.
    documents = [{"_id": n, "author": 1 if n % 2 else n, "salt": n % 64} for n in range(20_000)]
    # At 10 GB the celebrity holds 5 GB, far over the 2 x chunk size a migration takes; a bucket of it about 80 MB.
    plain, salted = simulate(documents, [{"author": 1}, {"salt": 1, "author": 1}], shards=4, data_bytes=10 * GB).candidates
    assert plain.jumbo_chunks == 1 and plain.largest_share >= 0.5
    assert salted.jumbo_chunks == 0 and max(salted.bytes_per_shard) - min(salted.bytes_per_shard) < THRESHOLD


def test_adding_a_shard_moves_a_share_with_ranges_and_almost_everything_with_modulo() -> None:
    documents = [{"_id": n, "user": n} for n in range(30_000)]
    for shards in (2, 3, 5):
        (result,) = simulate(documents, [{"user": "hashed"}], shards=shards, data_bytes=10 * GB).candidates
        # the new shard takes its share, give or take the 3 x chunk size the balancer leaves
        assert result.moved_by_chunks == pytest.approx(1 / (shards + 1), abs=THRESHOLD / (10 * GB))
        assert result.moved_by_modulo == pytest.approx(shards / (shards + 1), abs=0.03)


def test_query_shares_under_each_key() -> None:
    records = [{"namespace": "x.y", "shape": {"sensor": "?str", "ts": {"$gte": "?date"}}}] * 3 + [{"namespace": "x.y", "shape": {"ts": "?date"}}]
    compound, by_time = simulate(_readings(1000), [{"sensor": 1, "ts": 1}, {"ts": "hashed"}], shards=2, audit_records=records).candidates
    assert compound.queries["multi-shard"] == pytest.approx(0.75) and compound.queries["scatter-gather"] == pytest.approx(0.25)
    assert by_time.queries["scatter-gather"] == pytest.approx(0.75) and by_time.queries["single-shard"] == pytest.approx(0.25)


def test_sources_file_generator_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "sample.jsonl"
    path.write_text("".join(json_util.dumps(d) + "\n" for d in _readings(50)))
    assert load_documents(str(path)) == _readings(50)
    assert len(load_documents("examples.sensors.data:readings", limit=123)) == 123
    with pytest.raises(FileProblem, match="the sample no-such-file.jsonl does not exist"):
        load_documents("no-such-file.jsonl")
    with pytest.raises(SampleError, match="neither a file"):
        load_documents("no-such-file")
    with pytest.raises(SampleError, match="needs --collection"):
        load_documents("mongodb://127.0.0.1:1/")


@pytest.mark.mongod
def test_sample_from_a_real_collection(cluster) -> None:
    shard = cluster.shard_clients[cluster.shard_names[0]]
    shard.sim.readings.insert_many(_readings(500))
    uri = f"mongodb://127.0.0.1:{cluster.topology.shards[0].ports[0]}/?directConnection=true"
    first, second = (load_documents(uri, collection="sim.readings", limit=200) for _ in range(2))
    for sample in (first, second):  # a random sample, as analyzeShardKey takes it, in insertion order
        ids = [d["_id"] for d in sample]
        assert 150 <= len(sample) <= 200 and ids == sorted(ids) and all(d in _readings(500) for d in sample)
    assert first != second and max(d["_id"] for d in first) > 300  # not the first 200
    assert load_documents(uri, collection="sim.readings") == _readings(500)  # no limit: all of it, in order


@pytest.mark.mongod
def test_a_collection_with_dates_past_9999_and_strings_not_utf8_is_sampled(cluster) -> None:
    """Issue 18: such values, which MongoDB stores, made simulate --collection exit 70 (InvalidBSON)."""
    import bson
    from bson.codec_options import CodecOptions, DatetimeConversion
    from bson.datetime_ms import DatetimeMS
    from bson.raw_bson import RawBSONDocument

    shard = cluster.shard_clients[cluster.shard_names[0]]
    odd = shard.sim.get_collection("odd", codec_options=CodecOptions(datetime_conversion=DatetimeConversion.DATETIME_MS))
    odd.drop()
    odd.insert_many([{"_id": 1, "k": 1, "d": DatetimeMS(2**62)}, {"_id": 2, "k": 2, "d": DatetimeMS(-(2**61))}])
    odd.insert_one(RawBSONDocument(bson.encode({"_id": 3, "k": 3, "s": "xxxx"}).replace(b"xxxx", b"\xff\xfe\x80x")))
    uri = f"mongodb://127.0.0.1:{cluster.topology.shards[0].ports[0]}/?directConnection=true"
    result = run("simulate", "--uri", uri, "--collection", "sim.odd", "--key", '{"k": 1}', "--key", '{"d": 1}', "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["documents"] == 3


def test_cli_table_json_and_plot(tmp_path: Path) -> None:
    arguments = ["simulate", "examples.sensors.data:readings", "--limit", "20000", "--key", '{"taken_at": 1}',
                 "--key", '{"sensor_id": 1, "taken_at": 1}', "--shards", "3", "--data-size", "10GB"]
    result = run(*arguments, "--json", "--plot", str(tmp_path / "sim.svg"))
    assert result.returncode == 0, result.stderr
    by_time, compound = json.loads(result.stdout)["candidates"]
    assert by_time["hot_insert_share"] == 1.0 and compound["hot_insert_share"] < 0.4
    assert (tmp_path / "sim.svg").read_text().startswith("<svg")
    table = run(*arguments)
    assert "recent inserts on the busiest shard" in table.stdout and "100%" in table.stdout


# The figures analyzeShardKey reports, against samples small enough to compute by hand.


def test_cardinality_and_most_common_values() -> None:
    values = ["a"] * 5 + ["b"] * 3 + ["c", "d"]
    (result,) = simulate([{"_id": n, "k": v} for n, v in enumerate(values)], [{"k": 1}], shards=2).candidates
    assert result.cardinality == 4
    assert result.most_common == (({"k": "a"}, 5), ({"k": "b"}, 3), ({"k": "c"}, 1), ({"k": "d"}, 1))
    (hashed,) = simulate([{"_id": n, "k": v} for n, v in enumerate(values)], [{"k": "hashed"}], shards=2).candidates
    assert hashed.cardinality == 4 and hashed.most_common[:2] == (({"k": "a"}, 5), ({"k": "b"}, 3))  # by value, not hash


def test_values_equal_on_the_server_are_one_value() -> None:
    # BSON dates are milliseconds; 1 and 1.0 are one number; a missing field and null are both null.
    same_millisecond = [START + datetime.timedelta(microseconds=us) for us in (100, 900)]
    documents = [{"k": same_millisecond[0]}, {"k": same_millisecond[1]}, {"k": 1}, {"k": 1.0}, {"k": None}, {}]
    (result,) = simulate(documents, [{"k": 1}], shards=1).candidates
    assert result.cardinality == 3


@pytest.mark.parametrize("keys, monotonicity, correlation", [
    ([1, 2, 3, 4, 5, 6], "monotonic", 1.0),
    ([6, 5, 4, 3, 2, 1], "monotonic", -1.0),  # decreasing counts as monotonic, as the server's |r| >= 0.7
    ([3, 1, 2], "not monotonic", -0.5),  # key order gives insertion order [1, 2, 0]: r = -1 / 2
    ([1, 1, 2, 2], "monotonic", 1.0),  # equal keys in insertion order, as an index orders them by record id
    ([7, 7, 7], "not monotonic", 0.0),  # one value: the server's special case
])
def test_monotonicity_is_the_correlation_of_key_order_and_insertion_order(keys, monotonicity, correlation) -> None:
    (result,) = simulate([{"_id": n, "k": k} for n, k in enumerate(keys)], [{"k": 1}], shards=2).candidates
    assert (result.monotonicity, result.correlation) == (monotonicity, pytest.approx(correlation))


def test_a_hashed_key_is_not_monotonic_and_a_later_hashed_field_unknown() -> None:
    documents = [{"_id": n, "a": n, "b": n} for n in range(100)]
    first, later = simulate(documents, [{"a": "hashed"}, {"a": 1, "b": "hashed"}], shards=2).candidates
    assert (first.monotonicity, first.correlation) == ("not monotonic", 0.0)
    assert (later.monotonicity, later.correlation) == ("unknown", None)


def test_a_value_bigger_than_a_chunk_is_one_jumbo_chunk_and_the_verdict_says_so() -> None:
    documents = [{"_id": n, "k": 1 if n < 60 else n} for n in range(100)]  # 60 documents of one value
    size = len(bson.encode(documents[0]))
    (result,) = simulate(documents, [{"k": 1}], shards=2, chunk_bytes=10 * size).candidates
    assert result.jumbo_chunks == 1 and result.cardinality == 41
    assert result.verdict.startswith("avoid: 1 value(s) bigger than a chunk make jumbo chunks")


def test_recent_inserts_per_shard() -> None:
    by_time, hashed = simulate(_readings(3000), [{"ts": 1}, {"ts": "hashed"}], shards=3, data_bytes=10 * GB).candidates
    # migrations take the donor's lowest chunk, so the MaxKey chunk, where new times land, stays on the primary shard
    assert by_time.recent_inserts_per_shard == (1.0, 0.0, 0.0)
    assert all(0.2 < share < 0.5 for share in hashed.recent_inserts_per_shard)
    assert by_time.verdict == "avoid for insert-heavy data: 100% of recent inserts land on one shard (monotonic, r = 1.00)"
    assert re.match(r"good: the largest shard holds 3[3-7]% \(even share 33%\)", hashed.verdict)  # within 3 x chunk size


def test_a_few_values_cannot_balance() -> None:
    documents = [{"_id": n, "status": n % 3} for n in range(3000)]
    (result,) = simulate(documents, [{"status": 1}], shards=3, chunk_bytes=10**9, server_version=(6, 0)).candidates
    assert result.cardinality == 3 and result.verdict.startswith("avoid: 3 distinct values cannot make enough chunks")
    assert result.rounds is None  # the pre-7.0 model: no balancer rounds
    (result,) = simulate(documents, [{"status": 1}], shards=4, data_bytes=600 * MB).candidates  # 200 MB a value
    assert result.jumbo_chunks == 0 and result.verdict.startswith("avoid: 3 distinct values cannot")


# 7.0+ semantics (issue 19): no autosplitter; the 8.0 balancer grows the layout.


def _monotonic(count: int, size: int = 480) -> list[dict]:
    return [{"_id": n, "ts": START + datetime.timedelta(seconds=n), "pad": "x" * size} for n in range(count)]


def test_a_small_monotonic_collection_stays_one_chunk_on_the_primary_shard() -> None:
    """shardCollection of a populated collection makes one chunk on the primary shard (SingleChunkOnPrimarySplitPolicy)
    and, with no autosplitter, 4.6 MB never reaches the 3 x 128 MB the balancer waits for: nothing moves."""
    documents = _monotonic(9_000)
    assert 4.4 * MB < sum(len(bson.encode(d)) for d in documents) < 4.8 * MB
    (result,) = simulate(documents, [{"ts": 1}], shards=2).candidates
    assert result.chunks_per_shard == (1, 0) and result.rounds == 0 and result.moved_bytes == 0
    assert result.verdict.startswith("no movement yet: 4.")


def test_ten_gigabytes_grow_into_the_80_layout() -> None:
    """10 GB on 2 shards: each round moves one piece of about 128 MB (cut below the chunk size, at a key value) from
    shard0's lowest chunk to shard1, until shard0 is less than 384 MB ahead: (10240 - 384) / 256 = 38.5, so 39 rounds,
    or 40 when the pieces' shortfall adds up; the pieces are contiguous, so the AutoMerger leaves one chunk each."""
    (result,) = simulate(_monotonic(100_000), [{"ts": 1}], shards=2, data_bytes=10 * GB).candidates
    assert 39 <= result.rounds <= 40
    shard0, shard1 = result.bytes_per_shard
    assert 0 < shard0 - shard1 < THRESHOLD and shard0 - shard1 + 2 * CHUNK >= THRESHOLD  # the last move was needed
    assert result.chunks_per_shard == (1, 1) and result.moved_bytes == pytest.approx(shard1, abs=1)
    assert result.recent_inserts_per_shard == (1.0, 0.0)  # the MaxKey chunk stays on the primary shard
    report = simulate(_monotonic(1000), [{"ts": 1}], shards=2, data_bytes=10 * GB)
    assert report.chunk_bytes == CHUNK and report.data_bytes == 10 * GB and report.model.startswith("8.0: one chunk")


def test_a_490_kb_tenant_is_never_jumbo() -> None:
    """Jumbo is one key value over 2 x chunk size; the pre-7.0 model's small default chunk made a 490 KB tenant one."""
    # one tenant of about 490 KB among 5,000 small ones: over the old model's chunk of 1/16 of a 3 MB sample
    documents = [{"_id": n, "tenant": 0 if n < 1000 else n, "pad": "x" * 460} for n in range(6000)]
    assert 480_000 < sum(len(bson.encode(d)) for d in documents[:1000]) < 500_000
    (result,) = simulate(documents, [{"tenant": 1}], shards=2).candidates
    assert result.jumbo_chunks == 0
    (old,) = simulate(documents, [{"tenant": 1}], shards=2, server_version=(6, 0)).candidates
    assert old.jumbo_chunks > 0  # what the old model said


def test_the_chunk_size_sets_the_threshold() -> None:
    documents = _monotonic(20_000)
    (small,) = simulate(documents, [{"ts": 1}], shards=2, data_bytes=GB, chunk_bytes=64 * MB).candidates
    (large,) = simulate(documents, [{"ts": 1}], shards=2, data_bytes=GB, chunk_bytes=512 * MB).candidates
    assert small.rounds > 0 and max(small.bytes_per_shard) - min(small.bytes_per_shard) < 3 * 64 * MB
    assert large.rounds == 0  # 1 GB is less than 3 x 512 MB ahead of an empty shard


def test_simulate_cli_takes_sizes_and_the_version(tmp_path: Path) -> None:
    path = tmp_path / "sample.jsonl"
    path.write_text("".join(json_util.dumps(d) + "\n" for d in _monotonic(2000)))
    result = run("simulate", str(path), "--key", '{"ts": 1}', "--data-size", "10GB", "--chunk-size", "128MB", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["data_bytes"] == 10 * GB and document["chunk_bytes"] == CHUNK
    assert 39 <= document["candidates"][0]["rounds"] <= 40
    old = run("simulate", str(path), "--key", '{"ts": 1}', "--server-version", "6.0", "--json")
    assert json.loads(old.stdout)["model"].startswith("pre-7.0")
    for option, value in (("--data-size", "ten"), ("--data-size", "-1GB"), ("--data-size", "1" + "0" * 400)):
        bad = run("simulate", str(path), "--key", '{"ts": 1}', option, value)
        assert bad.returncode == 2 and bad.stderr.startswith(f"mongoshard: {option} must be a size such as 10GB")
    # configureCollectionBalancing and the chunksize setting take 1 to 1024 MB
    for value in ("0", "512KB", "2GB"):
        bad = run("simulate", str(path), "--key", '{"ts": 1}', "--chunk-size", value)
        assert bad.returncode == 2 and bad.stderr == f"mongoshard: --chunk-size {value} is outside 1.0 MiB to 1.0 GiB\n"
    old_model = run("simulate", str(path), "--key", '{"ts": 1}', "--server-version", "6.0", "--data-size", "1GB")
    assert old_model.returncode == 2 and "--data-size is for the 7.0+ model" in old_model.stderr


def test_an_array_in_a_key_field_is_refused_as_the_server_refuses_it() -> None:
    with pytest.raises(SampleError, match="sample document 2 holds an array on the key path 'k'"):
        simulate([{"k": 1}, {"k": [1, 2]}], [{"k": 1}])
    with pytest.raises(SampleError, match="sample document 1 holds an array on the key path 'a.b'"):
        simulate([{"a": [{"b": 1}]}], [{"a.b": 1}])


def test_the_sample_is_read_once_however_many_keys() -> None:
    reads = []

    def sample():
        for document in _readings(1000):
            reads.append(1)
            yield document

    simulate(sample(), [{"ts": 1}, {"ts": "hashed"}, {"sensor": 1, "ts": 1}], shards=2)
    assert len(reads) == 1000


def test_the_plot_says_what_it_shows(tmp_path: Path) -> None:
    from mongoshard.advice.simulation_plot import svg

    report = simulate(_readings(3000), [{"ts": 1}, {"sensor": 1, "ts": 1}], shards=3, data_bytes=10 * GB)
    drawing = svg(report)
    assert "3,000 sampled documents over 3 shards" in drawing and report.taken in drawing
    for legend in ("data on the shard (share of the sample)", "the most recent tenth of the inserts", "even share (33%)"):
        assert legend in drawing
    assert drawing.count("stroke-dasharray='5,3'><title>even share</title>") == 2  # one even-share line per key
    assert "verdict: avoid for insert-heavy data" in drawing and "monotonic (r = 1.00)" in drawing
    assert "<title>recent inserts: 100%</title>" in drawing
    width = int(re.search(r"<svg[^>]* width='(\d+)'", drawing).group(1))
    longest = max(len(html.unescape(text)) for text in re.findall(r"<text[^>]*>([^<]*)</text>", drawing))
    assert width >= longest * 7 + 10  # no label cut off at 12px sans-serif


def test_the_png_plot(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from mongoshard.advice.simulation_plot import write_simulation_plot

    report = simulate(_readings(3000), [{"ts": 1}, {"ts": "hashed"}], shards=3, data_bytes=10 * GB)
    path = write_simulation_plot(report, tmp_path / "sim.png")
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and b"generator: mongoshard" in data
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > 1000 and height > 500


def test_json_stays_strict_json_with_nan_key_values(tmp_path: Path) -> None:
    path = tmp_path / "nan.jsonl"
    path.write_text('{"k": {"$numberDouble": "NaN"}}\n{"k": {"$numberDouble": "NaN"}}\n{"k": {"$date": "2026-01-01T00:00:00Z"}}\n')
    result = run("simulate", str(path), "--key", '{"k": 1}', "--json")
    refuse = lambda constant: (_ for _ in ()).throw(ValueError(constant))  # noqa: E731
    document = json.loads(result.stdout, parse_constant=refuse)
    assert document["candidates"][0]["most_common"] == [[{"k": {"$numberDouble": "NaN"}}, 2], [{"k": {"$date": "2026-01-01T00:00:00Z"}}, 1]]


@pytest.mark.parametrize("call, says", [
    (lambda d: simulate(d, "k"), "a list of candidate keys"),
    (lambda d: simulate(d, [{}]), "names no field"),
    (lambda d: simulate(d, [{"k": -1}]), 'must be 1 or "hashed", not -1'),
    (lambda d: simulate(d, [{"k": "hashed", "j": "hashed"}]), "only one field of a shard key can be hashed"),
    (lambda d: simulate(d, [{"$k": 1}]), "cannot be a shard key field"),
    (lambda d: simulate(None, [{"k": 1}]), "an iterable of dicts"),
    (lambda d: simulate(d, [{"k": 1}], audit_records=[{"x": 1}]), "each with its 'shape'"),
    (lambda d: simulate(d, [{"k": 1}], shards=10**6), "shards from 1 to 1024"),
    (lambda d: simulate(d, [{"k": 1}], data_bytes=10**30), "data_bytes must be a whole number of bytes"),
])
def test_simulate_misuse_from_python_is_one_sentence(call, says: str) -> None:
    """Issue 18/19 (fourth attacker): raw ValueError/TypeError/KeyError, or a report on a key the server refuses."""
    with pytest.raises(SampleError, match=says):
        call([{"_id": n, "k": n} for n in range(10)])
