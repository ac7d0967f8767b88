"""Routing throughput and CLI cold start, measured side by side in one run.

* shard_for on a hashed key over 1M documents, against the floor of the same
  work done bare (BSON-encode the value, MD5 it with the fastest MD5 this
  Python has, the one ``routing.hashing`` uses) in a tight loop.  Goal: at
  least 0.8 of the floor's throughput.
* Cold start of ``mongoshard --help`` against a bare typer app of the same
  shape (the same commands and groups, as many options each, the same help
  texts, nothing behind them), runs interleaved, medians compared.  Goal: at
  most 1.1 times the bare app.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bson

from mongoshard import PredictedSource, ShardSpec
from mongoshard.routing.hashing import md5

QUICK = "--quick" in sys.argv  # the small size .ci/run runs: the work checked, the timings only printed
DOCUMENTS = 20_000 if QUICK else 1_000_000
STARTS = 5 if QUICK else 31


def floor_rate(values: list[int]) -> float:
    encode = bson.encode
    started = time.perf_counter()
    for value in values:
        md5(encode({"": value})).digest()
    return len(values) / (time.perf_counter() - started)


def shard_for_rate(documents: list[dict]) -> float:
    spec = ShardSpec("bench", "users", (("user_id", "hashed"),))
    shard_for = PredictedSource([spec], ["s0", "s1", "s2", "s3"]).routing_table("bench.users").shard_for
    started = time.perf_counter()
    for document in documents:
        shard_for(document)
    return len(documents) / (time.perf_counter() - started)


def bare_app_source() -> str:
    """A typer app with mongoshard's commands, groups, help texts and option counts, and nothing behind them."""
    import typer.main

    from mongoshard.cli import app

    lines = ["import typer", "", "app = typer.Typer(add_completion=False, no_args_is_help=True)", ""]

    def declare(group: object, owner: str) -> None:
        for name, command in group.commands.items():  # type: ignore[attr-defined]
            if hasattr(command, "commands"):
                lines.extend([f"{name} = typer.Typer(help={command.help!r})", f"{owner}.add_typer({name}, name={name!r})"])
                declare(command, name)
                continue
            options = ", ".join(f"o{i}: str = typer.Option('', '--o{i}', help='an option')" for i in range(len(command.params)))
            lines.extend([f"@{owner}.command({name!r}, help={command.help!r})", f"def c_{owner}_{name}({options}) -> None:",
                          "    pass", ""])

    declare(typer.main.get_command(app), "app")
    return "\n".join([*lines, "app()", ""])


def interleaved_starts(commands: list[list[str]]) -> list[float]:
    """Median start-up of each command in ms, the commands taking turns so that both see the same machine.

    Bytecode is written (an installed package has it), and one untimed run each fills the caches."""
    environment = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    timings: list[list[float]] = [[] for _ in commands]
    for round_number in range(STARTS + 1):
        for arguments, samples in zip(commands, timings):
            started = time.perf_counter()
            subprocess.run(arguments, check=True, capture_output=True, env=environment)
            if round_number:
                samples.append(time.perf_counter() - started)
    return [statistics.median(samples) * 1000 for samples in timings]


def main() -> None:
    values = list(range(DOCUMENTS))
    documents = [{"_id": i, "user_id": i, "name": "x"} for i in values]
    floor = floor_rate(values)
    ours = shard_for_rate(documents)
    spec = ShardSpec("bench", "users", (("user_id", "hashed"),))
    table = PredictedSource([spec], ["s0", "s1", "s2", "s3"]).routing_table("bench.users")
    routed = {table.shard_for(document) for document in documents}
    assert routed == {"s0", "s1", "s2", "s3"}, routed  # a hashed key spreads over every shard
    print(f"{f'documents routed per second, hashed key ({DOCUMENTS:,} docs)':<52} {'rate':>12}")
    print(f"{'  floor: bson.encode + md5':<52} {floor:>12,.0f}")
    print(f"{'  RoutingTable.shard_for':<52} {ours:>12,.0f}")
    print(f"{'  ratio shard_for / floor (goal >= 0.80)':<52} {ours / floor:>12.2f}")
    with tempfile.TemporaryDirectory() as scratch:
        bare_app = Path(scratch) / "bare_app.py"
        bare_app.write_text(bare_app_source())
        bare_help = subprocess.run([sys.executable, str(bare_app), "--help"], check=True, capture_output=True, text=True)
        assert "lookups" in bare_help.stdout and "simulate" in bare_help.stdout, bare_help.stdout
        python, bare, ours_ms = interleaved_starts([[sys.executable, "-c", "pass"], [sys.executable, str(bare_app), "--help"],
                                                   [sys.executable, "-m", "mongoshard", "--help"]])
    print(f"{f'cold start of --help, median of {STARTS} interleaved runs':<52} {'ms':>12}")
    print(f"{'  python -c pass':<52} {python:>12.0f}")
    print(f"{'  bare typer app, same commands and options':<52} {bare:>12.0f}")
    print(f"{'  mongoshard --help':<52} {ours_ms:>12.0f}")
    print(f"{'  ratio mongoshard / bare app (goal <= 1.10)':<52} {ours_ms / bare:>12.2f}")


if __name__ == "__main__":
    main()
