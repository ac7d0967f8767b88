"""The ``mongoshard`` command: a thin typer layer over the library.

Heavy imports (pymongo, mongoengine, rich) happen inside the commands so that
``mongoshard --help`` starts fast.  Exit codes: 0 success, 2 bad input
(one sentence on stderr, never a traceback).
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any, NoReturn, Optional

import typer

from . import __version__

if TYPE_CHECKING:  # pragma: no cover
    from .declaration import ShardSpec
    from .routing import RoutingTable

EXIT_BAD_INPUT = 2

app = typer.Typer(
    name="mongoshard",
    help="Declare shard keys on mongoengine models, predict and report how MongoDB routes them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of a table.")
DATABASE_OPTION = typer.Option(None, "--database", "-d", help="Database name, overriding the models' declared or registered one.")


def main() -> None:
    """Entry point of the console script; turns library errors into one line and exit code 2."""
    from .errors import MongoshardError

    # Like ``python -m``, let MODULE arguments name modules of the current directory.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        app()
    except MongoshardError as exc:
        _fail(str(exc))


def _fail(message: str) -> NoReturn:
    print(f"mongoshard: {message}", file=sys.stderr)
    raise SystemExit(EXIT_BAD_INPUT)


def _version(value: bool) -> None:
    if value:
        print(f"mongoshard {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    """mongoshard: shard keys for mongoengine applications."""


@app.command()
def keys(module: str = typer.Argument(..., help="Dotted module or package holding Document classes, e.g. examples.pokemon_storage.models"),
         database: Optional[str] = DATABASE_OPTION,
         as_json: bool = JSON_OPTION) -> None:
    """List the shard keys declared on the Documents of MODULE."""
    from .declaration import discover

    specs = discover(module, database=database)
    if as_json:
        _print_json([_spec_document(spec) for spec in specs])
        return
    if not specs:
        print(f"No sharded Document in {module}: declare meta['shard_key'] or use @sharded.")
        return
    from rich.table import Table

    table = Table(title=f"Shard keys declared in {module}")
    table.add_column("namespace", no_wrap=True)
    for column in ("key", "strategy", "unique", "pre-split", "zones", "models"):
        table.add_column(column, overflow="fold")
    for spec in specs:
        table.add_row(
            spec.namespace,
            _key_text(spec.key_pattern),
            spec.strategy,
            "yes" if spec.unique else "no",
            _presplit_text(spec),
            ", ".join(z.name for z in spec.zones) or "-",
            "\n".join(model.rsplit(".", 1)[-1] for model in spec.models),
        )
    _console().print(table)


@app.command()
def route(target: str = typer.Argument(..., metavar="MODULE:MODEL", help="The Document class, e.g. examples.pokemon_storage.models:Creature"),
          query: str = typer.Argument(..., metavar="FILTER_JSON", help='A MongoDB filter in (Extended) JSON, with database field names, e.g. \'{"user_id": 7}\''),
          routing_table: Optional[str] = typer.Option(None, "--routing-table", "-t", help="Snapshot or routing table file (from 'mongoshard snapshot'); default: predict a fresh cluster."),
          shards: int = typer.Option(2, "--shards", min=1, help="Shards of the predicted cluster when no routing table is given."),
          database: Optional[str] = DATABASE_OPTION,
          as_json: bool = JSON_OPTION) -> None:
    """Predict which shards a query on MODEL reaches, and whether it is targeted."""
    spec = _model_spec(target, database)
    filter_document = _parse_filter(query)
    table = _routing_table(spec, routing_table, shards)
    targeting = table.target(filter_document)
    if as_json:
        _print_json({"namespace": spec.namespace, "key": spec.key_pattern, "filter": json.loads(query),
                     "shards": list(targeting.shards), "kind": targeting.kind, "reason": targeting.reason,
                     "chunks": targeting.chunks, "source": routing_table or f"predicted ({shards} shards)"})
        return
    style = {"single-shard": "green", "multi-shard": "yellow", "scatter-gather": "red"}[targeting.kind]
    console = _console()
    console.print(f"[bold]{spec.namespace}[/] key {_key_text(spec.key_pattern)}  filter {query}")
    console.print(f"  [{style}]{targeting.kind}[/] -> {', '.join(targeting.shards)}")
    console.print(f"  {targeting.reason}", highlight=False)


@app.command()
def snapshot(uri: str = typer.Argument(..., help="URI of a mongos or a config server member (credentials are never printed)."),
             output: str = typer.Argument(..., help="File to write."),
             namespace: Optional[list[str]] = typer.Option(None, "--namespace", "-n", help="Only these collections (repeatable).")) -> None:
    """Save a cluster's shards and routing tables to a file for offline 'route'."""
    from .connection import connect
    from .sources import ConfigDatabaseSource, write_snapshot

    source = ConfigDatabaseSource(connect(uri))
    path = write_snapshot(source, output, namespace or None)
    print(f"Wrote {len(namespace or source.sharded_namespaces())} routing table(s) to {path}")


def _model_spec(target: str, database: str | None) -> "ShardSpec":
    from .declaration import load_model, spec_for

    document_class = load_model(target)
    spec = spec_for(document_class, database=database)
    if spec is None:
        _fail(f"{document_class.__name__} declares no shard key; add meta['shard_key'] or @sharded(key=...)")
    return spec


def _parse_filter(text: str) -> dict[str, Any]:
    from bson import json_util

    try:
        document = json_util.loads(text)
    except (ValueError, TypeError) as exc:
        _fail(f"the filter is not valid JSON ({exc}); quote it, e.g. '{{\"user_id\": 7}}'")
    if not isinstance(document, dict):
        _fail("the filter must be a JSON object, e.g. '{\"user_id\": 7}'")
    return document


def _routing_table(spec: "ShardSpec", path: str | None, shard_count: int) -> "RoutingTable":
    from .sources import PredictedSource, SnapshotSource

    if path:
        return SnapshotSource(path).routing_table(spec.namespace)
    return PredictedSource([spec], [f"shard{i}" for i in range(shard_count)]).routing_table(spec.namespace)


def _spec_document(spec: "ShardSpec") -> dict[str, Any]:
    from bson import json_util

    return {
        "namespace": spec.namespace,
        "database": spec.database,
        "collection": spec.collection,
        "key": spec.key_pattern,
        "strategy": spec.strategy,
        "unique": spec.unique,
        "initial_chunks": spec.initial_chunks,
        "split_points": json.loads(json_util.dumps(list(spec.split_points))),
        "zones": json.loads(json_util.dumps([{"name": z.name, "min": z.min, "max": z.max, "shards": list(z.shards)} for z in spec.zones])),
        "models": list(spec.models),
    }


def _key_text(key: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{name}: {json.dumps(kind)}" for name, kind in key.items()) + "}"


def _presplit_text(spec: "ShardSpec") -> str:
    if spec.initial_chunks:
        return f"{spec.initial_chunks} chunks"
    if spec.split_points:
        return f"{len(spec.split_points)} split points"
    return "-"


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def _console() -> Any:
    from rich.console import Console

    # Piped output gets a width that fits the tables, not the 80-column fallback.
    return Console(width=None if sys.stdout.isatty() else 120)
