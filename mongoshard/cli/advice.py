"""Advice commands, for before sharding: ``advise`` and ``simulate``."""


import functools
from collections.abc import Callable
from typing import Any, Optional

import typer

from .app import DATABASE_OPTION, FORCE_OPTION, JSON_OPTION, app
from .application import (ALIAS_OPTION, MODULES_ARGUMENT, TESTS_OPTION, TRACEBACK_OPTION, discovered, exit_if_problems,
                          uri_database)
from .boundary import EXIT_INCOMPLETE
from .declarations import MAX_SAMPLE, MAX_SHARDS
from .inputs import cluster_uri, parse_candidate, read_key, read_size, read_version, refuse_together
from .output import console, fail, json_text, key_text, note, plain, print_json, progress, size, styled, warn


@app.command(name="advise")
def advise_command(modules: list[str] = MODULES_ARGUMENT,
                   audit_log: Optional[str] = typer.Option(None, "--audit", help="Query log (JSON lines) to judge real queries too."),
                   key: Optional[list[str]] = typer.Option(None, "--key", help='A candidate key for a collection of the application, NAMESPACE=KEY_JSON in database field names, e.g. \'shop.orders={"customer_id": 1}\' (repeatable).'),
                   collection_pattern: Optional[list[str]] = typer.Option(None, "--collection-pattern", metavar="MODEL=GLOB", help="Collections a model also writes to with switch_collection, e.g. Quote='quotes_*' (repeatable): their audited queries are judged under its key."),
                   database: Optional[str] = DATABASE_OPTION,
                   alias: Optional[list[str]] = ALIAS_OPTION,
                   include_tests: bool = TESTS_OPTION,
                   show_traceback: bool = TRACEBACK_OPTION,
                   as_json: bool = JSON_OPTION) -> None:
    """Lint the declared (or --key candidate) shard keys: hot spots, jumbo chunks, lost uniqueness, broadcast queries,
    mongoengine's write traps; with no key anywhere, list the unsharded collections. Exit 1 on an error."""
    from ..advice.advise import advise, model_of
    from ..reports.capture import read_log

    found = discovered(modules, database, alias, include_tests, show_traceback)
    records = read_log(audit_log) if audit_log else ()
    candidates = [_candidate(found, entry) for entry in key or []]
    unsharded = found.unsharded if not found.specs and not candidates else ()
    patterns = dict(_pattern(entry) for entry in collection_pattern or [])
    names = {m.__name__ for m in [*found.unsharded, *(model_of(spec) for spec in found.specs)]}
    for unknown in sorted(set(patterns) - names):
        fail(f"--collection-pattern {unknown}=...: no model of {', '.join(modules)} is called {unknown} "
             f"(models: {', '.join(sorted(names)) or 'none'})")
    findings = advise([*found.specs, *candidates], records, unsharded=unsharded, database=database or uri_database(),
                      collection_patterns=patterns)
    if as_json:
        print_json([plain(f) for f in findings])
    else:
        out = console()
        colours = {"error": "red", "warning": "yellow", "info": "blue"}
        for finding in findings:
            shown_key = f" key {finding.key}" if finding.key else ""
            out.print(styled(finding.severity, colours[finding.severity]) + " " + styled(finding.namespace, "bold")
                      + f" ({finding.model}{shown_key}) {finding.rule}: {finding.message}\n  fix: {finding.fix}")
        errors = sum(f.severity == "error" for f in findings)
        out.print(f"{len(findings)} finding(s), {errors} error(s)" if findings else f"No findings for {', '.join(modules)}.")
    exit_if_problems(found)
    if any(f.severity == "error" for f in findings):
        raise typer.Exit(EXIT_INCOMPLETE)


def _pattern(entry: str) -> tuple[str, str]:
    model, separator, glob = entry.partition("=")
    if not separator or not model.isidentifier() or not glob:
        fail(f"--collection-pattern {entry[:80]!r} must be MODEL=GLOB, e.g. Quote='quotes_*'")
    return model, glob


