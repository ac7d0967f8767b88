"""The typer application, its root options and the options several commands share.

Exit codes are those of ``boundary`` (0, 1, 2, 3, 70, 128+N).
"""


import typer

from .. import __version__

__all__ = ["app", "JSON_OPTION", "DATABASE_OPTION", "TOPOLOGY_OPTION", "URI_OPTION",
           "SNAPSHOT_OPTION", "FORCE_OPTION", "URI_VARIABLE"]

URI_VARIABLE = "MONGOSHARD_URI"

app = typer.Typer(
    name="mongoshard",
    help="Declare shard keys on mongoengine models, predict and report how MongoDB routes them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of a table.")

DATABASE_OPTION = typer.Option(None, "--database", "-d", help="Database name, overriding the models' declared or registered one.")

TOPOLOGY_OPTION = typer.Option(None, "--file", "-f", help="Topology file (default: ./mongoshard.yaml, else the default cluster); a file named here must exist.")

URI_OPTION = typer.Option(None, "--uri", help=f"A mongos or config server member (default: ${URI_VARIABLE}, else the local topology's cluster).")

SNAPSHOT_OPTION = typer.Option(None, "--snapshot", help="Read a snapshot file (from 'mongoshard snapshot') instead of a live cluster.")

FORCE_OPTION = typer.Option(False, "--force", help="Replace an existing output file that mongoshard did not write.")


def _version(value: bool) -> None:
    if value:
        print(f"mongoshard {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
    debug: bool = typer.Option(False, "--debug", help="Show the traceback of an unexpected error (also MONGOSHARD_DEBUG=1)."),
) -> None:
    """mongoshard: shard keys for mongoengine applications."""
