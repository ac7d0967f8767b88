"""Commands that run a cluster: ``init``, ``compose``, ``up``, ``status``, ``down``."""


import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer

from .app import FORCE_OPTION, JSON_OPTION, TOPOLOGY_OPTION, URI_OPTION, app
from .boundary import EXIT_INCOMPLETE
from .inputs import cluster_source, cluster_uri, load_cli_topology, refuse_together
from .output import console, fail, json_text, key_text, known, plain, print_json, progress, say, styled, warn, yes

if TYPE_CHECKING:  # pragma: no cover
    from ..deploy.health import ClusterStatus
    from ..deploy.topology import Topology

MAX_TIMEOUT_S = 86_400
NO_AUTH_OPTION = typer.Option(False, "--no-auth", help="No keyfile and no admin user: for throw-away clusters only.")
COMPOSE_OUTPUT_OPTION = typer.Option(None, "--output", "-o", help="Compose file to write (default: compose.yaml beside the topology file); '-' for standard output.")


@app.command()
def init(file: Optional[str] = typer.Option(None, "--file", "-f", help="Topology file to write (default: mongoshard.yaml)."),
         no_auth: bool = NO_AUTH_OPTION,
         force: bool = typer.Option(False, "--force", help="Overwrite an existing topology file.")) -> None:
    """Write a commented mongoshard.yaml with the default cluster, and generate its secrets."""
    from dataclasses import replace

    from ..deploy.credentials import ensure_credentials
    from ..deploy.topology import DEFAULT_FILE, Topology, commented_topology
    from ..files import check_writable, write_text

    target = Path(file or DEFAULT_FILE)
    if target.exists() and not target.is_symlink() and not force:
        fail(f"{target} already exists; edit it, or pass --force to overwrite it with the defaults")
    check_writable(target, "the topology file", ours=lambda _: True, force=force)  # a link, dangling or not, is refused
    topology = replace(Topology(auth=not no_auth), root=target.resolve().parent)
    credentials = ensure_credentials(topology.state_dir) if topology.auth else None  # a damaged secret stops us first
    write_text(target, commented_topology(topology), "the topology file", force=True)
    say(f"Wrote {target}")
    if credentials is not None:
        say(f"Keyfile {credentials.keyfile} (0400) and admin password {credentials.password_file} (0600) are ready; "
              f"keep {topology.state_dir}/ out of version control")


@app.command()
def compose(file: Optional[str] = TOPOLOGY_OPTION,
            output: Optional[str] = COMPOSE_OUTPUT_OPTION,
            force: bool = FORCE_OPTION) -> None:
    """Render the topology as a compose.yaml for Docker (official mongo image)."""
    from ..deploy.compose import render_compose

    topology = load_cli_topology(file)
    if output == "-":
        print(render_compose(topology), end="")
        return
    target = _write_compose(topology, output, force)
    say(f"Wrote {target} ({len(topology.processes())} servers and an init service); "
          f"start it with 'docker compose -p {topology.name} -f {target} up -d'")


def _write_compose(topology: "Topology", output: str | None, force: bool) -> Path:
    """Render and write the compose file (never over a file mongoshard did not render), and make its secrets."""
    from ..deploy.compose import is_rendered, render_compose
    from ..deploy.credentials import ensure_credentials
    from ..files import check_writable, write_text

    target = check_writable(output if output is not None else (topology.root or Path.cwd()) / "compose.yaml",
                            "the compose file (-o FILE)", ours=is_rendered, force=force)
    text = render_compose(topology, target.resolve().parent)
    if topology.auth:
        ensure_credentials(topology.state_dir)  # before writing: a damaged secret must leave nothing behind
    write_text(target, text, "the compose file (-o FILE)", ours=is_rendered, force=force)
    return target


@app.command()
def up(file: Optional[str] = TOPOLOGY_OPTION,
       bin_dir: Optional[str] = typer.Option(None, "--bin-dir", help="Directory holding mongod and mongos (else $MONGOSHARD_BIN_DIR, PATH, PyPI's mongod); not with --compose."),
       no_auth: bool = NO_AUTH_OPTION,
       use_compose: bool = typer.Option(False, "--compose", help="Run 'docker compose up -d' on the rendered compose file instead of local processes."),
       output: Optional[str] = typer.Option(None, "--output", "-o", help="With --compose: the compose file to write (default: compose.yaml beside the topology file)."),
       force: bool = FORCE_OPTION,
       timeout: float = typer.Option(60.0, "--timeout", min=1, help="Seconds to wait for the cluster to answer."),
       as_json: bool = JSON_OPTION) -> None:
    """Start the cluster (local processes by default); a no-op for what already runs."""
    from ..deploy import health, local

    refuse_together("--bin-dir chooses local binaries, --compose runs containers", compose=use_compose, bin_dir=bin_dir)
    if not math.isfinite(timeout) or timeout > MAX_TIMEOUT_S:
        fail(f"--timeout must be a number of seconds from 1 to {MAX_TIMEOUT_S:,}, not {timeout}")
    if not use_compose and (output or force):
        fail("--output and --force choose the compose file: use them with --compose")
    topology = load_cli_topology(file, no_auth)
    with progress("starting the cluster") as step:
        if use_compose:
            _compose_up(topology, output, force, timeout, step)
            result = None
        else:
            result = local.up(topology, bin_dir=bin_dir, timeout=timeout, progress=step)
    report = health.status(topology)
    if as_json:
        print_json({"up": plain(result) if result else None, "status": plain(report)})
    else:
        _print_up(topology, result, report)
    if result is not None and result.missing_router:
        warn(result.missing_router)
        raise typer.Exit(EXIT_INCOMPLETE)


