"""Commands that run a cluster: ``init``, ``compose``, ``up``, ``status``, ``down``."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any, Optional

import typer

from .app import EXIT_INCOMPLETE, JSON_OPTION, TOPOLOGY_OPTION, app
from .inputs import cluster_source, load_cli_topology
from .output import console, fail, json_text, key_text, known, plain, print_json, progress, yes

if TYPE_CHECKING:  # pragma: no cover
    from ..deploy.health import ClusterStatus
    from ..deploy.topology import Topology

@app.command()
def init(file: str = TOPOLOGY_OPTION,
         no_auth: bool = typer.Option(False, "--no-auth", help="No keyfile and no admin user: for throw-away clusters only."),
         force: bool = typer.Option(False, "--force", help="Overwrite an existing topology file.")) -> None:
    """Write a commented mongoshard.yaml with the default cluster, and generate its secrets."""
    from pathlib import Path

    from ..deploy.credentials import ensure_credentials
    from ..deploy.topology import Topology, commented_topology

    target = Path(file)
    if target.exists() and not force:
        fail(f"{target} already exists; edit it, or pass --force to overwrite it with the defaults")
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

    from ..deploy.compose import render_compose
    from ..deploy.credentials import ensure_credentials

    topology = load_cli_topology(file)
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
    from ..deploy import health, local

    topology = load_cli_topology(file, no_auth)
    with progress("starting the cluster") as say:
        if use_compose:
            _compose_up(topology, timeout, say)
            result = None
        else:
            result = local.up(topology, bin_dir=bin_dir, timeout=timeout, progress=say)
    report = health.status(topology)
    if as_json:
        print_json({"up": plain(result) if result else None, "status": plain(report)})
    else:
        _print_up(topology, result, report)
    if result is not None and result.missing_router:
        print(f"mongoshard: {result.missing_router}", file=sys.stderr)
        raise typer.Exit(EXIT_INCOMPLETE)


def _compose_up(topology: "Topology", timeout: float, say: Any) -> None:
    from pathlib import Path

    from ..deploy.bootstrap import wait_for_router
    from ..deploy.compose import compose_up, render_compose
    from ..deploy.credentials import ensure_credentials

    if topology.auth:
        ensure_credentials(topology.data_dir)
    target = Path("compose.yaml")
    target.write_text(render_compose(topology))
    say(f"docker compose -p {topology.name} up -d")
    compose_up(target, topology.name)
    say("waiting for mongos and every shard")
    wait_for_router(topology, timeout=timeout)


def _print_up(topology: "Topology", result: Any, report: "ClusterStatus") -> None:
    
    if result is not None and not result.started:
        print("Already running: nothing started.")
    elif result is not None:
        print(f"Started {', '.join(result.started)}" + (f"; initiated {', '.join(result.initiated)}" if result.initiated else "")
              + (f"; added shard(s) {', '.join(result.shards_added)}" if result.shards_added else ""))
    print_status(report)
    if report.healthy:
        login = f" as admin (password in {topology.data_dir}/admin-password)" if topology.auth else ""
        print(f"Connect to {topology.router_uri}{login}")


@app.command()
def status(file: str = TOPOLOGY_OPTION,
           uri: Optional[str] = typer.Option(None, "--uri", help="Report this cluster (a mongos or config server member) instead of the local one."),
           as_json: bool = JSON_OPTION) -> None:
    """Local processes (pid, port, replica set state) and the cluster: version, shards, routers, balancer, databases, collections.

    Exit 1 when a local process is not healthy or the cluster cannot be read.
    """
    from ..deploy.health import status as cluster_status
    from ..errors import MongoshardError
    from ..reports.status import overview

    processes = None if uri else cluster_status(load_cli_topology(file))
    cluster, problem = None, "no config server of the local cluster answers"
    if uri or any(p.role == "configsvr" and p.answering for p in processes.processes):
        try:
            cluster, problem = overview(cluster_source(uri, file)), None
        except MongoshardError as exc:
            if uri:
                raise
            problem = str(exc)
    if as_json:
        document = plain(processes) if processes else {}
        print_json(json.loads(json_text({**document, "cluster": plain(cluster) if cluster else None})))
    else:
        if processes:
            print_status(processes)
        if cluster:
            _print_overview(cluster)
        elif problem:
            print(f"Cluster: not readable ({problem})")
    if (processes and not processes.healthy) or cluster is None:
        raise typer.Exit(EXIT_INCOMPLETE)


def _print_overview(cluster: Any) -> None:
    from rich.table import Table

    out = console()
    state = cluster.balancer
    out.print(f"MongoDB {cluster.version or 'unknown'}; balancer {known(state.enabled, 'enabled', 'disabled')}"
                  + (f", window {state.window[0]}-{state.window[1]}" if state.window else ""), highlight=False)
    shards = Table(title="Shards", title_justify="left")
    for column in ("shard", "host", "state", "zones"):
        shards.add_column(column)
    for shard in cluster.shards:
        shards.add_row(shard.name, shard.host or "-", "active" if shard.state == 1 else str(shard.state), ", ".join(shard.tags) or "-")
    out.print(shards)
    out.print("Routers: " + (", ".join(f"{r.name} ({r.version}, last ping {r.last_ping:%H:%M:%S})" if r.last_ping else r.name
                                           for r in cluster.routers) or "none registered"), highlight=False)
    out.print("Databases: " + (", ".join(f"{d.name} (primary {d.primary})" for d in cluster.databases) or "none"), highlight=False)
    collections = Table(title="Sharded collections", title_justify="left")
    for column in ("namespace", "key", "chunks"):
        collections.add_column(column)
    for collection in cluster.collections:
        collections.add_row(collection.namespace, key_text(collection.key), str(collection.chunks))
    out.print(collections)


def print_status(report: "ClusterStatus") -> None:
    from rich.table import Table

    table = Table(title="Cluster processes")
    for column in ("process", "role", "port", "pid", "alive", "answering", "state"):
        table.add_column(column)
    for process in report.processes:
        healthy = process.state in ("PRIMARY", "SECONDARY", "router")
        table.add_row(process.name, process.role, str(process.port), str(process.pid or "-"),
                      yes(process.alive), yes(process.answering), f"[{'green' if healthy else 'red'}]{process.state}[/]")
    out = console()
    out.print(table)
    if report.shards:
        out.print("Shards: " + ", ".join(f"{s.name} ({s.host})" for s in report.shards), highlight=False)
    if report.routers:
        out.print("Routers: " + ", ".join(report.routers), highlight=False)
    for problem in report.problems:
        out.print(f"[red]problem:[/] {problem}", highlight=False)


@app.command()
def down(file: str = TOPOLOGY_OPTION,
         purge: bool = typer.Option(False, "--purge", help="Also delete the state directory: data, logs, keyfile and password.")) -> None:
    """Stop every process of the local cluster by its recorded pid, gracefully first."""
    from ..deploy.local import down as stop_cluster

    topology = load_cli_topology(file)
    with progress("stopping the cluster") as say:
        result = stop_cluster(topology, purge=purge, progress=say)
    print(f"Stopped {', '.join(result.stopped)}" if result.stopped else "Nothing was running.")
    if result.purged:
        print(f"Deleted {result.purged}")
