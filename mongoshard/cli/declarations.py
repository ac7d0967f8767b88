"""Commands about declared keys, offline: ``keys``, ``route``, and ``snapshot`` to take tables offline."""


import json
from typing import TYPE_CHECKING, Any, Optional
from collections.abc import Sequence

import typer

from .app import DATABASE_OPTION, FORCE_OPTION, JSON_OPTION, TOPOLOGY_OPTION, URI_OPTION, app
from .application import ALIAS_OPTION, MODULES_ARGUMENT, TESTS_OPTION, TRACEBACK_OPTION, discovered, exit_if_problems
from .inputs import (WriteOperation, cluster_source, model_spec, read_collation, read_filter, read_version, refuse_together,
                     cluster_of, require_write, write_of)
from .output import (KIND_STYLES, console, json_text, key_text, print_json, print_write_targeting, progress, say, styled, warn,
                     write_targeting_document)

DEFAULT_SHARD_COUNT = 2
# More documents than any sample mongoshard can hold in memory; a larger --limit is a typo.
MAX_SAMPLE = 10**9
# Far beyond any real cluster, and small enough that a predicted routing table stays small.
MAX_SHARDS = 1024

if TYPE_CHECKING:  # pragma: no cover
    from ..model.declaration import ShardSpec
    from ..routing.writes import Write


@app.command()
def keys(modules: list[str] = MODULES_ARGUMENT,
         database: Optional[str] = DATABASE_OPTION,
         alias: Optional[list[str]] = ALIAS_OPTION,
         include_tests: bool = TESTS_OPTION,
         show_traceback: bool = TRACEBACK_OPTION,
         as_json: bool = JSON_OPTION) -> None:
    """List the shard keys declared on the Documents of each MODULE."""
    from ..advice.advise import model_of
    from ..model.discovery import switches_collection

    found = discovered(modules, database, alias, include_tests, show_traceback)
    for spec in found.specs:
        model = model_of(spec)
        if switches_collection(model):
            warn(f"{model.__module__} calls switch_collection/switch_db: documents of {model.__name__} may live in "
                 f"collections other than {spec.namespace}, which are listed nowhere here; each needs this key too "
                 f"('mongoshard advise --collection-pattern {model.__name__}=GLOB' judges their queries)")
    with_lookups = [each for spec in found.specs for each in (spec, *spec.lookup_specs())]
    _print_keys(", ".join(modules), with_lookups, as_json, failed=bool(found.problems))
    exit_if_problems(found)


def _print_keys(where: str, specs: "Sequence[ShardSpec]", as_json: bool, *, failed: bool) -> None:
    if as_json:
        print_json([_spec_document(spec) for spec in specs])
        return
    if not specs:
        say(f"No valid shard key declaration in {where} (see the problems above)." if failed else
            f"No sharded Document in {where}: declare meta['shard_key'] or use @sharded.")
        return
    from rich.table import Table

    table = Table(title=f"Shard keys declared in {where}")
    table.add_column("namespace", no_wrap=True)
    for column in ("key", "strategy", "unique", "pre-split", "zones", "models"):
        table.add_column(column, overflow="fold")
    for spec in specs:
        table.add_row(
            spec.namespace,
            key_text(spec.key_pattern),
            spec.strategy,
            "yes" if spec.unique else "no",
            _presplit_text(spec),
            ", ".join(z.name for z in spec.zones) or "-",
            "\n".join(model.rsplit(".", 1)[-1] for model in spec.models) or f"lookup of {spec.lookup_of}",
        )
    console().print(table)


