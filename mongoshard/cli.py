"""The ``mongoshard`` command: a thin typer layer over the library.

Heavy imports (pymongo, mongoengine, rich) happen inside the commands so that
``mongoshard --help`` starts fast.  Exit codes: 0 success; 1 the cluster is
not as asked (incomplete ``up``, unhealthy ``status``, drift in ``apply``);
2 an error (one sentence on stderr, never a traceback).
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
    from .local import ClusterStatus
    from .routing import RoutingTable
    from .topology import Topology

EXIT_INCOMPLETE = 1
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
TOPOLOGY_OPTION = typer.Option("mongoshard.yaml", "--file", "-f", help="Topology file; a missing file means the default cluster.")


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
    from .routing import key_text

    return key_text(key)


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


def _topology(path: str, no_auth: bool = False) -> "Topology":
    from dataclasses import replace

    from .topology import load_topology

    topology = load_topology(path)
    for warning in topology.warnings:
        print(f"mongoshard: warning: {warning}", file=sys.stderr)
    return replace(topology, auth=False) if no_auth else topology


@app.command()
def init(file: str = TOPOLOGY_OPTION,
         no_auth: bool = typer.Option(False, "--no-auth", help="No keyfile and no admin user: for throw-away clusters only."),
         force: bool = typer.Option(False, "--force", help="Overwrite an existing topology file.")) -> None:
    """Write a commented mongoshard.yaml with the default cluster, and generate its secrets."""
    from pathlib import Path

    from .credentials import ensure_credentials
    from .topology import Topology, commented_topology

    target = Path(file)
    if target.exists() and not force:
        _fail(f"{target} already exists; edit it, or pass --force to overwrite it with the defaults")
    topology = Topology(auth=not no_auth)
    target.write_text(commented_topology(topology))
    print(f"Wrote {target}")
    if topology.auth:
        credentials = ensure_credentials(topology.data_dir)
        print(f"Keyfile {credentials.keyfile} (0400) and admin password {credentials.password_file} (0600) are ready; "
              f"keep {topology.data_dir}/ out of version control")


@app.command()
def compose(file: str = TOPOLOGY_OPTION,
            output: str = typer.Option("compose.yaml", "--output", "-o", help="Where to write; '-' for standard output.")) -> None:
    """Render the topology as a compose.yaml for Docker (official mongo image)."""
    from pathlib import Path

    from .compose import render_compose
    from .credentials import ensure_credentials

    topology = _topology(file)
    text = render_compose(topology)
    if output == "-":
        print(text, end="")
        return
    Path(output).write_text(text)
    if topology.auth:
        ensure_credentials(topology.data_dir)
    print(f"Wrote {output} ({len(topology.processes())} servers and an init service); start it with 'docker compose -p {topology.name} up -d'")


@app.command()
def up(file: str = TOPOLOGY_OPTION,
       bin_dir: Optional[str] = typer.Option(None, "--bin-dir", help="Directory holding mongod and mongos (else $MONGOSHARD_BIN_DIR, PATH, PyPI's mongod)."),
       no_auth: bool = typer.Option(False, "--no-auth", help="No keyfile and no admin user: for throw-away clusters only."),
       use_compose: bool = typer.Option(False, "--compose", help="Run 'docker compose up -d' on the rendered compose.yaml instead of local processes."),
       timeout: float = typer.Option(60.0, "--timeout", min=1, help="Seconds to wait for the cluster to answer."),
       as_json: bool = JSON_OPTION) -> None:
    """Start the cluster (local processes by default); a no-op for what already runs."""
    from . import local

    topology = _topology(file, no_auth)
    with _progress("starting the cluster") as say:
        if use_compose:
            _compose_up(topology, timeout, say)
            result = None
        else:
            result = local.up(topology, bin_dir=bin_dir, timeout=timeout, progress=say)
    report = local.status(topology)
    if as_json:
        _print_json({"up": _plain(result) if result else None, "status": _plain(report)})
    else:
        _print_up(topology, result, report)
    if result is not None and result.missing_router:
        print(f"mongoshard: {result.missing_router}", file=sys.stderr)
        raise typer.Exit(EXIT_INCOMPLETE)


def _compose_up(topology: "Topology", timeout: float, say: Any) -> None:
    from pathlib import Path

    from .compose import compose_up, render_compose
    from .credentials import ensure_credentials
    from .local import wait_for_router

    if topology.auth:
        ensure_credentials(topology.data_dir)
    target = Path("compose.yaml")
    target.write_text(render_compose(topology))
    say(f"docker compose -p {topology.name} up -d")
    compose_up(target, topology.name)
    say("waiting for mongos and every shard")
    wait_for_router(topology, timeout=timeout)


def _print_up(topology: "Topology", result: Any, report: "ClusterStatus") -> None:
    from .local import router_uri

    if result is not None and not result.started:
        print("Already running: nothing started.")
    elif result is not None:
        print(f"Started {', '.join(result.started)}" + (f"; initiated {', '.join(result.initiated)}" if result.initiated else "")
              + (f"; added shard(s) {', '.join(result.shards_added)}" if result.shards_added else ""))
    _print_status(report)
    if report.healthy:
        login = f" as admin (password in {topology.data_dir}/admin-password)" if topology.auth else ""
        print(f"Connect to {router_uri(topology)}{login}")


@app.command()
def status(file: str = TOPOLOGY_OPTION,
           uri: Optional[str] = typer.Option(None, "--uri", help="Report this cluster (a mongos or config server member) instead of the local one."),
           as_json: bool = JSON_OPTION) -> None:
    """Local processes (pid, port, replica set state) and the cluster: version, shards, routers, balancer, databases, collections.

    Exit 1 when a local process is not healthy or the cluster cannot be read.
    """
    from .errors import MongoshardError
    from .local import status as cluster_status
    from .overview import overview

    processes = None if uri else cluster_status(_topology(file))
    cluster, problem = None, "no config server of the local cluster answers"
    if uri or any(p.role == "configsvr" and p.answering for p in processes.processes):
        try:
            cluster, problem = overview(_cluster_source(uri, file)), None
        except MongoshardError as exc:
            if uri:
                raise
            problem = str(exc)
    if as_json:
        document = _plain(processes) if processes else {}
        _print_json(json.loads(_json_text({**document, "cluster": _plain(cluster) if cluster else None})))
    else:
        if processes:
            _print_status(processes)
        if cluster:
            _print_overview(cluster)
        elif problem:
            print(f"Cluster: not readable ({problem})")
    if (processes and not processes.healthy) or cluster is None:
        raise typer.Exit(EXIT_INCOMPLETE)


def _print_overview(cluster: Any) -> None:
    from rich.table import Table

    console = _console()
    state = cluster.balancer
    console.print(f"MongoDB {cluster.version or 'unknown'}; balancer {_known(state.enabled, 'enabled', 'disabled')}"
                  + (f", window {state.window[0]}-{state.window[1]}" if state.window else ""), highlight=False)
    shards = Table(title="Shards", title_justify="left")
    for column in ("shard", "host", "state", "zones"):
        shards.add_column(column)
    for shard in cluster.shards:
        shards.add_row(shard.name, shard.host or "-", "active" if shard.state == 1 else str(shard.state), ", ".join(shard.tags) or "-")
    console.print(shards)
    console.print("Routers: " + (", ".join(f"{r.name} ({r.version}, last ping {r.last_ping:%H:%M:%S})" if r.last_ping else r.name
                                           for r in cluster.routers) or "none registered"), highlight=False)
    console.print("Databases: " + (", ".join(f"{d.name} (primary {d.primary})" for d in cluster.databases) or "none"), highlight=False)
    collections = Table(title="Sharded collections", title_justify="left")
    for column in ("namespace", "key", "chunks"):
        collections.add_column(column)
    for collection in cluster.collections:
        collections.add_row(collection.namespace, _key_text(collection.key), str(collection.chunks))
    console.print(collections)


def _print_status(report: "ClusterStatus") -> None:
    from rich.table import Table

    table = Table(title="Cluster processes")
    for column in ("process", "role", "port", "pid", "alive", "answering", "state"):
        table.add_column(column)
    for process in report.processes:
        healthy = process.state in ("PRIMARY", "SECONDARY", "router")
        table.add_row(process.name, process.role, str(process.port), str(process.pid or "-"),
                      _yes(process.alive), _yes(process.answering), f"[{'green' if healthy else 'red'}]{process.state}[/]")
    console = _console()
    console.print(table)
    if report.shards:
        console.print("Shards: " + ", ".join(f"{s.name} ({s.host})" for s in report.shards), highlight=False)
    if report.routers:
        console.print("Routers: " + ", ".join(report.routers), highlight=False)
    for problem in report.problems:
        console.print(f"[red]problem:[/] {problem}", highlight=False)


def _yes(value: bool) -> str:
    return "yes" if value else "[red]no[/]"


@app.command()
def down(file: str = TOPOLOGY_OPTION,
         purge: bool = typer.Option(False, "--purge", help="Also delete the state directory: data, logs, keyfile and password.")) -> None:
    """Stop every process of the local cluster by its recorded pid, gracefully first."""
    from .local import down as stop_cluster

    topology = _topology(file)
    with _progress("stopping the cluster") as say:
        result = stop_cluster(topology, purge=purge, progress=say)
    print(f"Stopped {', '.join(result.stopped)}" if result.stopped else "Nothing was running.")
    if result.purged:
        print(f"Deleted {result.purged}")


@app.command(name="apply")
def apply_command(module: str = typer.Argument(..., help="Module or package with the Documents, e.g. examples.pokemon_storage.models"),
                  uri: Optional[str] = typer.Option(None, "--uri", help="A mongos (default: the topology's first router, as admin when auth is on)."),
                  file: str = TOPOLOGY_OPTION,
                  database: Optional[str] = DATABASE_OPTION,
                  dry_run: bool = typer.Option(False, "--dry-run", help="Print the commands that would run; change nothing."),
                  as_json: bool = JSON_OPTION) -> None:
    """Shard every declared collection (index, key, pre-split, zones); idempotent, exit 1 on drift."""
    from .connection import connect
    from .declaration import discover
    from .local import admin_client_options, router_uri
    from .operations import apply

    specs = discover(module, database=database)
    if not specs:
        _fail(f"No sharded Document in {module}: declare meta['shard_key'] or use @sharded")
    topology = _topology(file)
    client = connect(uri) if uri else connect(router_uri(topology), **admin_client_options(topology.data_dir))
    with _progress("applying shard keys"):
        result = apply(specs, client, dry_run=dry_run)
    if as_json:
        _print_json(json.loads(_json_text(_plain(result))))
    else:
        _print_apply(result)
    if result.drifted:
        raise typer.Exit(EXIT_INCOMPLETE)


def _print_apply(result: Any) -> None:
    console = _console()
    for collection in result.collections:
        colour = {"drift": "red", "planned": "yellow"}.get(collection.outcome, "green")
        console.print(f"[{colour}]{collection.message}[/]", highlight=False)
        for step in collection.steps:
            console.print(f"  {step.status:9} {step.action}: {_json_text(step.command)}", highlight=False, soft_wrap=True)


def _json_text(value: Any) -> str:
    from bson import json_util

    return json_util.dumps(value, json_options=json_util.RELAXED_JSON_OPTIONS)


def _plain(result: Any) -> Any:
    from dataclasses import asdict

    return asdict(result)


class _progress:
    """A spinner on stderr for waits longer than a second; the library reports steps through ``say``."""

    def __init__(self, title: str) -> None:
        from rich.console import Console

        self.console = Console(stderr=True)
        self.status = self.console.status(title)

    def __enter__(self) -> Any:
        self.status.__enter__()
        return lambda message: self.status.update(message)

    def __exit__(self, *exc: Any) -> None:
        self.status.__exit__(*exc)


URI_OPTION = typer.Option(None, "--uri", help="A mongos or config server member (default: the local topology's cluster).")
SNAPSHOT_OPTION = typer.Option(None, "--snapshot", help="Read a snapshot file (from 'mongoshard snapshot') instead of a live cluster.")
EXIT_IMBALANCED = 3


def _cluster_source(uri: str | None, file: str, snapshot_file: str | None = None) -> Any:
    """Where report facts come from: a snapshot file, --uri, or the topology's router, else its config server."""
    from .connection import ConnectionFailed, connect
    from .local import admin_client_options, router_uri
    from .sources import ConfigDatabaseSource, SnapshotSource

    if snapshot_file:
        return SnapshotSource(snapshot_file)
    if uri:
        return ConfigDatabaseSource(connect(uri), shard_options=_uri_credentials(uri))
    topology = _topology(file)
    options = admin_client_options(topology.data_dir)
    try:
        client = connect(router_uri(topology), timeout_ms=1500, **options)
    except ConnectionFailed:
        config_port = topology.config_server.ports[0]
        client = connect(f"mongodb://127.0.0.1:{config_port}/?directConnection=true", **options)
    return ConfigDatabaseSource(client, shard_options=options)


