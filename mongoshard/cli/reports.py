"""Report commands: ``balance``, ``explain``, ``audit``."""


import json
import math
from typing import Any, Optional

import typer

from .app import DATABASE_OPTION, FORCE_OPTION, JSON_OPTION, SNAPSHOT_OPTION, TOPOLOGY_OPTION, URI_OPTION, app
from .application import discovered, exit_if_problems
from .boundary import EXIT_IMBALANCED
from .inputs import (WriteOperation, cluster_source, cluster_uri, model_spec, parse_candidate, read_filter, read_sort,
                     read_version, refuse_together, require_write, write_of)
from .output import (
    KIND_STYLES,
    console,
    fail,
    json_text,
    key_text,
    known,
    note,
    number,
    plain,
    print_json,
    print_write_targeting,
    progress,
    size,
    styled,
    write_targeting_document,
)


@app.command(name="balance")
def balance_command(namespaces: Optional[list[str]] = typer.Argument(None, help="Collections (db.collection); default: every sharded one."),
                    uri: Optional[str] = URI_OPTION,
                    snapshot_file: Optional[str] = SNAPSHOT_OPTION,
                    file: Optional[str] = TOPOLOGY_OPTION,
                    max_imbalance: Optional[float] = typer.Option(None, "--max-imbalance", min=1.0, help="Also exit 3 when the largest shard's share passes this multiple of the even share (a gate of your own; the verdict is the 8.0 balancer's)."),
                    plan: bool = typer.Option(False, "--plan", help="Dry-run the 8.0 balancer's next rounds: the migrations of each round, the bytes and time, and why nothing moves where nothing does."),
                    rate: float = typer.Option(20.0, "--rate", min=0.001, help="With --plan: MB/s one migration copies (default 20, a cautious figure for a loaded replica set; measure yours)."),
                    plot: Optional[str] = typer.Option(None, "--plot", help="Also draw chunks and data per shard to FILE (.svg, .html or .png)."),
                    force: bool = FORCE_OPTION,
                    as_json: bool = JSON_OPTION) -> None:
    """Chunks, documents and data per shard, and the 8.0 balancer's verdict; exit 3 when it would move something.

    With --plan, the balancer's next rounds instead."""
    from ..reports.balance import balance
    from ..reports.plot import check_plot_path

    if max_imbalance is not None and not math.isfinite(max_imbalance):
        fail(f"--max-imbalance must be a number from 1 (perfect balance) up, not {max_imbalance}")
    if plan:
        refuse_together("a plan is its own report", plan=plan, plot=plot, max_imbalance=max_imbalance)
        _plan(namespaces, uri, snapshot_file, file, rate, as_json)
        return
    if plot is not None:
        check_plot_path(plot, force=force)
    with progress("reading the cluster"):
        report = balance(cluster_source(uri, file, snapshot_file), namespaces or None, max_imbalance=max_imbalance)
    if plot is not None:
        from ..reports.plot import write_plot

        note(f"Wrote {write_plot(report, plot, force=force)}")
    if as_json:
        print_json(json.loads(json_text({**plain(report), "balanced": report.balanced})))
    else:
        _print_balance(report)
    if not report.balanced:
        raise typer.Exit(EXIT_IMBALANCED)


def _plan(namespaces: Optional[list[str]], uri: Optional[str], snapshot_file: Optional[str], file: Optional[str],
          rate: float, as_json: bool) -> None:
    from ..reports.plan import plan_balancing

    with progress("reading the cluster"):
        plan = plan_balancing(cluster_source(uri, file, snapshot_file), namespaces or None, rate=int(rate * 1024 * 1024))
    if as_json:
        print_json(json.loads(json_text({**plain(plan), "total_bytes": plan.total_bytes, "seconds": plan.seconds})))
    else:
        _print_plan(plan)
    if plan.rounds:  # as balance: exit 3 when the balancer would move something
        raise typer.Exit(EXIT_IMBALANCED)


