"""Where a simulation's sample comes from: a JSON lines file, a ``module:function`` generator, or a MongoDB collection.

Each source fails with one sentence naming it: an unreadable or non-UTF-8
file, a line that is not a JSON document, a generator that cannot be
imported, raises while it runs, or yields something that is not a document,
a server that cannot be reached.
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import sys
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from ..errors import Interrupted, MongoshardError, brief

__all__ = ["load_documents", "SampleError"]


class SampleError(MongoshardError):
    """The sample documents cannot be read."""


def load_documents(source: str, *, collection: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """Sample documents from a JSON lines file, a ``module:function`` generator, or a MongoDB URI (with ``collection``)."""
    if "://" in source or collection is not None:
        return _from_server(source, collection, limit)
    path = Path(source)
    if path.exists() or path.suffix in (".json", ".jsonl", ".ndjson"):
        return list(itertools.islice(_from_file(path), limit))
    module_name, separator, function_name = source.partition(":")
    if not separator or not module_name or not function_name:
        raise SampleError(f"'{source}' is neither a file, a MongoDB URI nor MODULE:FUNCTION; check the name")
    return _from_generator(source, module_name, function_name, limit)


def _from_server(uri: str, collection: str | None, limit: int | None) -> list[dict[str, Any]]:
    from pymongo.errors import PyMongoError

    from ..cluster.connection import connect

    if "://" not in uri:
        raise SampleError("--collection needs the server's URI: give it as SOURCE, with --uri, or in $MONGOSHARD_URI")
    database, _, name = (collection or "").partition(".")
    if not database or not name:
        raise SampleError("a URI needs --collection DATABASE.COLLECTION to sample from")
    client = connect(uri)
    try:
        return list(client[database][name].find({}, limit=limit or 0))
    except PyMongoError as exc:
        raise SampleError(f"cannot read {collection} ({brief(exc)}); check the name and the user's rights") from None
    finally:
        client.close()


def _from_file(path: Path) -> Iterator[dict[str, Any]]:
    from ..files import InvalidJson, parse_json_object, read_text

    text = read_text(path, "the sample", hint="give a JSON lines file, MODULE:FUNCTION or a MongoDB URI")
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            document = parse_json_object(line)
        except InvalidJson as exc:
            raise SampleError(f"{path}, line {number} {exc}") from None
        yield _storable(document, f"{path}, line {number}")


def _storable(document: dict[str, Any], where: str) -> dict[str, Any]:
    """A document MongoDB could store (string keys, BSON types, 64-bit integers, valid UTF-8, 100 levels at most)."""
    import bson

    try:
        bson.encode(document)
    except Exception as exc:  # InvalidDocument, OverflowError, UnicodeEncodeError, RecursionError, ...
        raise SampleError(f"{where} cannot be stored in MongoDB ({type(exc).__name__}: {brief(exc)})") from None
    return document


def _from_generator(source: str, module_name: str, function_name: str, limit: int | None) -> list[dict[str, Any]]:
    """The user's generator, whose every failure is theirs to fix and ours to name."""
    try:
        generator = getattr(importlib.import_module(module_name), function_name)
    except ModuleNotFoundError as exc:
        raise SampleError(f"cannot import '{module_name}' for the sample '{source}' ({exc}); check the module name") from None
    except AttributeError:
        raise SampleError(f"module '{module_name}' has no function '{function_name}'; check the sample '{source}'") from None
    except Interrupted:
        raise
    except BaseException as exc:
        raise SampleError(f"importing '{module_name}' for the sample failed ({type(exc).__name__}: {brief(exc)})") from None
    if not callable(generator):
        raise SampleError(f"'{source}' is not a function; point at one that yields documents")
    documents = []
    try:
        with contextlib.redirect_stdout(sys.stderr):  # what the generator prints is not our output
            produced: Iterable[Any] = generator()
            for number, document in enumerate(itertools.islice(produced, limit), 1):
                if not isinstance(document, Mapping):
                    raise SampleError(f"the sample '{source}' yielded {str(document)[:40]!r} ({type(document).__name__}) "
                                      f"as document {number}; it must yield documents (dicts)")
                documents.append(_storable(dict(document), f"the sample '{source}', document {number}"))
    except (SampleError, Interrupted):
        raise
    except BaseException as exc:
        raise SampleError(f"the sample '{source}' raised {type(exc).__name__} after {len(documents)} document(s): "
                          f"{brief(exc)}") from None
    return documents
