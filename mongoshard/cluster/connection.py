"""Connecting to a cluster with a clear sentence instead of a driver traceback, and never a secret in it."""

from __future__ import annotations

from typing import Any

from ..errors import MongoshardError, brief, redact, remember_secret, remember_uri_secrets

__all__ = ["connect", "shard_client", "direct_client", "ConnectionFailed"]

DEFAULT_TIMEOUT_MS = 5000
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
    timeouts = {name: timeout_ms for name in ("serverSelectionTimeoutMS", "connectTimeoutMS") if name.lower() not in uri.lower()}
    try:
        client: Any = MongoClient(uri, **timeouts, **options)
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


def shard_client(host: str, **options: Any) -> Any:
    """A client for a shard as ``config.shards`` records it ("replicaSet/host:port,..."), without a router."""
    from pymongo import MongoClient

    replica_set, _, members = host.partition("/")
    if not members:  # a standalone shard: "host:port"
        replica_set, members = "", host
    extra = {"replicaSet": replica_set} if replica_set else {"directConnection": True}
    return MongoClient(f"mongodb://{members}/", serverSelectionTimeoutMS=5000, **extra, **options)


def direct_client(port: int, *, host: str = "127.0.0.1", timeout_ms: int = 2000, **options: Any) -> Any:
    """A client for the one server at ``host:port``, without replica set discovery: bootstrapping and health checks."""
    from pymongo import MongoClient

    return MongoClient(f"mongodb://{host}:{port}/?directConnection=true", serverSelectionTimeoutMS=timeout_ms, **options)
