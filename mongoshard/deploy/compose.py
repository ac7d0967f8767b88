"""A topology as a ``compose.yaml`` for Docker, and ``docker compose up`` on it.

One service per server process from the official ``mongo`` image, each with a
health check and a named volume; ports published on 127.0.0.1 only, with the
same numbers as the local layout, so ``status`` and ``apply`` reach a compose
cluster exactly like a local one.  A one-shot ``init`` service runs
``deploy/compose/init-cluster.js`` in mongosh: it initiates every replica set,
creates the admin user and adds every shard through mongos, checking before
each step, so running it again changes nothing.

The start-up order is the server's, read in its source:

* a mongos does not listen, so its health check cannot pass, until it has
  read ``config.version`` from an initiated config server replica set
  (``mongos_main.cpp`` ``runMongosServer`` -> ``initializeSharding`` ->
  ``loadGlobalSettingsFromConfigServer``, retried every 2 s);
* only ``init`` initiates that replica set.

So ``init`` waits for the mongods alone and reaches the router with retries;
waiting for a healthy mongos would deadlock.  The image's entrypoint runs any
command whose first word starts with ``mongo`` as uid 999 through gosu, and a
compose file secret is a bind mount keeping the host file's owner and 0400 or
0600 mode; so the servers copy the keyfile into place with mongod's owner,
and ``init`` runs as root through ``bash`` (which the entrypoint leaves
alone) to read its secrets.  The entrypoint adds ``--bind_ip_all`` for mongod
only, so every server gets it explicitly.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from importlib.resources import files
from pathlib import Path
from typing import Any

from ..errors import MongoshardError
from .topology import Process, Topology

__all__ = ["render_compose", "compose_document", "compose_up", "init_script", "init_plan", "is_rendered", "ComposeError",
           "COMPOSE_SINCE"]

KEYFILE_IN_CONTAINER = "/etc/mongo-keyfile"
PLAN_PLACEHOLDER = "const plan = PLAN;"
RENDERED_HEADER = "# Rendered by 'mongoshard compose' from mongoshard.yaml; edit that file, not this one."
HEALTHCHECK = {"interval": "5s", "timeout": "5s", "retries": 30, "start_period": "10s"}
SECRETS_IN_CONTAINER = {"keyfile": "/run/secrets/keyfile", "password": "/run/secrets/admin_password"}
INIT_VARIABLE = "MONGOSHARD_INIT_SCRIPT"
# The oldest image tag compose renders: 6.0 is past its end of life, and so is 7.0 (accepted with a warning).
COMPOSE_SINCE = (7, 0)
# How long the init job retries a step (the router answers only once the config server replica set is initiated).
RETRY_SECONDS = 300


def init_script() -> str:
    """The init job's mongosh script: ``deploy/compose/init-cluster.js`` of the repository, packaged as
    ``mongoshard/deploy/assets`` (a link to that folder), with its plan still to fill in."""
    return (files(__package__) / "assets" / "compose" / "init-cluster.js").read_text()


class ComposeError(MongoshardError):
    """docker compose is missing or failed, or the topology cannot run in containers."""


def _host(process: Process) -> str:
    return f"{process.name}:{process.port}"


def _server_command(process: Process, topology: Topology, hosts: dict[str, list[str]]) -> list[str]:
    if process.role == "mongos":
        config = topology.config_server.name
        arguments = ["mongos", "--configdb", f"{config}/{','.join(hosts[config])}"]
    else:
        arguments = ["mongod", f"--{process.role}", "--replSet", str(process.replica_set), "--dbpath", "/data/db"]
    arguments += ["--port", str(process.port), "--bind_ip_all"]
    if not topology.auth:
        return arguments
    # The bind-mounted secret belongs to the host's user; mongod (uid 999) needs its own 0400 copy.
    install = f"install -m 0400 -o mongodb -g mongodb {SECRETS_IN_CONTAINER['keyfile']} {KEYFILE_IN_CONTAINER}"
    return ["bash", "-c", f"{install} && exec docker-entrypoint.sh {' '.join(arguments)} --keyFile {KEYFILE_IN_CONTAINER}"]


def _server_service(process: Process, topology: Topology, hosts: dict[str, list[str]]) -> dict[str, Any]:
    service: dict[str, Any] = {
        "image": f"mongo:{topology.version}",
        "hostname": process.name,
        "command": _server_command(process, topology, hosts),
        "ports": [f"127.0.0.1:{process.port}:{process.port}"],
        # ping needs no credentials; a mongos answers only once its config server replica set is initiated.
        "healthcheck": {
            "test": ["CMD", "mongosh", "--quiet", "--port", str(process.port), "--eval",
                     "quit(db.adminCommand('ping').ok ? 0 : 1)"],
            **HEALTHCHECK,
        },
        "restart": "unless-stopped",
    }
    if process.role != "mongos":
        service["volumes"] = [f"{process.name}-data:/data/db"]
    else:
        service["depends_on"] = {p.name: {"condition": "service_started"} for p in topology.processes() if p.role == "configsvr"}
    if topology.auth:
        service["secrets"] = ["keyfile"]
    return service


def init_plan(topology: Topology, hosts: dict[str, list[str]] | None = None,
              secrets: dict[str, str] | None = None) -> dict[str, Any]:
    """What the init script does, as data: replica sets, router, shards, secrets' paths, retry time."""
    hosts = hosts or _hosts(topology)
    router = next(p for p in topology.processes() if p.role == "mongos")
    return {
        "auth": topology.auth,
        "secrets": secrets or SECRETS_IN_CONTAINER,
        "retrySeconds": RETRY_SECONDS,
        "replicaSets": [{"name": rs.name, "hosts": hosts[rs.name], "configsvr": rs.role == "configsvr"}
                        for rs in topology.replica_sets],
        "router": _host(router),
        "shards": [{"name": rs.name, "connection": f"{rs.name}/{','.join(hosts[rs.name])}"} for rs in topology.shards],
        "configShard": topology.config_shard,
    }