def _print_plan(plan: Any) -> None:
    out = console()
    out.print(f"Balancer: {plan.balancer}")
    for planned in plan.rounds[:20]:
        out.print(styled(f"round {planned.number}: ", "bold") + f"{len(planned.migrations)} migration(s), {size(planned.bytes)}")
        for m in planned.migrations:
            out.print(f"  {m.namespace}: {m.from_shard} -> {m.to_shard} from {json_text(m.min)}, {size(m.bytes)} ({m.reason})")
    if len(plan.rounds) > 20:
        out.print(f"... {len(plan.rounds) - 20} more round(s)")
    ending = "then nothing left to move" if plan.converged else "and more (the plan stops there)"
    nothing = "Nothing moves: see why below." if plan.obstacles else "Nothing to move: every collection is compliant."
    out.print(f"{len(plan.rounds)} round(s), {size(plan.total_bytes)} to move, about {plan.seconds / 60:.1f} min at "
              f"{plan.rate / 1024 / 1024:g} MB/s; {ending}" if plan.rounds else nothing)
    for obstacle in plan.obstacles:
        out.print(styled("  why not: ", "yellow") + f"{obstacle.namespace}: {obstacle.detail}")


def _print_balance(report: Any) -> None:
    from rich.table import Table

    out = console()
    state = report.balancer
    out.print(f"Balancer: {known(state.enabled, 'enabled', 'disabled')}; balancing round: {known(state.running, 'running', 'none')}"
              + (f", window {state.window[0]}-{state.window[1]} ({known(state.in_window, 'inside', 'outside')})" if state.window else ""))
    if not report.collections:
        out.print("No sharded collection.")
    for collection in report.collections:
        colour = "green" if collection.balanced is not False and not collection.beyond_limit else "red"
        table = Table(title=f"{collection.namespace}  key {key_text(collection.key)}  ({collection.strategy})", title_justify="left")
        for column in ("shard", "chunks", "jumbo", "documents", "data", f"share of {collection.measure}"):
            table.add_column(column, justify="right" if column != "shard" else "left")
        for shard in collection.shards:
            table.add_row(shard.shard, str(shard.chunks), str(shard.jumbo), number(shard.documents), size(shard.bytes),
                          styled(f"{'█' * round(shard.share * 30):<30}", colour) + f" {shard.share:6.1%}")
        out.print(table)
        limit = f" (limit {report.max_imbalance:.2f})" if report.max_imbalance else ""
        out.print(styled("  ") + styled(f"imbalance {collection.imbalance:.2f}x the even share", colour)
                  + f"{limit}, spread {_spread(collection)}; {collection.verdict}")
        verdict = {None: "no verdict: the balancer decides by data size, and this source has none",
                   "compliant": "compliant: the 8.0 balancer would move nothing"}.get(
            collection.status, f"{collection.status}: the 8.0 balancer would migrate (balance --plan shows what)")
        out.print(styled("  balancer: ") + styled(verdict, "green" if collection.balanced is not False else "red"))
        if collection.balancer_status:
            out.print(f"  balancerCollectionStatus: {json_text(collection.balancer_status)}")


def _spread(collection: Any) -> str:
    return size(int(collection.spread)) if collection.measure == "bytes" else f"{collection.spread:,.0f} {collection.measure}"


