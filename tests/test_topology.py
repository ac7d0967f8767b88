"""The topology file: defaults, port layout, and one clear sentence per bad setting."""

from __future__ import annotations

import pytest

from mongoshard.deploy.topology import Topology, TopologyError, load_topology, parse_topology


def test_defaults_are_a_small_development_cluster(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # no mongoshard.yaml here: the defaults
    topology = load_topology()
    assert topology == Topology() and topology.state_dir == tmp_path.resolve() / ".mongoshard"
    assert topology.router_ports == (27017,)
    assert topology.config_server.ports == (27018,) and topology.config_server.role == "configsvr"
    assert [s.ports for s in topology.shards] == [(27019,), (27020,)]
    assert topology.auth


def test_ports_never_overlap() -> None:
    topology = parse_topology({"shards": 3, "shard_members": 3, "config_members": 3, "routers": 2, "base_port": 30000})
    assert len(set(topology.all_ports)) == len(topology.all_ports) == 2 + 3 + 9
    assert topology.shards[2].ports == (30011, 30012, 30013)


def test_version_written_as_a_number_is_kept_as_text() -> None:
    assert parse_topology({"version": 7.0}).version == "7.0"


def test_even_replica_sets_warn() -> None:
    assert "even-sized" in parse_topology({"shard_members": 2}).warnings[0]
    assert parse_topology({"shard_members": 3}).warnings == ()


@pytest.mark.parametrize(("document", "message"), [
    ({"shard": 2}, "unknown setting(s) shard; known settings are"),
    ({"shards": 0}, "'shards' must be at least 1 unless 'config_shard' is true"),
    ({"shards": 5000}, "'shards' must be at most 1024, not 5000"),
    ({"data_dir": "a\nb"}, "must not hold control characters"),
    ({"version": "latest"}, "'version' must be a MongoDB version such as '8.0'"),
    ({"version": "08.00"}, "'version' must be a MongoDB version such as '8.0'"),  # issue 18: no such image tag
    ({"version": "99999999999999999999.0"}, "'version' must be a MongoDB version such as '8.0'"),
    ({"config_shard": True, "version": "7.0"}, "'config_shard' needs MongoDB 8.0 or later"),
    ({"shards": "two"}, "'shards' must be a whole number, not 'two'"),
    ({"name": "My Cluster"}, "'name' must be lowercase letters, digits, '-' or '_' (a compose project name), not 'My Cluster'"),
    ({"auth": "yes"}, "'auth' must be true or false"),
    ({"routers": True}, "'routers' must be a whole number"),
    ({"base_port": 65530, "shards": 8}, "ports run past 65535"),
    (["shards"], "must be a mapping of settings"),
])
def test_bad_settings_are_one_sentence(document, message: str) -> None:
    with pytest.raises(TopologyError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_topology(document)


def test_invalid_yaml_names_the_line(tmp_path) -> None:
    path = tmp_path / "mongoshard.yaml"
    path.write_text("name: dev\nshards: [2\n")
    with pytest.raises(TopologyError, match="is not valid YAML at line"):
        load_topology(path)