def _uri_credentials(uri: str) -> dict[str, Any]:
    """The URI's login, for the direct shard connections a config-server URI needs."""
    from pymongo.uri_parser import parse_uri

    parsed = parse_uri(uri)
    if not parsed.get("username"):
        return {}
    options = {"username": parsed["username"], "password": parsed["password"]}
    if parsed["options"].get("authsource"):
        options["authSource"] = parsed["options"]["authsource"]
    return options


@app.command(name="balance")
def balance_command(namespaces: Optional[list[str]] = typer.Argument(None, help="Collections (db.collection); default: every sharded one."),
                    uri: Optional[str] = URI_OPTION,
                    snapshot_file: Optional[str] = SNAPSHOT_OPTION,
                    file: str = TOPOLOGY_OPTION,
                    max_imbalance: float = typer.Option(1.5, "--max-imbalance", min=1.0, help="Largest shard's share against the even share above which a collection is imbalanced."),
                    plot: Optional[str] = typer.Option(None, "--plot", help="Also draw chunks and data per shard to FILE (.svg, .html or .png)."),
                    as_json: bool = JSON_OPTION) -> None:
    """Chunks, documents and data per shard; exit 3 when a collection is imbalanced beyond --max-imbalance."""
    from .balance_report import balance

    with _progress("reading the cluster"):
        report = balance(_cluster_source(uri, file, snapshot_file), namespaces or None, max_imbalance=max_imbalance)
    if plot:
        from .plot import write_plot

        print(f"Wrote {write_plot(report, plot)}", file=sys.stderr)
    if as_json:
        _print_json(json.loads(_json_text({**_plain(report), "balanced": report.balanced})))
    else:
        _print_balance(report)
    if not report.balanced:
        raise typer.Exit(EXIT_IMBALANCED)


