"""``apply``: shard every declared collection, idempotently."""


import json
from typing import Any, Optional

import typer

from .app import DATABASE_OPTION, JSON_OPTION, TOPOLOGY_OPTION, URI_VARIABLE, app
from .boundary import EXIT_INCOMPLETE
from .inputs import refuse_together, router_address
from .output import console, fail, json_text, plain, print_json, progress, styled


@app.command(name="apply")
def apply_command(module: str = typer.Argument(..., help="Module or package with the Documents, e.g. examples.pokemon_storage.models"),
                  uri: Optional[str] = typer.Option(None, "--uri", help=f"A mongos (default: ${URI_VARIABLE}, else the topology's first router, as admin when auth is on)."),
                  file: Optional[str] = TOPOLOGY_OPTION,
                  database: Optional[str] = DATABASE_OPTION,
                  dry_run: bool = typer.Option(False, "--dry-run", help="Print the commands that would run; change nothing."),
                  wait: float = typer.Option(0, "--wait", min=0, max=86400, help="Seconds to keep trying until the router answers and lists shards (exit 2 after)."),
                  min_shards: int = typer.Option(1, "--min-shards", min=1, max=1024, help="With --wait: the number of shards to wait for."),
                  as_json: bool = JSON_OPTION) -> None:
    """Shard every declared collection (index, key, pre-split, zones); idempotent, exit 1 on drift."""
    from ..cluster.apply import apply, wait_for_shards
    from ..cluster.connection import connect
    from ..model.discovery import discover

    refuse_together("each says which cluster to change", uri=uri, file=file)
    specs = discover(module, database=database)
    if not specs:
        fail(f"No sharded Document in {module}: declare meta['shard_key'] or use @sharded")
    target, options = router_address(uri, file)
    with progress("connecting to the router") as step:
        client = wait_for_shards(lambda: connect(target, **options), wait, minimum=min_shards, on_wait=step)
    with progress("applying shard keys"):
        result = apply(specs, client, dry_run=dry_run)
    if as_json:
        print_json(json.loads(json_text(plain(result))))
    else:
        _print_apply(result)
    if result.drifted:
        raise typer.Exit(EXIT_INCOMPLETE)


def _print_apply(result: Any) -> None:
    out = console()
    for collection in result.collections:
        colour = {"drift": "red", "planned": "yellow"}.get(collection.outcome, "green")
        out.print(styled(collection.message, colour))
        for step in collection.steps:
            out.print(f"  {step.status:9} {step.action}: {json_text(step.command)}", soft_wrap=True)