@app.command()
def route(target: str = typer.Argument(..., metavar="MODULE:MODEL", help="The Document class, e.g. examples.pokemon_storage.models:Creature"),
          query: str = typer.Argument(..., metavar="FILTER_JSON", help='A MongoDB filter in (Extended) JSON, with database field names, e.g. \'{"user_id": 7}\'; @FILE or - reads it from a file or standard input.'),
          routing_table: Optional[str] = typer.Option(None, "--routing-table", "-t", help="Snapshot or routing table file (from 'mongoshard snapshot'); default: predict a fresh cluster."),
          shards: Optional[int] = typer.Option(None, "--shards", min=1, max=MAX_SHARDS, help="Shards of the predicted cluster (default 2); not with --routing-table."),
          server_version: Optional[str] = typer.Option(None, "--server-version", help="MongoDB version of the predicted cluster (default 8.0): from 7.2 a hashed key starts with one chunk per shard."),
          sample: Optional[str] = typer.Option(None, "--sample", help="Predict the layout of the collection grown to this sample (a JSON lines file or MODULE:FUNCTION), as 'simulate' cuts and balances it."),
          limit: Optional[int] = typer.Option(None, "--limit", min=1, max=MAX_SAMPLE, help="Use at most this many sample documents."),
          collation: Optional[str] = typer.Option(None, "--collation", help='The query\'s collation as JSON, e.g. \'{"locale": "fr"}\': a non-simple one cannot target by strings.'),
          write: Optional[WriteOperation] = typer.Option(None, "--write", help="Route a write instead of a read, as a router of --server-version does (default 8.0); for insert, FILTER_JSON is the document."),
          update: Optional[str] = typer.Option(None, "--update", help='With --write update/findAndModify: the update, e.g. \'{"$set": {"x": 1}}\', a replacement document, or a pipeline [...].'),
          upsert: bool = typer.Option(False, "--upsert", help="With --write update/findAndModify: an upsert."),
          multi: bool = typer.Option(False, "--multi", help="With --write update/delete: every matching document (updateMany/deleteMany)."),
          database: Optional[str] = DATABASE_OPTION,
          as_json: bool = JSON_OPTION) -> None:
    """Predict which shards a query on MODEL reaches: the query's shape on the key, and where it goes on a layout.

    With --write, where a router sends the write, runs it two-phase, or refuses it (exit 1)."""
    refuse_together("a routing table file already knows its shards", routing_table=routing_table, shards=shards)
    refuse_together("a routing table file already holds its chunks", routing_table=routing_table, sample=sample)
    if write is None:
        refuse_together("a routing table file already holds its chunks", routing_table=routing_table, server_version=server_version)
        refuse_together("a grown layout does not depend on the version", sample=sample, server_version=server_version)
        require_write(update=update, upsert=upsert, multi=multi)
    from ..cluster.offline import DEFAULT_SERVER_VERSION

    version = read_version(server_version) if server_version is not None else DEFAULT_SERVER_VERSION
    spec = model_spec(target, database, offline=True)
    filter_document = read_filter(query)
    query_collation = read_collation(collation) if collation else None
    count = shards or DEFAULT_SHARD_COUNT
    if sample:
        table, source = _grown(spec, sample, limit, count), f"a layout grown to the sample {sample}, {count} shards"
    else:
        cluster = cluster_of(spec, routing_table, count, version)
        table = cluster.routing_table(spec.namespace)
        source = f"routing table {routing_table}" if routing_table else _predicted(count, version)
    if dict(table.key) != spec.key_pattern:
        warn(f"{spec.namespace} is sharded on {key_text(table.key)} in {routing_table}, not on the declared "
             f"{key_text(spec.key_pattern)}: the answer follows the routing table")
    if write is not None:
        # every shard of the cluster (a multi write is broadcast to shards holding no chunk too)
        everyone = table.shards if sample else cluster.shard_names()
        _route_write(table, spec.namespace, write_of(write.value, filter_document, update, upsert, multi, query_collation),
                     version, source, as_json, everyone)
        return
    targeting = table.target(filter_document, query_collation)
    for warning in targeting.warnings:
        warn(warning)
    through = _through_lookup(spec, filter_document, None if sample else cluster, count, version)
    if as_json:
        print_json({"namespace": spec.namespace, "key": spec.key_pattern, "filter": json.loads(json_text(filter_document)),
                    "shape": targeting.shape, "verdict": targeting.verdict, "shards": list(targeting.shards),
                    "kind": targeting.kind, "reason": targeting.reason, "chunks": targeting.chunks,
                    "layout_chunks": len(table.chunks), "source": source, "warnings": list(targeting.warnings),
                    "lookup": through})
        return
    _print_route(spec.namespace, spec.key_pattern, filter_document, source, table, targeting, grown=bool(sample or routing_table))
    if through is not None:
        console().print(f"  through the lookup {through['collection']}: {through['kind']} -> {', '.join(through['shards'])}, "
                        f"then the owner by _id and its full shard key: {through['verdict']}", soft_wrap=True)


def _through_lookup(spec: "ShardSpec", filter_document: Any, cluster: Any, shards: int, version: tuple[int, int]) -> dict | None:
    """How a read routed through a lookup (model.lookup_writes) goes: one read of the lookup, one of the owner."""
    from ..cluster.offline import PredictedSource
    from ..model.lookups import routed_lookup

    routed = routed_lookup(spec.lookups, filter_document)
    if routed is None:
        return None
    lookup, lookup_filter = routed
    namespace = f"{spec.database}.{lookup.collection}"
    known = cluster is not None and namespace in cluster.sharded_namespaces()
    source = cluster if known else PredictedSource(spec.lookup_specs(), [f"shard{n}" for n in range(shards)],
                                                   server_version=version)
    found = source.routing_table(namespace).target(lookup_filter)
    return {"collection": namespace, "field": lookup.path, "filter": json.loads(json_text(lookup_filter)),
            "kind": found.kind, "shards": list(found.shards),
            "verdict": "two targeted reads, not a scatter-gather" if found.kind == "single-shard" else
            f"the lookup read is {found.kind}"}


