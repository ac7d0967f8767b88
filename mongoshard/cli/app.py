"""The typer application, its root options and the options several commands share.

Exit codes: 0 success; 1 the cluster is not as asked (incomplete ``up``,
unhealthy ``status``, drift in ``apply``, an error-level finding in
``advise``); 2 an error (one sentence on stderr, never a traceback); 3
``balance`` found an imbalanced collection.
"""

from __future__ import annotations

import typer

from .. import __version__

__all__ = ["app", "EXIT_INCOMPLETE", "EXIT_BAD_INPUT", "EXIT_IMBALANCED", "JSON_OPTION", "DATABASE_OPTION",
           "TOPOLOGY_OPTION", "URI_OPTION", "SNAPSHOT_OPTION"]

EXIT_INCOMPLETE = 1

EXIT_BAD_INPUT = 2

EXIT_IMBALANCED = 3

app = typer.Typer(
    name="mongoshard",
    help="Declare shard keys on mongoengine models, predict and report how MongoDB routes them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of a table.")

DATABASE_OPTION = typer.Option(None, "--database", "-d", help="Database name, overriding the models' declared or registered one.")

TOPOLOGY_OPTION = typer.Option("mongoshard.yaml", "--file", "-f", help="Topology file; a missing file means the default cluster.")

URI_OPTION = typer.Option(None, "--uri", help="A mongos or config server member (default: the local topology's cluster).")

SNAPSHOT_OPTION = typer.Option(None, "--snapshot", help="Read a snapshot file (from 'mongoshard snapshot') instead of a live cluster.")


def _version(value: bool) -> None:
    if value:
        print(f"mongoshard {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    """mongoshard: shard keys for mongoengine applications."""
