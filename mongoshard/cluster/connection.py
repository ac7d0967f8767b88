"""Connecting to a cluster with a clear sentence instead of a driver traceback, and never a secret in it."""

from __future__ import annotations

import contextlib
from typing import Any
from collections.abc import Iterator

from ..errors import MongoshardError, brief, redact, remember_secret, remember_uri_secrets

__all__ = ["connect", "shard_client", "direct_client", "reading_shard", "client_certificate", "ConnectionFailed",
           "SHARD_URI_VARIABLE"]

DEFAULT_TIMEOUT_MS = 5000
SHARD_URI_VARIABLE = "MONGOSHARD_SHARD_URI"
_AUTHENTICATION_FAILED, _UNAUTHORIZED = 18, 13
URI_SCHEMES = ("mongodb://", "mongodb+srv://")


class ConnectionFailed(MongoshardError):
    """The URI is malformed or nothing answered at its address."""


def connect(uri: str, *, timeout_ms: int = DEFAULT_TIMEOUT_MS, **options: Any) -> Any:
    """A MongoClient that has answered a ping; credentials never appear in errors."""
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    remember_uri_secrets(uri)
    remember_secret(options.get("password"))
    shown = redact(uri)
    if not uri.lower().startswith(URI_SCHEMES):
        raise ConnectionFailed(f"'{shown}' cannot be used: a MongoDB URI starts with mongodb:// or mongodb+srv://, "
                               "e.g. mongodb://host:27017")
    # A timeout written in the URI is the user's explicit choice; keyword arguments would override it.
    timeouts: dict[str, Any] = {name: timeout_ms for name in ("serverSelectionTimeoutMS", "connectTimeoutMS")
                                if name.lower() not in uri.lower()}
    # Every value MongoDB stores can be read: dates past year 9999 or before year 1 (as DatetimeMS, exact) and strings
    # that are not UTF-8 (their bad bytes read as U+FFFD: pymongo offers no handler that keeps them); a document is
    # never refused for a field mongoshard does not judge.
    readable = {"datetime_conversion": "DATETIME_AUTO", "unicode_decode_error_handler": "replace"}
    try:
        client: Any = MongoClient(uri, **timeouts, **{**readable, **options})
    except Exception as exc:  # InvalidURI, ConfigurationError, ValueError, TypeError, or OSError for a TLS file
        raise ConnectionFailed(f"'{shown}' cannot be used ({brief(exc)}); check the URI, e.g. mongodb://host:27017") from None
    try:
        client.admin.command("ping")
    except PyMongoError as exc:
        client.close()
        raise ConnectionFailed(
            f"Cannot reach {shown} ({brief(exc)}); check the address and that the server is up"
        ) from None
    return client


def client_certificate(certificate_file: str, key_file: str) -> str:
    """One PEM file holding the key and the certificate kept apart in a Kubernetes TLS Secret (tls.key, tls.crt), as
    the driver's ``tlsCertificateKeyFile`` needs them: written once per process into a private directory (0700, the
    file 0600) and removed at exit.  The operator's servers run with a CA file, so they refuse a TLS client that
    presents no certificate (tested on the real mongod)."""
    import atexit
    import os
    import shutil
    import tempfile

    parts = []
    for path in (key_file, certificate_file):
        try:
            with open(path, "rb") as handle:
                parts.append(handle.read(1024 * 1024))
        except OSError as exc:
            raise ConnectionFailed(f"cannot read the client certificate file {path} ({brief(exc)}); mount the TLS Secret "
                                   "there or fix the variable") from None
    directory = tempfile.mkdtemp(prefix="mongoshard-tls-")
    atexit.register(shutil.rmtree, directory, True)
    combined = os.path.join(directory, "client.pem")
    descriptor = os.open(combined, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(parts[0].rstrip(b"\n") + b"\n" + parts[1])
    return combined


@contextlib.contextmanager
def reading_shard(name: str, host: str | None) -> Iterator[None]:
    """Reads of one shard, straight from it (no router): a refused login becomes a sentence that says why and what to do.

    Users created through mongos (or on the config server) live on the config server only; a shard knows only its own
    users (the cluster mongoshard creates has an admin on every replica set, others often do not).
    """
    from pymongo.errors import OperationFailure

    try:
        yield
    except OperationFailure as exc:
        if exc.code not in (_AUTHENTICATION_FAILED, _UNAUTHORIZED):
            raise
        raise ConnectionFailed(
            f"shard {name} ({host}) refused the login ({brief(exc)}): without a router, reports read each shard directly, and "
            f"users created through mongos exist on the config server only; give a user that exists on every shard in "
            f"${SHARD_URI_VARIABLE} (e.g. mongodb://user:password@any/?authSource=admin), or report through a mongos") from None


def shard_client(host: str, **options: Any) -> Any:
    """A client for a shard as ``config.shards`` records it ("replicaSet/host:port,..."), without a router."""
    from pymongo import MongoClient

    replica_set, _, members = host.partition("/")
    if not members:  # a standalone shard: "host:port"
        replica_set, members = "", host
    extra: dict[str, Any] = {"replicaSet": replica_set} if replica_set else {"directConnection": True}
    return MongoClient(f"mongodb://{members}/", serverSelectionTimeoutMS=5000, **extra, **options)


def direct_client(port: int, *, host: str = "127.0.0.1", timeout_ms: int = 2000, **options: Any) -> Any:
    """A client for the one server at ``host:port``, without replica set discovery: bootstrapping and health checks."""
    from pymongo import MongoClient

    return MongoClient(f"mongodb://{host}:{port}/?directConnection=true", serverSelectionTimeoutMS=timeout_ms, **options)