def _print_balance(report: Any) -> None:
    from rich.table import Table

    console = _console()
    state = report.balancer
    console.print(f"Balancer: {_known(state.enabled, 'enabled', 'disabled')}; balancing round: {_known(state.running, 'running', 'none')}"
                  + (f", window {state.window[0]}-{state.window[1]} ({_known(state.in_window, 'inside', 'outside')})" if state.window else ""),
                  highlight=False)
    if not report.collections:
        console.print("No sharded collection.")
    for collection in report.collections:
        colour = "green" if collection.balanced else "red"
        table = Table(title=f"{collection.namespace}  key {_key_text(collection.key)}  ({collection.strategy})", title_justify="left")
        for column in ("shard", "chunks", "jumbo", "documents", "data", f"share of {collection.measure}"):
            table.add_column(column, justify="right" if column != "shard" else "left")
        for shard in collection.shards:
            table.add_row(shard.shard, str(shard.chunks), str(shard.jumbo), _number(shard.documents), _size(shard.bytes),
                          f"[{colour}]{'█' * round(shard.share * 30):<30}[/] {shard.share:6.1%}")
        console.print(table)
        console.print(f"  [{colour}]imbalance {collection.imbalance:.2f}x the even share[/] (limit {report.max_imbalance:.2f}), "
                      f"spread {_spread(collection)}; {collection.verdict}", highlight=False)
        if collection.balancer_status:
            console.print(f"  balancerCollectionStatus: {_json_text(collection.balancer_status)}", highlight=False)