def _compose_up(topology: "Topology", output: str | None, force: bool, timeout: float, step: Any) -> None:
    from ..deploy.bootstrap import wait_for_router
    from ..deploy.compose import compose_up

    target = _write_compose(topology, output, force)
    step(f"docker compose -p {topology.name} up -d")
    compose_up(target, topology.name)
    step("waiting for mongos and every shard")
    wait_for_router(topology, timeout=timeout)


def _print_up(topology: "Topology", result: Any, report: "ClusterStatus") -> None:
    if result is not None and not result.started:
        say("Already running: nothing started.")
    elif result is not None:
        say(f"Started {', '.join(result.started)}" + (f"; initiated {', '.join(result.initiated)}" if result.initiated else "")
              + (f"; added shard(s) {', '.join(result.shards_added)}" if result.shards_added else ""))
    print_status(report)
    if report.healthy:
        login = f" as admin (password in {topology.state_dir / 'admin-password'})" if topology.auth else ""
        say(f"Connect to {topology.router_uri}{login}")


@app.command()
def status(file: Optional[str] = TOPOLOGY_OPTION,
           uri: Optional[str] = URI_OPTION,
           as_json: bool = JSON_OPTION) -> None:
    """Local processes (pid, port, replica set state) and the cluster: version, shards, routers, balancer, databases, collections.

    Exit 1 when a local process is not healthy or the cluster cannot be read.
    """
    from ..deploy.health import status as cluster_status
    from ..errors import MongoshardError
    from ..reports.status import overview

    refuse_together("-f reports the local cluster, --uri another one", uri=uri, file=file)
    remote = uri or (None if file else cluster_uri(None))
    processes = None if remote else cluster_status(load_cli_topology(file))
    cluster: Any = None
    problem: str | None = "no config server of the local cluster answers"
    if remote or (processes is not None and any(p.role == "configsvr" and p.answering for p in processes.processes)):
        try:
            cluster, problem = overview(cluster_source(remote, file)), None
        except MongoshardError as exc:
            if remote:
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
            say(f"Cluster: not readable ({problem})")
    if (processes and not processes.healthy) or cluster is None:
        raise typer.Exit(EXIT_INCOMPLETE)


def _print_overview(cluster: Any) -> None:
    from rich.table import Table

    out = console()
    state = cluster.balancer
    out.print(f"MongoDB {cluster.version or 'unknown'}; balancer {known(state.enabled, 'enabled', 'disabled')}"
              + (f", window {state.window[0]}-{state.window[1]}" if state.window else ""))
    shards = Table(title="Shards", title_justify="left")
    for column in ("shard", "host", "state", "zones"):
        shards.add_column(column)
    for shard in cluster.shards:
        shards.add_row(shard.name, shard.host or "-", "active" if shard.state == 1 else str(shard.state), ", ".join(shard.tags) or "-")
    out.print(shards)
    out.print("Routers: " + (", ".join(f"{r.name} ({r.version}, last ping {r.last_ping:%H:%M:%S})" if r.last_ping else r.name
                                       for r in cluster.routers) or "none registered"))
    out.print("Databases: " + (", ".join(f"{d.name} (primary {d.primary})" for d in cluster.databases) or "none"))
    collections = Table(title="Sharded collections", title_justify="left")
    for column in ("namespace", "key", "chunks"):
        collections.add_column(column)
    for collection in cluster.collections:
        collections.add_row(collection.namespace, key_text(collection.key), str(collection.chunks))
    out.print(collections)


def print_status(report: "ClusterStatus") -> None:
    from rich.table import Table

    from ..deploy.health import HEALTHY_STATES

    table = Table(title="Cluster processes")
    for column in ("process", "role", "port", "pid", "alive", "answering", "state"):
        table.add_column(column)
    for process in report.processes:
        table.add_row(process.name, process.role, str(process.port), str(process.pid or "-"), yes(process.alive),
                      yes(process.answering), styled(process.state, "green" if process.state in HEALTHY_STATES else "red"))
    out = console()
    out.print(table)
    if report.shards:
        out.print("Shards: " + ", ".join(f"{s.name} ({s.host})" for s in report.shards))
    if report.routers:
        out.print("Routers: " + ", ".join(report.routers))
    for problem in report.problems:
        out.print(styled("problem: ", "red") + problem)


@app.command()
def down(file: Optional[str] = TOPOLOGY_OPTION,
         purge: bool = typer.Option(False, "--purge", help="Also delete what mongoshard created in the state directory: state.json, data/, logs/, keyfile, admin-password; nothing else.")) -> None:
    """Stop every process of the local cluster (found by its record, or its command line), gracefully first."""
    from ..deploy.local import down as stop_cluster

    topology = load_cli_topology(file)
    with progress("stopping the cluster") as step:
        result = stop_cluster(topology, purge=purge, progress=step)
    say(f"Stopped {', '.join(result.stopped)}" if result.stopped else "Nothing was running.")
    if result.purged:
        purged = result.purged
        say(f"Deleted {len(purged.removed)} item(s) mongoshard created in {purged.directory}"
              + (f"; kept what it did not create: {', '.join(purged.kept[:10])}" if purged.kept else ""))
