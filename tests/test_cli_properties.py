"""Random command lines against every command: whatever hypothesis throws, only exit codes 0/1/2/3 and never a traceback.

The arguments are drawn from each command's own options (read from the typer
app), values that are good, bad or random (text, JSON of any shape, numbers),
and files with random bytes.  The environment points every cluster at a port
that refuses at once and every binary at nothing, so no example waits and
none starts a server.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from cli_runner import TRACEBACK, invoke
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ENV = {"MONGOSHARD_URI": "mongodb://u:s3cr3tpw@127.0.0.1:1/?serverSelectionTimeoutMS=20", "MONGOSHARD_MONGOD": "/nonexistent/mongod"}
TINY_SAMPLE = "def docs():\n    for n in range(30):\n        yield {'_id': n, 'a': n % 7, 'b': str(n)}\n"
GOOD_VALUES = ["examples.pokemon_storage.models", "examples.pokemon_storage.models:Creature", "tiny_sample:docs", "game.creatures",
               '{"user_id": 7}', '{"a": 1}', '{"a": "hashed"}', 'game.creatures={"user_id": 1}', "@random.bin", "@random.json",
               "random.bin", "random.json", "random.yaml", "-", "out.json", "out.svg", "2", "0", "-1", "1.5", "nan", ""]


def _options() -> dict[str, list[str]]:
    from typer.main import get_command

    from mongoshard.cli import app

    group = get_command(app)
    return {name: [opt for param in command.params for opt in getattr(param, "opts", []) if opt.startswith("-")]
            for name, command in group.commands.items()}


OPTIONS = _options()
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["a", "$in", "$and", "$gt", "$oid", "x.y", "$regex", "$type"]) | st.text(max_size=4), inner, max_size=3),
    max_leaves=8)
values = st.one_of(st.sampled_from(GOOD_VALUES), st.text(max_size=20), json_values.map(json.dumps))


@st.composite
def command_lines(draw: st.DrawFn) -> list[str]:
    command = draw(st.sampled_from(sorted(OPTIONS)))
    words = [command]
    for _ in range(draw(st.integers(0, 6))):
        if OPTIONS[command] and draw(st.booleans()):
            words.append(draw(st.sampled_from(OPTIONS[command])))
        words.append(draw(values))
    if draw(st.booleans()):
        words.append("--json")
    return words


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("random-cli")
    (root / "tiny_sample.py").write_text(TINY_SAMPLE)
    yield root
    sys.modules.pop("tiny_sample", None)


# CI runs 200; more by hand: MONGOSHARD_EXAMPLES=3000 pytest tests/test_cli_properties.py
@settings(max_examples=int(os.environ.get("MONGOSHARD_EXAMPLES", 200)), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(arguments=command_lines(), content=st.binary(max_size=300), text=json_values.map(json.dumps))
def test_any_command_line_ends_with_a_meaningful_exit_code(project: Path, arguments: list[str], content: bytes, text: str) -> None:
    (project / "random.bin").write_bytes(content)
    (project / "random.json").write_text(text)
    (project / "random.yaml").write_bytes(content)
    outcome = invoke(arguments, cwd=project, env=ENV, stdin=content)
    everything = outcome.stdout + outcome.stderr
    assert outcome.code in (0, 1, 2, 3), (arguments, outcome.code, outcome.stderr[-400:])
    assert TRACEBACK not in everything, arguments
    assert "s3cr3tpw" not in everything, arguments
    if outcome.code == 2:
        assert len(outcome.error_lines) == 1, (arguments, outcome.stderr)