def filled_script(plan: dict[str, Any]) -> str:
    """The init script with its plan filled in."""
    script = init_script()
    if script.count(PLAN_PLACEHOLDER) != 1:
        raise ComposeError("the packaged init script has lost its plan placeholder; reinstall mongoshard")
    return script.replace(PLAN_PLACEHOLDER, f"const plan = {json.dumps(plan)};")


def _hosts(topology: Topology) -> dict[str, list[str]]:
    hosts: dict[str, list[str]] = {}
    for process in topology.processes():
        if process.replica_set:
            hosts.setdefault(process.replica_set, []).append(_host(process))
    return hosts


def compose_document(topology: Topology, compose_dir: Path | None = None) -> dict[str, Any]:
    """The compose file for ``topology`` as data, to be written in ``compose_dir`` (default: beside the topology file)."""
    if topology.version_tuple < COMPOSE_SINCE:
        raise ComposeError(f"MongoDB {topology.version} is past its end of life and its image is not rendered; "
                           "set version: '8.0' (or '9.0') in mongoshard.yaml")
    processes = topology.processes()
    hosts = _hosts(topology)
    services = {p.name: _server_service(p, topology, hosts) for p in processes}
    members = [p for p in processes if p.role != "mongos"]
    init: dict[str, Any] = {
        "image": f"mongo:{topology.version}",
        # bash keeps the entrypoint from switching to uid 999, which cannot read the host-owned secrets.
        "command": ["bash", "-c", f'exec mongosh --nodb --quiet --eval "${INIT_VARIABLE}"'],
        "environment": {INIT_VARIABLE: filled_script(init_plan(topology, hosts))},
        # Never the mongos: it becomes healthy only after this job has initiated the config servers.
        "depends_on": {p.name: {"condition": "service_healthy"} for p in members},
        "restart": "no",
    }
    if topology.auth:
        init["secrets"] = ["keyfile", "admin_password"]
    services["init"] = init
    document: dict[str, Any] = {
        "services": services,
        "volumes": {f"{p.name}-data": {} for p in members},
    }
    if topology.auth:
        secrets = _secrets_path(topology, compose_dir)
        document["secrets"] = {"keyfile": {"file": f"{secrets}/keyfile"}, "admin_password": {"file": f"{secrets}/admin-password"}}
    return document


def _secrets_path(topology: Topology, compose_dir: Path | None) -> str:
    """The state directory as the compose file names it: relative to the compose file's own directory."""
    base = (compose_dir or topology.root or Path.cwd()).resolve()
    relative = os.path.relpath(topology.state_dir, base)
    return relative if relative.startswith("..") else f"./{relative}"


def render_compose(topology: Topology, compose_dir: Path | None = None) -> str:
    """``compose.yaml`` text for ``topology``: stable, so the repository's copy can be checked."""
    import yaml

    header = (f"{RENDERED_HEADER}\n"
              f"# Usage: mongoshard init && docker compose -p {topology.name} up -d && "
              f"docker compose -p {topology.name} logs init\n")
    if topology.auth:
        header += (f"# Secrets come from {_secrets_path(topology, compose_dir)}/ (created by 'mongoshard init'); "
                   "never commit them.\n")
    body = yaml.dump(compose_document(topology, compose_dir), Dumper=_literal_blocks(), sort_keys=False,
                     default_flow_style=False, width=1000)
    # compose interpolates ${...} and $NAME everywhere; a literal dollar is written $$.
    return header + body.replace("$", "$$")


def is_rendered(text: str) -> bool:
    """Whether ``text`` is a compose file mongoshard rendered (and may therefore replace)."""
    return text.startswith(RENDERED_HEADER)


def compose_up(compose_file: str | Path, project: str) -> None:
    """``docker compose -p project up -d`` (or the older ``docker-compose``) on ``compose_file``.

    The project name is given on the command line, not in the file, because
    the ``name`` key is unknown to docker-compose 1.x.
    """
    command = _compose_command()
    arguments = [*command, "-f", str(compose_file), "-p", project]
    completed = subprocess.run([*arguments, "up", "-d"], capture_output=True, text=True)
    if completed.returncode != 0:
        last = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        raise ComposeError(f"'{' '.join(command)} up -d' failed ({last}); check that the Docker engine is running")


def _compose_command() -> list[str]:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy:
        return [legacy]
    raise ComposeError("Neither 'docker compose' nor 'docker-compose' is installed; install Docker, "
                       "or use 'mongoshard up' for local processes")


def _literal_blocks() -> type[Any]:
    """A YAML dumper that writes multi-line strings (the init script) as readable blocks."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> Any:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    return Dumper
