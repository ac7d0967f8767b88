"""What the commands read: models, filters and keys, topology files, and where cluster facts come from.

Explicit beats default: a file named on the command line must exist, two
options that say the same thing differently are refused by name, and a URI
comes from ``--uri``, else ``$MONGOSHARD_URI`` (which keeps passwords out of
argv and ``ps``), else the local topology's cluster.
"""

from __future__ import annotations

import os
import re
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from ..units import size_text
from .app import URI_VARIABLE
from .output import fail, warn

if TYPE_CHECKING:  # pragma: no cover
    from ..deploy.topology import Topology
    from ..model.declaration import ShardSpec
    from ..routing.writes import Write

__all__ = ["model_spec", "read_filter", "read_key", "read_sort", "read_version", "read_collation", "parse_candidate", "cluster_of", "load_cli_topology",
           "cluster_source", "cluster_uri", "uri_credentials", "refuse_together"]


_OPTION_LABELS = {"file": "-f/--file", "routing_table": "-t/--routing-table", "source": "SOURCE"}


def refuse_together(why: str, **given: Any) -> None:
    """Fail when more than one of the named options was given: ``refuse_together("...", uri=..., snapshot=...)``."""
    named = [_OPTION_LABELS.get(name, f"--{name.replace('_', '-')}") for name, value in given.items()
             if value not in (None, False, (), [])]
    if len(named) > 1:
        fail(f"{' and '.join(named)} cannot be used together ({why}); give one of them")


def model_spec(target: str, database: str | None, *, offline: bool = False) -> ShardSpec:
    """The spec of MODULE:MODEL; offline, a database nobody names is ``$MONGOSHARD_URI``'s or shown as unknown."""
    from ..model.declaration import spec_for
    from ..model.discovery import UNKNOWN_DATABASE, load_model
    from .application import uri_database

    document_class = load_model(target)
    spec = spec_for(document_class, database=database, unknown_database=(uri_database() or UNKNOWN_DATABASE) if offline else None)
    if spec is None:
        fail(f"{document_class.__name__} declares no shard key; add meta['shard_key'] or @sharded(key=...)")
    return spec


def _json_document(text: str, what: str, example: str) -> dict[str, Any]:
    """An (Extended) JSON object given inline, as @FILE or as - (standard input)."""
    import bson

    from ..errors import brief
    from ..files import InvalidJson, parse_json_object, read_argument

    try:
        document = parse_json_object(read_argument(text, what))
    except InvalidJson as exc:
        fail(f"{what} {exc}; write it like {example}")
    try:
        bson.encode(document)  # what the driver would send: 64-bit integers, valid UTF-8, string keys
    except Exception as exc:
        fail(f"{what} is not a document MongoDB can receive ({brief(exc)}); write it like {example}")
    return document


def read_filter(text: str, what: str = "the filter") -> dict[str, Any]:
    """A filter the server would parse; inline JSON, @FILE or - for standard input."""
    from ..routing.filters import validate_filter

    document = _json_document(text, what, "'{\"user_id\": 7}'")
    validate_filter(document)
    return document


def read_key(text: str, what: str = "the key") -> dict[str, Any]:
    """A shard key pattern: fields mapped to 1 or "hashed", at most one of them hashed, as MongoDB requires."""
    from ..routing.table import key_pattern_problem

    pattern = _json_document(text, what, "'{\"user_id\": \"hashed\"}'")
    if problem := key_pattern_problem(list(pattern.items())):
        fail(f"{what} {problem}" if not pattern else f"{what}: {problem}")
    return {name: kind if kind == "hashed" else 1 for name, kind in pattern.items()}


def read_sort(text: str) -> list[tuple[str, int]]:
    """A sort document, fields mapped to 1 or -1, as (field, direction) pairs in order."""
    document = _json_document(text, "--sort", "'{\"level\": -1}'")
    for name, direction in document.items():
        if isinstance(direction, bool) or direction not in (1, -1):
            fail(f"--sort: the direction of '{name}' must be 1 or -1, not {direction!r}")
    return [(name, int(direction)) for name, direction in document.items()]


def parse_candidate(entry: str) -> tuple[str, dict[str, Any]]:
    namespace, separator, text = entry.partition("=")
    database, dot, collection = namespace.partition(".")
    if not separator or not dot or not database or not collection:
        fail(f"--key {entry[:80]!r} must be NAMESPACE=KEY_JSON, e.g. 'game.creatures={{\"species\": 1}}'")
    return namespace, read_key(text, f"the key of --key {namespace}")


def cluster_of(spec: ShardSpec, path: str | None, shard_count: int, version: tuple[int, int]) -> Any:
    """The cluster a route is predicted on: a snapshot file's, or a new one of ``shard_count`` shards."""
    from ..cluster.offline import PredictedSource, SnapshotSource

    if path:
        return SnapshotSource(path)
    return PredictedSource([spec], [f"shard{i}" for i in range(shard_count)], server_version=version)


class WriteOperation(StrEnum):
    """The write commands a router targets (``route --write``)."""

    insert = "insert"
    update = "update"
    delete = "delete"
    findAndModify = "findAndModify"


