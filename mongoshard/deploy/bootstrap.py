"""Making started servers a cluster: initiate each replica set, create the admin user, add the shards.

Every step checks first, so running it again changes nothing.  It logs in as
MongoDB's internal ``__system`` user with the keyfile, which works the same
from the host and from a container, without the localhost exception.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any
from collections.abc import Callable

from ..cluster.connection import direct_client
from ..errors import brief
from .credentials import Credentials, admin_client_options
from .processes import Deadline, ProcessFailed
from .topology import ReplicaSet, Topology

__all__ = ["initiate", "add_shards", "wait_for_router", "until", "NOT_YET_INITIALIZED", "DEFAULT_TIMEOUT_S"]

DEFAULT_TIMEOUT_S = 60.0
# A member of a replica set answers "not yet initiated" with this code.
NOT_YET_INITIALIZED = 94
# The data shard of a config shard is named "config" (ShardId::kConfigServerId).
CONFIG_SHARD_NAME = "config"


def initiate(replica_set: ReplicaSet, internal: dict[str, Any], credentials: Credentials | None,
             deadline: Deadline) -> str | None:
    """Initiate ``replica_set`` unless it is, wait for its first member to be primary, create the admin user."""
    from pymongo.errors import OperationFailure

    initiated = None
    with direct_client(replica_set.ports[0], **internal) as client:
        try:
            client.admin.command("replSetGetStatus")
        except OperationFailure as exc:
            if exc.code != NOT_YET_INITIALIZED:
                raise
            client.admin.command("replSetInitiate", _replica_set_config(replica_set))
            initiated = replica_set.name
        until(deadline, lambda: client.admin.command("hello").get("isWritablePrimary"),
              f"{replica_set.name} elected no primary in time")
        if credentials is not None and not client.admin.command("usersInfo", "admin")["users"]:
            client.admin.command("createUser", "admin", pwd=credentials.password, roles=["root"])
    return initiated


def _replica_set_config(replica_set: ReplicaSet) -> dict[str, Any]:
    # The first member gets a higher priority so it is the primary we wait for.
    members = [{"_id": i, "host": f"127.0.0.1:{port}", "priority": 2 if i == 0 else 1}
               for i, port in enumerate(replica_set.ports)]
    config: dict[str, Any] = {"_id": replica_set.name, "members": members}
    if replica_set.role == "configsvr":
        config["configsvr"] = True
    return config


def add_shards(topology: Topology, internal: dict[str, Any], deadline: Deadline) -> tuple[str, ...]:
    """addShard through the first mongos for every shard it does not list yet; with a config shard (8.0+), the
    config server replica set joins as the shard named "config" (transitionFromDedicatedConfigServer)."""
    added = []
    with direct_client(topology.router_ports[0], **internal) as client:
        present = {shard["_id"] for shard in client.admin.command("listShards")["shards"]}
        for shard in topology.shards:
            if shard.name not in present:
                until(deadline,
                      functools.partial(client.admin.command, "addShard", f"{shard.name}/{shard.local_hosts}", name=shard.name),
                      f"mongos could not add {shard.name} in time")
                added.append(shard.name)
        if topology.config_shard and CONFIG_SHARD_NAME not in present:
            until(deadline, lambda: client.admin.command("transitionFromDedicatedConfigServer"),
                  "mongos could not make the config server a config shard in time")
            added.append(CONFIG_SHARD_NAME)
    return tuple(added)


def until(deadline: Deadline, attempt: Callable[[], Any], failure: str) -> Any:
    """Retry ``attempt`` until it returns something true; servers refuse work while electing."""
    from pymongo.errors import PyMongoError

    while True:
        if deadline.cancelled:
            raise ProcessFailed(f"{failure}: cancelled")
        try:
            result = attempt()
            if result:
                return result
        except PyMongoError as exc:
            if deadline.passed:
                raise ProcessFailed(f"{failure} ({brief(exc)})") from None
        if deadline.passed:
            raise ProcessFailed(failure)
        time.sleep(0.2)


def wait_for_router(topology: Topology, *, state_dir: str | Path | None = None,
                    timeout: float = DEFAULT_TIMEOUT_S) -> None:
    """Wait until the first mongos answers and lists every shard (a compose cluster's init has finished)."""
    options = admin_client_options(Path(state_dir) if state_dir else topology.state_dir)
    wanted = {shard.name for shard in topology.shards}
    with direct_client(topology.router_ports[0], **options) as client:
        until(Deadline(timeout),
              lambda: wanted <= {s["_id"] for s in client.admin.command("listShards")["shards"]},
              f"mongos on port {topology.router_ports[0]} did not list shards {', '.join(sorted(wanted))} in time")