@app.command(name="explain")
def explain_command(target: str = typer.Argument(..., metavar="MODULE:MODEL", help="The Document class, e.g. examples.pokemon_storage.models:Creature"),
                    query: str = typer.Argument(..., metavar="FILTER_JSON", help="A MongoDB filter in (Extended) JSON, with database field names; @FILE or - reads it from a file or standard input."),
                    sort: Optional[str] = typer.Option(None, "--sort", help='Sort as JSON, e.g. \'{"level": -1}\'.'),
                    uri: Optional[str] = URI_OPTION,
                    routing_table: Optional[str] = typer.Option(None, "--routing-table", "-t", help="Predict from this snapshot file only; no live plans."),
                    file: Optional[str] = TOPOLOGY_OPTION,
                    database: Optional[str] = DATABASE_OPTION,
                    write: Optional[WriteOperation] = typer.Option(None, "--write", help="Explain a write with this filter: where a router of --server-version sends it, and the shards' plans for its filter."),
                    update: Optional[str] = typer.Option(None, "--update", help="With --write update/findAndModify: the update (operators, a replacement or a pipeline)."),
                    upsert: bool = typer.Option(False, "--upsert", help="With --write update/findAndModify: an upsert."),
                    multi: bool = typer.Option(False, "--multi", help="With --write update/delete: every matching document."),
                    server_version: Optional[str] = typer.Option(None, "--server-version", help="With --write: the router's MongoDB version (default 8.0)."),
                    as_json: bool = JSON_OPTION) -> None:
    """Shards reached, merge stage and each shard's plan: live (router, else each shard) and predicted, with disagreements flagged."""
    from ..reports.explain import explain_query

    refuse_together("each says where the routing table comes from", routing_table=routing_table, uri=uri, file=file)
    if write is None:
        require_write(update=update, upsert=upsert, multi=multi, server_version=server_version)
    if write is not None and write.value == "insert":
        fail("explain --write takes update, delete or findAndModify (an insert has no filter); 'route --write insert' "
             "shows where a document goes")
    spec = model_spec(target, database)
    filter_document = read_filter(query)
    sort_pairs = read_sort(sort) if sort else None
    the_write = write_of(write.value, filter_document, update, upsert, multi, None) if write is not None else None
    version = read_version(server_version) if server_version is not None else (8, 0)
    with progress("explaining"):
        source = cluster_source(uri, file, routing_table)
        client = getattr(source, "client", None)
        report = explain_query(spec.namespace, filter_document, source, client=client, sort=sort_pairs,
                               shard_options=getattr(source, "shard_options", None), write=the_write, server_version=version)
    if as_json:
        document = json.loads(json_text(plain(report)))
        if report.write is not None:
            document["write"] = {"operation": the_write.operation, **write_targeting_document(report.write)}  # type: ignore[union-attr]
        print_json(document)
        return
    _print_explain(report)


def _print_explain(report: Any) -> None:
    from rich.table import Table

    out = console()
    predicted = report.predicted
    out.print(styled(report.namespace, "bold") + f" filter {json_text(report.filter)}")
    out.print(styled("  predicted: ") + styled(predicted.kind, KIND_STYLES[predicted.kind])
              + f" -> {', '.join(predicted.shards)} ({predicted.reason})")
    if report.write is not None:
        out.print(styled("  as a write:"))
        print_write_targeting(report.write)
    for label, reading in (("live, through the router", report.live), ("read from each shard (no router)", report.from_shards)):
        if reading is None:
            continue
        out.print(f"  {label}: {reading.merge_stage} -> {', '.join(reading.shard_names)}")
        table = Table()
        for column in ("shard", "plan", "engine", "keys examined", "docs examined", "returned"):
            table.add_column(column)
        for plan in reading.shards:
            colour = "red" if "collection scan" in plan.plan else "green"
            table.add_row(plan.shard, styled(plan.plan, colour), plan.engine, number(plan.keys_examined),
                          number(plan.docs_examined), number(plan.returned))
        out.print(table)
    if report.disagreement:
        out.print(styled("  disagreement: ", "red") + report.disagreement)