def require_write(**given: Any) -> None:
    """Options that describe a write, given without --write: refused rather than silently ignored."""
    named = [f"--{name.replace('_', '-')}" for name, value in given.items() if value not in (None, False)]
    if named:
        fail(f"{', '.join(named)} describe{'s' if len(named) == 1 else ''} a write: add --write update (or delete, "
             "findAndModify, insert), or remove " + ("it" if len(named) == 1 else "them"))


def write_of(operation: str, filter_document: dict, update: str | None, upsert: bool, multi: bool,
             collation: dict | None) -> Write:
    """The write ``route --write`` and ``explain --write`` describe, its options checked together."""
    from ..routing.writes import Write

    if operation == "insert":
        refuse_together("an insert sends a document, not an update", write="insert", update=update, upsert=upsert or None,
                        multi=multi or None)
        return Write("insert", document=filter_document)
    if operation in ("update", "findAndModify") and update is None:
        fail(f"--write {operation} needs --update, e.g. --update '{{\"$set\": {{\"status\": \"done\"}}}}'")
    if operation == "delete" and (update is not None or upsert):
        fail("--write delete takes no --update or --upsert; remove them")
    if operation == "findAndModify" and multi:
        fail("--write findAndModify changes one document: remove --multi")
    return Write(operation, filter=filter_document, update=read_update(update) if update is not None else None,  # type: ignore[arg-type]
                 upsert=upsert, multi=multi, collation=collation)


def read_update(text: str) -> dict[str, Any] | list[dict[str, Any]]:
    """An update as a driver sends it: operators ({"$set": ...}), a replacement document, or a pipeline (a JSON array
    of stages); inline, @FILE or -."""
    import bson

    from ..errors import brief
    from ..files import InvalidJson, parse_json_value, read_argument
    from ..routing.writes import WriteError, update_style

    example = '\'{"$set": {"status": "done"}}\' or a pipeline \'[{"$set": {"status": "done"}}]\''
    try:
        update = parse_json_value(read_argument(text, "--update"))
    except InvalidJson as exc:
        fail(f"--update {exc}; write it like {example}")
    if isinstance(update, list):
        if not update or not all(isinstance(stage, dict) and len(stage) == 1 and str(next(iter(stage))).startswith("$")
                                 for stage in update):
            fail(f"--update as a pipeline is a non-empty list of stages, each one {{\"$stage\": ...}}, e.g. {example}")
    elif not isinstance(update, dict):
        fail(f"--update must be a document or a pipeline (a list), not {type(update).__name__}; write it like {example}")
    try:
        bson.encode({"u": update})
        update_style(update)
    except WriteError as exc:
        fail(f"--update: {exc}")
    except Exception as exc:
        fail(f"--update is not something MongoDB can receive ({brief(exc)}); write it like {example}")
    return update


def read_collation(text: str) -> dict[str, Any]:
    """A collation document such as {"locale": "fr"} (the server checks the rest of it)."""
    from ..routing.collation import CollationError, check_collation

    document = _json_document(text, "--collation", "'{\"locale\": \"fr\"}'")
    try:
        check_collation(document)
    except CollationError as exc:
        fail(f"--collation: {exc}")
    return document


def read_version(text: str) -> tuple[int, int]:
    """A server version such as 8.0 or 9.0 (a patch number is allowed and ignored)."""
    match = re.fullmatch(r"([1-9]\d?)\.(0|[1-9]\d?)(?:\.(?:0|[1-9]\d{0,3}))?", text.strip())
    if not match or (int(match.group(1)), int(match.group(2))) < (4, 4):
        fail(f"--server-version must be a MongoDB version from 4.4 on, such as 8.0 or 9.0, not {text!r}")
    return int(match.group(1)), int(match.group(2))