def _known(value: bool | None, yes: str, no: str) -> str:
    return "unknown" if value is None else (yes if value else no)


def _number(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _size(value: int | None) -> str:
    if value is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return str(value)


def _spread(collection: Any) -> str:
    return _size(int(collection.spread)) if collection.measure == "bytes" else f"{collection.spread:,.0f} {collection.measure}"


@app.command(name="explain")
def explain_command(target: str = typer.Argument(..., metavar="MODULE:MODEL", help="The Document class, e.g. examples.pokemon_storage.models:Creature"),
                    query: str = typer.Argument(..., metavar="FILTER_JSON", help="A MongoDB filter in (Extended) JSON, with database field names."),
                    sort: Optional[str] = typer.Option(None, "--sort", help='Sort as JSON, e.g. \'{"level": -1}\'.'),
                    uri: Optional[str] = URI_OPTION,
                    routing_table: Optional[str] = typer.Option(None, "--routing-table", "-t", help="Predict from this snapshot file only; no live plans."),
                    file: str = TOPOLOGY_OPTION,
                    database: Optional[str] = DATABASE_OPTION,
                    as_json: bool = JSON_OPTION) -> None:
    """Shards reached, merge stage and each shard's plan: live (router, else each shard) and predicted, with disagreements flagged."""
    from .query_plans import explain_query

    spec = _model_spec(target, database)
    filter_document = _parse_filter(query)
    sort_pairs = list(_parse_filter(sort).items()) if sort else None
    source = _cluster_source(None if routing_table else uri, file, routing_table)
    client = getattr(source, "client", None)
    with _progress("explaining"):
        report = explain_query(spec.namespace, filter_document, source, client=client, sort=sort_pairs,
                               shard_options=getattr(source, "shard_options", None))
    if as_json:
        _print_json(json.loads(_json_text(_plain(report))))
        return
    _print_explain(report)


def _print_explain(report: Any) -> None:
    from rich.table import Table

    console = _console()
    predicted = report.predicted
    style = {"single-shard": "green", "multi-shard": "yellow", "scatter-gather": "red"}[predicted.kind]
    console.print(f"[bold]{report.namespace}[/] filter {_json_text(report.filter)}", highlight=False)
    console.print(f"  predicted: [{style}]{predicted.kind}[/] -> {', '.join(predicted.shards)} ({predicted.reason})", highlight=False)
    for label, reading in (("live, through the router", report.live), ("read from each shard (no router)", report.from_shards)):
        if reading is None:
            continue
        console.print(f"  {label}: {reading.merge_stage} -> {', '.join(reading.shard_names)}", highlight=False)
        table = Table()
        for column in ("shard", "plan", "engine", "keys examined", "docs examined", "returned"):
            table.add_column(column)
        for plan in reading.shards:
            colour = "red" if "collection scan" in plan.plan else "green"
            table.add_row(plan.shard, f"[{colour}]{plan.plan}[/]", plan.engine, _number(plan.keys_examined),
                          _number(plan.docs_examined), _number(plan.returned))
        console.print(table)
    if report.disagreement:
        console.print(f"  [red]disagreement:[/] {report.disagreement}", highlight=False)


@app.command(name="audit")
def audit_command(log: str = typer.Argument(..., help="Query log (JSON lines) from mongoshard.audit.capture() or pytest --mongoshard-audit."),
                  module: Optional[str] = typer.Argument(None, help="Module with the Documents: their declared keys are judged too."),
                  key: Optional[list[str]] = typer.Option(None, "--key", help='Candidate key, repeatable: NAMESPACE=KEY_JSON, e.g. \'game.creatures={"species": 1}\'.'),
                  uri: Optional[str] = typer.Option(None, "--uri", help="Also judge the keys the collections are sharded with on this cluster."),
                  database: Optional[str] = DATABASE_OPTION,
                  top: int = typer.Option(10, "--top", min=1, help="Query shapes shown per collection."),
                  as_json: bool = JSON_OPTION) -> None:
    """Share of single-shard, multi-shard, scatter-gather and unknown queries per collection, under each key."""
    from .audit import audit, read_log

    keys: dict[str, dict[str, dict[str, Any]]] = {}
    if module:
        from .declaration import discover

        for spec in discover(module, database=database):
            keys.setdefault(spec.namespace, {})["declared"] = spec.key_pattern
    if uri:
        from .connection import connect
        from .sources import ConfigDatabaseSource

        source = ConfigDatabaseSource(connect(uri))
        for namespace, summary in source.chunk_summary(source.sharded_namespaces()).items():
            keys.setdefault(namespace, {})["current"] = summary.key
    for entry in key or []:
        namespace, pattern = _parse_candidate(entry)
        keys.setdefault(namespace, {})[_key_text(pattern)] = pattern
    report = audit(read_log(log), keys)
    if as_json:
        _print_json(_plain(report))
        return
    _print_audit(report, top)


def _parse_candidate(entry: str) -> tuple[str, dict[str, Any]]:
    namespace, separator, text = entry.partition("=")
    if not separator or "." not in namespace:
        _fail(f"--key '{entry}' must be NAMESPACE=KEY_JSON, e.g. 'game.creatures={{\"species\": 1}}'")
    pattern = _parse_filter(text)
    if not pattern or any(kind not in (1, -1, "hashed") for kind in pattern.values()):
        _fail(f"--key '{entry}': each key field must be 1 or \"hashed\"")
    return namespace, pattern


def _print_audit(report: Any, top: int) -> None:
    from rich.table import Table

    console = _console()
    console.print(f"{report.total} queries in {len(report.collections)} collection(s)")
    colours = {"single-shard": "green", "multi-shard": "yellow", "scatter-gather": "red", "unknown": "magenta"}
    for collection in report.collections:
        table = Table(title=f"{collection.namespace}: {collection.total} queries", title_justify="left")
        table.add_column("key")
        for kind, colour in colours.items():
            table.add_column(f"[{colour}]{kind}[/]", justify="right")
        for label, shares in collection.distribution.items():
            name = label if label.startswith("{") else f"{label} {_key_text(collection.keys[label])}"
            table.add_row(name, *(f"{shares[kind]:.0%}" for kind in colours))
        if not collection.keys:
            table.add_row("(no key known: pass MODULE, --uri or --key)", "-", "-", "-", "-")
        console.print(table)
        shapes = Table(show_header=True)
        for column in ("count", "share", "operation", "shape", *collection.keys):
            shapes.add_column(column, overflow="fold")
        for figures in collection.shapes[:top]:
            verdicts = [f"[{colours[kind]}]{kind}[/]" for kind, _ in figures.kinds.values()]
            shapes.add_row(str(figures.count), f"{figures.share:.0%}", figures.operation, json.dumps(figures.shape), *verdicts)
        console.print(shapes)


@app.command(name="advise")
def advise_command(module: str = typer.Argument(..., help="Module or package with the Documents."),
                   audit_log: Optional[str] = typer.Option(None, "--audit", help="Query log (JSON lines) to judge real queries too."),
                   database: Optional[str] = DATABASE_OPTION,
                   as_json: bool = JSON_OPTION) -> None:
    """Lint the declared shard keys: hot spots, jumbo chunks, lost uniqueness, broadcast queries; exit 1 on an error."""
    from .advice import advise
    from .audit import read_log
    from .declaration import discover

    findings = advise(discover(module, database=database), read_log(audit_log) if audit_log else ())
    if as_json:
        _print_json([_plain(f) for f in findings])
    else:
        console = _console()
        colours = {"error": "red", "warning": "yellow", "info": "blue"}
        for finding in findings:
            console.print(f"[{colours[finding.severity]}]{finding.severity}[/] [bold]{finding.namespace}[/] ({finding.model}) "
                          f"{finding.rule}: {finding.message}\n  fix: {finding.fix}", highlight=False)
        errors = sum(f.severity == "error" for f in findings)
        console.print(f"{len(findings)} finding(s), {errors} error(s)" if findings else f"No findings for {module}.")
    if any(f.severity == "error" for f in findings):
        raise typer.Exit(EXIT_INCOMPLETE)


@app.command(name="simulate")
def simulate_command(source: str = typer.Argument(..., help="Sample data: a JSON lines file, MODULE:FUNCTION yielding documents, or a MongoDB URI with --collection."),
                     key: list[str] = typer.Option(..., "--key", help='Candidate key as JSON, repeatable, e.g. \'{"user_id": "hashed"}\'.'),
                     shards: int = typer.Option(2, "--shards", min=1, help="Shards to simulate."),
                     collection: Optional[str] = typer.Option(None, "--collection", help="DATABASE.COLLECTION to sample when SOURCE is a URI."),
                     limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Use at most this many documents."),
                     audit_log: Optional[str] = typer.Option(None, "--audit", help="Query log to judge each key's targeting."),
                     plot: Optional[str] = typer.Option(None, "--plot", help="Draw data per shard per key to FILE (.svg or .html)."),
                     as_json: bool = JSON_OPTION) -> None:
    """Predict, for candidate keys, data and chunks per shard, jumbo chunks, hot inserts, targeting, and what adding a shard moves."""
    from .audit import read_log
    from .simulation import load_documents, simulate

    patterns = [_parse_candidate(f"x.x={text}")[1] for text in key]
    with _progress("reading the sample"):
        documents = load_documents(source, collection=collection, limit=limit)
    with _progress(f"simulating {len(patterns)} key(s) over {len(documents):,} documents"):
        report = simulate(documents, patterns, shards, audit_records=read_log(audit_log) if audit_log else ())
    if plot:
        from .plot import write_simulation_plot

        print(f"Wrote {write_simulation_plot(report, plot)}", file=sys.stderr)
    if as_json:
        _print_json(_plain(report))
        return
    _print_simulation(report)


def _print_simulation(report: Any) -> None:
    from rich.table import Table

    table = Table(title=f"{report.documents:,} documents over {report.shards} shards (chunks of at most {_size(report.chunk_bytes)})")
    table.add_column("")
    for candidate in report.candidates:
        table.add_column(_key_text(candidate.key), justify="right")
    rows = [
        ("data per shard", lambda c: " / ".join(f"{b / max(sum(c.bytes_per_shard), 1):.0%}" for b in c.bytes_per_shard)),
        ("chunks per shard", lambda c: " / ".join(str(n) for n in c.chunks_per_shard)),
        ("largest shard's share", lambda c: f"{c.largest_share:.1%}"),
        ("jumbo chunks", lambda c: str(c.jumbo_chunks)),
        ("recent inserts on the busiest shard", lambda c: f"{c.hot_insert_share:.0%}"),
        ("moved by adding a shard: chunk ranges", lambda c: f"{c.moved_by_chunks:.0%}"),
        ("moved by adding a shard: hash mod N", lambda c: f"{c.moved_by_modulo:.0%}"),
    ]
    if report.candidates and report.candidates[0].queries is not None:
        rows += [(f"queries {kind}", lambda c, kind=kind: f"{c.queries[kind]:.0%}") for kind in ("single-shard", "multi-shard", "scatter-gather", "unknown")]
    for label, cell in rows:
        table.add_row(label, *(cell(c) for c in report.candidates))
    _console().print(table)