@app.command(name="audit")
def audit_command(log: str = typer.Argument(..., help="Query log (JSON lines) from mongoshard.capture() or pytest --mongoshard-audit."),
                  modules: Optional[list[str]] = typer.Argument(None, metavar="[MODULE...]", help="Modules or packages with the Documents: their declared keys are judged too (a module that fails to import is reported and the rest used)."),
                  key: Optional[list[str]] = typer.Option(None, "--key", help='Candidate key, repeatable: NAMESPACE=KEY_JSON, e.g. \'game.creatures={"species": 1}\' (KEY_JSON may be @FILE).'),
                  uri: Optional[str] = typer.Option(None, "--uri", help="Also judge the keys the collections are sharded with on this cluster (default: $MONGOSHARD_URI)."),
                  database: Optional[str] = DATABASE_OPTION,
                  top: int = typer.Option(10, "--top", min=1, help="Query shapes shown per collection."),
                  server_version: Optional[str] = typer.Option(None, "--server-version", help="Judge writes as a router of this MongoDB version does (default 8.0); the notes say where 7.0 to 9.0 differ."),
                  as_json: bool = JSON_OPTION) -> None:
    """Share of single-shard, multi-shard, scatter-gather and unknown queries per collection, under each key; writes
    also two-phase or refused, as the router of --server-version handles them."""
    from ..reports.audit import audit
    from ..reports.capture import read_log

    keys: dict[str, dict[str, dict[str, Any]]] = {}
    candidates = [parse_candidate(entry) for entry in key or []]
    records = read_log(log)
    found = discovered(modules, database, None, False, False) if modules else None
    for spec in found.specs if found else ():
        keys.setdefault(spec.namespace, {})["declared"] = spec.key_pattern
    live = cluster_uri(uri)
    if live:
        from ..cluster.connection import connect
        from ..cluster.live import ConfigDatabaseSource

        source = ConfigDatabaseSource(connect(live))
        for namespace, summary in source.chunk_summary(source.sharded_namespaces()).items():
            keys.setdefault(namespace, {})["current"] = summary.key
    for namespace, pattern in candidates:
        keys.setdefault(namespace, {})[key_text(pattern)] = pattern
    lookups = {spec.namespace: spec.lookups for spec in (found.specs if found else ()) if spec.lookups}
    report = audit(records, keys, server_version=read_version(server_version) if server_version is not None else (8, 0),
                   lookups=lookups)
    if as_json:
        print_json(plain(report))
    else:
        _print_audit(report, top)
    if found is not None:
        exit_if_problems(found)


def _print_audit(report: Any, top: int) -> None:
    from rich.table import Table

    out = console()
    fixtures = f"; {report.fixtures} of test fixtures (set-up, tear-down) left out" if report.fixtures else ""
    out.print(f"{report.total} queries in {len(report.collections)} collection(s){fixtures}")
    for collection in report.collections:
        table = Table(title=f"{collection.namespace}: {collection.total} queries", title_justify="left")
        table.add_column("key")
        for kind, colour in KIND_STYLES.items():
            table.add_column(styled(kind, colour), justify="right")
        for label, shares in collection.distribution.items():
            name = label if label.startswith("{") else f"{label} {key_text(collection.keys[label])}"
            table.add_row(name, *(f"{shares[kind]:.0%}" for kind in KIND_STYLES))
        if not collection.keys:
            table.add_row("(no key known: pass MODULE, --uri or --key)", *("-" for _ in KIND_STYLES))
        out.print(table)
        shapes = Table(show_header=True)
        for column in ("count", "share", "operation", "shape", *collection.keys):
            shapes.add_column(column, overflow="fold")
        for figures in collection.shapes[:top]:
            verdicts = [styled(kind, KIND_STYLES[kind]) + (" *" if label in figures.writes else "")
                        for label, (kind, _) in figures.kinds.items()]
            flags = [name for name, on in (("many", figures.multi), ("one", figures.multi is False), ("upsert", figures.upsert)) if on]
            operation = figures.operation + (f" ({', '.join(flags)})" if flags else "")
            shapes.add_row(str(figures.count), f"{figures.share:.0%}", operation, json.dumps(figures.shape), *verdicts)
        out.print(shapes)
        write_notes = {text for figures in collection.shapes[:top] for text in figures.writes.values()}
        for text in sorted(write_notes):
            out.print(f"  * {text}")