def _candidate(found: Any, entry: str) -> Any:
    """--key NAMESPACE=KEY for the Document of the application stored in that collection."""
    from ..advice.advise import candidate_spec, model_of
    from ..advice.key_rules import candidate_problem

    namespace, pattern = parse_candidate(entry)
    collection = namespace.partition(".")[2]
    models = [*found.unsharded, *(model_of(spec) for spec in found.specs)]
    model = next((m for m in models if m._get_collection_name() == collection), None)
    if model is None:
        known = ", ".join(sorted({m._get_collection_name() for m in models})) or "none"
        fail(f"--key {namespace}: no Document of the application is stored in '{collection}' (collections: {known})")
    problem = candidate_problem(model, list(pattern))
    if problem:
        fail(f"--key {namespace}: {problem}")
    return candidate_spec(model, namespace, pattern)


@app.command(name="simulate")
def simulate_command(source: Optional[str] = typer.Argument(None, help="Sample data: a JSON lines file, MODULE:FUNCTION yielding documents, or a MongoDB URI with --collection (default: --uri or $MONGOSHARD_URI)."),
                     key: list[str] = typer.Option(..., "--key", help='Candidate key as JSON, repeatable, e.g. \'{"user_id": "hashed"}\' (or @FILE).'),
                     shards: int = typer.Option(2, "--shards", min=1, max=MAX_SHARDS, help="Shards to simulate."),
                     collection: Optional[str] = typer.Option(None, "--collection", help="DATABASE.COLLECTION to sample from a MongoDB server."),
                     uri: Optional[str] = typer.Option(None, "--uri", help="The server holding --collection (default: $MONGOSHARD_URI); keeps the password out of argv."),
                     limit: Optional[int] = typer.Option(None, "--limit", min=1, max=MAX_SAMPLE, help="Use at most this many documents."),
                     audit_log: Optional[str] = typer.Option(None, "--audit", help="Query log to judge each key's targeting."),
                     plot: Optional[str] = typer.Option(None, "--plot", help="Draw data per shard, the even share, jumbo chunks and hot inserts per key to FILE (.svg, .html, or .png with matplotlib)."),
                     data_size: Optional[str] = typer.Option(None, "--data-size", help="The real collection's size when the sample is a part of it, e.g. 10GB (default: the sampled collection's size from the server, else the sample's own)."),
                     chunk_size: Optional[str] = typer.Option(None, "--chunk-size", help="Chunk size, e.g. 128MB (the server's default) or 64MB."),
                     server_version: Optional[str] = typer.Option(None, "--server-version", help="MongoDB version (default 8.0); before 7.0 the old autosplitter model is used."),
                     force: bool = FORCE_OPTION,
                     as_json: bool = JSON_OPTION) -> None:
    """For candidate keys: cardinality, most common values and monotonicity (as analyzeShardKey reports them), data and
    chunks per shard, jumbo chunks, hot inserts, targeting, what adding a shard moves, and a verdict."""
    from ..advice.sample import collection_data_size, iter_documents
    from ..advice.simulate import MAX_CHUNK_BYTES, MIN_CHUNK_BYTES, NO_AUTOSPLITTER_SINCE, simulate
    from ..reports.capture import read_log
    from ..reports.plot import check_plot_path

    refuse_together("each names the sample", source=source, uri=uri)
    if plot is not None:
        check_plot_path(plot, force=force, formats=(".svg", ".html", ".png"))
    if source is None and collection is None:
        fail("name the sample: a JSON lines file, MODULE:FUNCTION, or --collection DATABASE.COLLECTION with --uri")
    patterns = [read_key(text, f"--key {text[:60]}") for text in key]
    records = read_log(audit_log) if audit_log else ()
    version = read_version(server_version) if server_version is not None else (8, 0)
    # configureCollectionBalancing and the chunksize setting take 1 to 1024 MB
    chunk_bytes = read_size(chunk_size, "--chunk-size", low=MIN_CHUNK_BYTES, high=MAX_CHUNK_BYTES) \
        if chunk_size is not None else None
    data_bytes = read_size(data_size, "--data-size") if data_size is not None else None
    if data_bytes is not None and version < NO_AUTOSPLITTER_SINCE:
        fail("--data-size is for the 7.0+ model; the pre-7.0 model (--server-version before 7.0) cuts the sample itself")
    where = source or cluster_uri(uri) or ""
    if data_bytes is None and collection is not None:
        data_bytes = collection_data_size(where, collection) or None
    documents = iter_documents(where, collection=collection, limit=limit)
    with progress(f"simulating {len(patterns)} key(s): reading the sample") as update:
        report = simulate(documents, patterns, shards, chunk_bytes=chunk_bytes, data_bytes=data_bytes,
                          server_version=version, audit_records=records, progress=_reading(update, len(patterns)))
    if not report.documents:
        fail("the sample holds no documents; give a file, generator or collection with some")
    if limit and report.documents < limit:
        warn(f"the sample holds {report.documents:,} documents, fewer than --limit {limit:,}: the figures are for those")
    if plot is not None:
        from ..advice.simulation_plot import write_simulation_plot

        note(f"Wrote {write_simulation_plot(report, plot, force=force)}")
    if as_json:
        print_json(_report_document(report))
        return
    _print_simulation(report)


