"""The README's example outputs are what the commands print today."""

from __future__ import annotations

import re
import shlex

import pytest
from commandline import ROOT, run

README = (ROOT / "README.md").read_text() + "\n" + (ROOT / "examples" / "shop" / "README.md").read_text()
# A "$ mongoshard ..." line (continued with backslashes) inside a ``` block, then its output up to the next "$" or fence.
EXAMPLE = re.compile(r"^\$ mongoshard ((?:.*\\\n)*.*)\n((?:(?!\$ |```).*\n)*)", re.M)


def _examples() -> list[tuple[str, str]]:
    return [(command.replace("\\\n", " "), output) for command, output in EXAMPLE.findall(README)]


def test_the_readme_has_examples() -> None:
    assert len(_examples()) >= 4


@pytest.mark.parametrize("command, output", _examples(), ids=lambda value: value[:60] if isinstance(value, str) else "")
def test_example_output_is_current(command: str, output: str) -> None:
    arguments = shlex.split(command.split("#", 1)[0])
    result = run(*arguments)
    printed = [line.rstrip() for line in result.stdout.splitlines()]
    shown = [line.rstrip() for line in output.strip("\n").splitlines()]
    assert [line for line in printed if line] == [line for line in shown if line]


# Every Python snippet of the README runs, in order, in one namespace, on the real servers ---------------------------
SNIPPETS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


@pytest.mark.mongod
def test_every_python_snippet_runs(cluster, tmp_path, monkeypatch) -> None:
    """The snippets name what an application has: ``client`` (here the config server, which is what the routing table,
    balance and explain read; a router's own commands go through the harness, which does a router's part) and
    ``run_my_application`` (here one query through mongoengine); documents are saved to a shard's mongod."""
    import mongoengine
    from harness import HarnessRouter

    import mongoshard

    monkeypatch.chdir(tmp_path)
    router = HarnessRouter(cluster)
    mongoshard.apply(mongoshard.discover("examples.pokemon_storage.models"), router=router)
    mongoengine.connect("game", alias="default", host=cluster.config_uri, **cluster.options)
    try:
        def run_my_application() -> None:  # an application connects at start-up, after capture() began
            mongoengine.disconnect("default")
            mongoengine.connect("game", alias="default", host=cluster.config_uri, **cluster.options)
            list(namespace["Creature"].objects(user_id=7))

        namespace = {"client": cluster.config_client, "run_my_application": run_my_application}
        assert len(SNIPPETS) >= 8
        for number, snippet in enumerate(SNIPPETS):
            # apply() is given a client connected to a mongos, which cannot run here: the harness stands in for it
            code = snippet.replace("mongoshard.apply(mongoshard.discover(\"examples.pokemon_storage.models\"), client)",
                                   "mongoshard.apply(mongoshard.discover(\"examples.pokemon_storage.models\"), router=router)")
            namespace["router"] = router
            if ".save()" in code:  # a document written: to a shard's mongod, where data lives (never the config server)
                mongoengine.disconnect("default")
                mongoengine.connect("game", alias="default", host=f"mongodb://127.0.0.1:{cluster.topology.shards[0].ports[0]}/"
                                    "?directConnection=true", **cluster.options)
            try:
                exec(compile(code, f"README snippet {number + 1}", "exec"), namespace)
            except Exception as exc:
                raise AssertionError(f"README snippet {number + 1} failed: {exc!r}\n{snippet}") from exc
        assert (tmp_path / "queries.jsonl").exists()
        assert namespace["post"].salt in range(16)
        assert namespace["report"].predicted.kind == "single-shard"
    finally:
        mongoengine.disconnect("default")
        mongoengine.connection._connection_settings.pop("default", None)