def _print_route(namespace: str, key: dict, filter_document: Any, source: str, table: Any, targeting: Any, *, grown: bool) -> None:
    out = console()
    out.print(styled(namespace, "bold") + f" key {key_text(key)}  filter {json_text(filter_document)}  ({source})")
    out.print(styled("  shape: ") + styled(targeting.verdict, KIND_STYLES[targeting.verdict]) + f" ({targeting.shape}): "
              f"{SHAPE_MEANINGS[targeting.shape]}")
    out.print(f"  on this layout: {targeting.kind} -> {', '.join(targeting.shards)}: {targeting.reason}")
    if len(table.chunks) == 1 and not grown and targeting.shape != "single-key":
        out.print(f"  a new cluster holds {namespace} in one chunk, so every query reaches {table.shards[0]} until it grows; "
                  "--sample FILE shows a grown layout")


def _route_write(table: Any, namespace: str, write: "Write", version: tuple[int, int], source: str, as_json: bool,
                 cluster_shards: Sequence[str]) -> None:
    from ..routing.writes import target_write

    routed = target_write(table, write, version, cluster_shards=cluster_shards)
    if write.operation != "insert":
        for warning in table.target(write.filter or {}, write.collation).warnings:
            warn(warning)  # where MongoDB itself misses documents (a regex prefix the server cuts short)
    if as_json:
        shown = write.document if write.operation == "insert" else write.filter
        print_json({"namespace": namespace, "key": dict(table.key), "operation": write.operation,
                    "filter" if write.operation != "insert" else "document": json.loads(json_text(shown)),
                    "update": json.loads(json_text(write.update)) if write.update is not None else None,
                    "upsert": write.upsert, "multi": write.multi, **write_targeting_document(routed), "source": source})
    else:
        flags = "".join(f" {flag}" for flag, on in (("upsert", write.upsert), ("multi", write.multi)) if on)
        console().print(styled(namespace, "bold") + f" key {key_text(table.key)}  {write.operation}{flags} "
                        f"{json_text(write.document if write.operation == 'insert' else write.filter)}  ({source})")
        print_write_targeting(routed)
    if routed.outcome == "refused":
        raise typer.Exit(1)


SHAPE_MEANINGS = {
    "single-key": "equality on the whole shard key, one chunk on any layout",
    "key-ranges": "a bounded key prefix or range, the shards owning those chunks",
    "all-keys": "nothing bounds the leading key field, every shard on any layout with more than one chunk",
    "no-match": "the filter matches nothing, one shard",
}


def _grown(spec: "ShardSpec", sample: str, limit: int | None, shards: int) -> Any:
    from ..advice.sample import iter_documents
    from ..advice.simulate import grown_layout

    with progress("reading the sample"):
        return grown_layout(iter_documents(sample, limit=limit), spec.key_pattern, spec.namespace, shards)


@app.command()
def snapshot(output: str = typer.Argument(..., help="File to write (a snapshot file of mongoshard's is replaced); '-' for standard output."),
             uri: Optional[str] = URI_OPTION,
             file: Optional[str] = TOPOLOGY_OPTION,
             namespace: Optional[list[str]] = typer.Option(None, "--namespace", "-n", help="Only these collections (repeatable)."),
             force: bool = FORCE_OPTION) -> None:
    """Save a cluster's shards and routing tables to a file for offline 'route'."""
    from ..cluster.offline import is_snapshot, snapshot_text, write_snapshot
    from ..files import check_writable

    if output != "-":
        check_writable(output, "the snapshot", ours=is_snapshot, force=force)
    with progress("reading the cluster"):
        source = cluster_source(uri, file)
        if output == "-":
            print(snapshot_text(source, namespace or None), end="")
            return
        path = write_snapshot(source, output, namespace or None, force=force)
    say(f"Wrote {len(namespace or source.sharded_namespaces())} routing table(s) to {path}")


def _predicted(shards: int, version: tuple[int, int]) -> str:
    return f"predicted: a new MongoDB {version[0]}.{version[1]} cluster of {shards} shards"


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
        "lookup_of": spec.lookup_of,
        "lookups": [{"field": lookup.path, "collection": lookup.collection, "unique": lookup.unique,
                     "strategy": "hashed" if lookup.hashed else "ranged", "route_reads": lookup.route_reads}
                    for lookup in spec.lookups],
    }


def _presplit_text(spec: "ShardSpec") -> str:
    if spec.initial_chunks:
        return f"{spec.initial_chunks} chunks"
    if spec.split_points:
        return f"{len(spec.split_points)} split points"
    return "-"