def _report_document(report: Any) -> Any:
    """The report as JSON, key values in relaxed Extended JSON (dates as $date, as filters are written)."""
    import json

    document = plain(report)
    for candidate in document["candidates"]:
        candidate["most_common"] = [[json.loads(json_text(value)), count] for value, count in candidate["most_common"]]
    return document


def _reading(update: Any, keys: int) -> Any:
    """Progress with the count read so far and the rate."""
    import time

    started = time.monotonic()

    def report(count: int) -> None:
        rate = count / max(time.monotonic() - started, 1e-9)
        update(f"simulating {keys} key(s): {count:,} documents read ({rate:,.0f}/s)")

    return report


def _print_simulation(report: Any) -> None:
    from rich.table import Table

    table = Table(title=f"{report.documents:,} documents standing for {size(report.data_bytes)}, over {report.shards} shards "
                        f"(chunk size {size(report.chunk_bytes)})", caption=f"model: {report.model}")
    table.add_column("")
    for candidate in report.candidates:
        table.add_column(key_text(candidate.key), justify="right")
    rows: list[tuple[str, Callable[[Any], str]]] = [
        ("distinct values", lambda c: f"{c.cardinality:,}"),
        ("most common value (documents)", lambda c: _most_common_text(c, report.documents)),
        ("monotonicity (key order ~ insert order)", lambda c: c.monotonicity + (f" (r = {c.correlation:.2f})" if c.correlation is not None else "")),
        ("data per shard", lambda c: " / ".join(f"{b / max(sum(c.bytes_per_shard), 1):.0%}" for b in c.bytes_per_shard)),
        ("chunks per shard", lambda c: " / ".join(str(n) for n in c.chunks_per_shard)),
        ("largest shard's share", lambda c: f"{c.largest_share:.1%}"),
        ("jumbo chunks", lambda c: str(c.jumbo_chunks)),
        *([("balancer rounds until nothing moves", lambda c: f"{c.rounds:,}" + ("" if c.converged else "+ (stopped)")),
           ("data the balancer migrates", lambda c: size(c.moved_bytes))]
          if report.candidates and report.candidates[0].rounds is not None else []),
        ("recent inserts on the busiest shard", lambda c: f"{c.hot_insert_share:.0%}"),
        ("moved by adding a shard: chunk ranges", lambda c: f"{c.moved_by_chunks:.0%}"),
        ("moved by adding a shard: hash mod N", lambda c: f"{c.moved_by_modulo:.0%}"),
    ]
    if report.candidates and report.candidates[0].queries is not None:
        rows += [(f"queries {kind}", functools.partial(_query_share, kind)) for kind in ("single-shard", "multi-shard", "scatter-gather", "unknown")]
    for label, cell in rows:
        table.add_row(label, *(cell(c) for c in report.candidates))
    table.add_row(styled("verdict", "bold"), *(c.verdict for c in report.candidates))
    console().print(table)


def _query_share(kind: str, candidate: Any) -> str:
    return f"{candidate.queries[kind]:.0%}"


def _most_common_text(candidate: Any, documents: int) -> str:
    if not candidate.most_common:
        return "-"
    value, count = candidate.most_common[0]
    if count == 1:
        return "every value once"
    from ..advice.simulation_plot import value_text  # here, not at the top: --help does not need it

    shown = ", ".join(value_text(item) for item in value.values())
    return f"{shown[:40]} ({count:,}, {count / max(documents, 1):.1%})"
