"""simulate: hot spots, jumbo chunks, and what adding a shard moves, on generated and real data."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from bson import json_util
from commandline import run

from mongoshard.advice.sample import SampleError, load_documents
from mongoshard.advice.simulate import simulate
from mongoshard.files import FileProblem

START = datetime.datetime(2026, 1, 1)


def _readings(count: int = 20_000, sensors: int = 100) -> list[dict]:
    return [{"_id": n, "sensor": f"s{n % sensors:03d}", "ts": START + datetime.timedelta(seconds=n)} for n in range(count)]


def test_a_monotonic_key_sends_recent_inserts_to_one_shard_and_the_fixes_do_not() -> None:
    by_time, hashed, compound = simulate(_readings(), [{"ts": 1}, {"ts": "hashed"}, {"sensor": 1, "ts": 1}], shards=4).candidates
    assert by_time.hot_insert_share == 1.0
    assert hashed.hot_insert_share < 0.35 and compound.hot_insert_share < 0.35
    for candidate in (by_time, hashed, compound):
        assert candidate.largest_share < 0.27 and candidate.jumbo_chunks == 0 and sum(candidate.chunks_per_shard) >= 28


def test_a_celebrity_value_makes_a_jumbo_chunk_and_salting_removes_it() -> None:
    # Half the documents are one author's; 64 buckets make each bucket of theirs smaller than a chunk.
    documents = [{"_id": n, "author": 1 if n % 2 else n, "salt": n % 64} for n in range(20_000)]
    plain, salted = simulate(documents, [{"author": 1}, {"salt": 1, "author": 1}], shards=4).candidates
    assert plain.jumbo_chunks == 1 and plain.largest_share >= 0.5
    assert salted.jumbo_chunks == 0 and salted.largest_share < 0.3


def test_adding_a_shard_moves_a_share_with_ranges_and_almost_everything_with_modulo() -> None:
    documents = [{"_id": n, "user": n} for n in range(30_000)]
    for shards in (2, 3, 5):
        (result,) = simulate(documents, [{"user": "hashed"}], shards=shards).candidates
        assert result.moved_by_chunks == pytest.approx(1 / (shards + 1), abs=0.05)
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
    assert load_documents(uri, collection="sim.readings", limit=200) == _readings(200)


def test_cli_table_json_and_plot(tmp_path: Path) -> None:
    arguments = ["simulate", "examples.sensors.data:readings", "--limit", "20000", "--key", '{"taken_at": 1}',
                 "--key", '{"sensor_id": 1, "taken_at": 1}', "--shards", "3"]
    result = run(*arguments, "--json", "--plot", str(tmp_path / "sim.svg"))
    assert result.returncode == 0, result.stderr
    by_time, compound = json.loads(result.stdout)["candidates"]
    assert by_time["hot_insert_share"] == 1.0 and compound["hot_insert_share"] < 0.4
    assert (tmp_path / "sim.svg").read_text().startswith("<svg")
    table = run(*arguments)
    assert "recent inserts on the busiest shard" in table.stdout and "100%" in table.stdout