_SIZE_UNITS = {"": 1, "B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4, "PB": 1024**5}


def read_size(text: str, option: str, *, low: int = 1, high: int = 1024**5 * 64) -> int:
    """A size such as 10GB, 4.6MB or 128MB (units of 1024, as MongoDB's chunksize counts them); a bare number is bytes."""
    match = re.fullmatch(r"(\d{1,30}(?:\.\d{1,30})?)\s*([KMGTP]?B?)", text.strip().upper())
    if not match or match.group(2) not in _SIZE_UNITS:
        fail(f"{option} must be a size such as 10GB, 4.6MB or 128MB, not {text!r:.40}")
    size = float(match.group(1)) * _SIZE_UNITS[match.group(2)]
    if not low <= size <= high:
        fail(f"{option} {text.strip()[:40]} is outside {size_text(low)} to {size_text(high)}")
    return int(size)


def load_cli_topology(path: str | None, no_auth: bool = False) -> Topology:
    from dataclasses import replace

    from ..deploy.topology import load_topology

    topology = load_topology(path)
    for warning in topology.warnings:
        warn(warning)
    return replace(topology, auth=False) if no_auth else topology


def cluster_uri(uri: str | None) -> str | None:
    """--uri, else $MONGOSHARD_URI."""
    return uri or os.environ.get(URI_VARIABLE) or None


def cluster_source(uri: str | None, file: str | None, snapshot_file: str | None = None) -> Any:
    """Where report facts come from: --snapshot, --uri, -f's cluster, $MONGOSHARD_URI, or the local topology's cluster.

    The local cluster is read through its router, else its config server, as admin.
    """
    from ..cluster.connection import SHARD_URI_VARIABLE, ConnectionFailed, connect
    from ..cluster.live import ConfigDatabaseSource
    from ..cluster.offline import SnapshotSource
    from ..deploy.credentials import admin_client_options
    from ..errors import remember_uri_secrets

    refuse_together("each says where the cluster facts come from", snapshot=snapshot_file, uri=uri, file=file)
    if snapshot_file:
        return SnapshotSource(snapshot_file)
    chosen = uri or (None if file else cluster_uri(None))
    shard_uri = os.environ.get(SHARD_URI_VARIABLE)
    if shard_uri:
        remember_uri_secrets(shard_uri)
    if chosen:
        login = variable_client_options(chosen)
        return ConfigDatabaseSource(connect(chosen, **login), shard_options=uri_credentials(shard_uri or chosen) or login)
    topology = load_cli_topology(file)
    options = admin_client_options(topology.state_dir, required=topology.auth)
    try:
        client = connect(topology.router_uri, timeout_ms=1500, **options)
    except ConnectionFailed:
        config_port = topology.config_server.ports[0]
        client = connect(f"mongodb://127.0.0.1:{config_port}/?directConnection=true", **options)
    return ConfigDatabaseSource(client, shard_options=uri_credentials(shard_uri) if shard_uri else options)


def router_address(uri: str | None, file: str | None) -> tuple[str, dict[str, Any]]:
    """(URI, client options) of the cluster a command changes: --uri, else $MONGOSHARD_URI (a login from the
    variables), else the topology's first router as its admin."""
    from ..deploy.credentials import admin_client_options

    refuse_together("each says which cluster to change", uri=uri, file=file)
    chosen = uri or (None if file else cluster_uri(None))
    if chosen:
        return chosen, variable_client_options(chosen)
    topology = load_cli_topology(file)
    return topology.router_uri, admin_client_options(topology.state_dir, required=topology.auth)


USER_VARIABLE, PASSWORD_VARIABLE, AUTH_SOURCE_VARIABLE = "MONGOSHARD_USERNAME", "MONGOSHARD_PASSWORD", "MONGOSHARD_AUTH_SOURCE"
CERTIFICATE_VARIABLE, KEY_VARIABLE = "MONGOSHARD_TLS_CERTIFICATE_FILE", "MONGOSHARD_TLS_KEY_FILE"


def variable_client_options(uri: str) -> dict[str, Any]:
    """Client options from the environment, as a Kubernetes Job passes Secrets: the login in $MONGOSHARD_USERNAME and
    $MONGOSHARD_PASSWORD (authSource $MONGOSHARD_AUTH_SOURCE, else admin), so no password is escaped into a URI; and a
    client certificate in $MONGOSHARD_TLS_CERTIFICATE_FILE and $MONGOSHARD_TLS_KEY_FILE (a TLS Secret's tls.crt and
    tls.key)."""
    from ..cluster.connection import client_certificate
    from ..errors import remember_secret

    options: dict[str, Any] = {}
    for first, second, what in ((USER_VARIABLE, PASSWORD_VARIABLE, "a login"), (CERTIFICATE_VARIABLE, KEY_VARIABLE, "a certificate")):
        given = {name: os.environ.get(name) for name in (first, second)}
        if any(given.values()) and not all(given.values()):
            missing = next(name for name, value in given.items() if not value)
            present = next(name for name, value in given.items() if value)
            fail(f"${missing} is not set while ${present} is: {what} needs both, or neither")
    user, password = os.environ.get(USER_VARIABLE), os.environ.get(PASSWORD_VARIABLE)
    remember_secret(password)
    if user and password:
        if uri_credentials(uri):
            fail(f"the URI holds a login and ${USER_VARIABLE} gives another; keep one of them")
        options.update(username=user, password=password, authSource=os.environ.get(AUTH_SOURCE_VARIABLE) or "admin")
    if os.environ.get(CERTIFICATE_VARIABLE) and os.environ.get(KEY_VARIABLE):
        options["tlsCertificateKeyFile"] = client_certificate(os.environ[CERTIFICATE_VARIABLE], os.environ[KEY_VARIABLE])
    return options


def uri_credentials(uri: str) -> dict[str, Any]:
    """The URI's login, for the direct shard connections a config-server URI needs."""
    from pymongo.uri_parser import parse_uri

    try:
        parsed = parse_uri(uri)
    except Exception:  # connect() has already accepted this URI; a parser disagreement just means no shard login
        return {}
    if not parsed.get("username"):
        return {}
    options = {"username": parsed["username"], "password": parsed["password"]}
    if parsed["options"].get("authsource"):
        options["authSource"] = parsed["options"]["authsource"]
    return options
