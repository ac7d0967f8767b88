"""Where a simulation's sample comes from: a JSON lines file, a ``module:function`` generator, or a MongoDB collection.

Each source fails with one sentence naming it: an unreadable or non-UTF-8
file, a line that is not a JSON document, a generator that cannot be
imported, raises while it runs, or yields something that is not a document,
a server that cannot be reached.
"""

from __future__ import annotations

import importlib
import itertools
from pathlib import Path
from typing import Any
from collections.abc import Callable, Iterator, Mapping

from ..errors import Interrupted, brief
from ..files import user_output_to_stderr
from .columns import SampleError

__all__ = ["iter_documents", "load_documents", "collection_data_size", "SampleError"]


def load_documents(source: str, *, collection: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """The sample as a list (small samples, tests); ``simulate`` streams ``iter_documents`` instead."""
    return list(iter_documents(source, collection=collection, limit=limit))


def iter_documents(source: str, *, collection: str | None = None, limit: int | None = None) -> Iterator[dict[str, Any]]:
    """Sample documents, one at a time, from a JSON lines file, a ``module:function`` generator, or a MongoDB URI
    (with ``collection``: a random sample of ``limit`` documents, in the collection's natural order)."""
    if "://" in source or collection is not None:
        return _from_server(source, collection, limit)
    path = Path(source)
    if path.exists() or path.suffix in (".json", ".jsonl", ".ndjson"):
        return itertools.islice(_from_file(path), limit)
    module_name, separator, function_name = source.partition(":")
    if not separator or not module_name or not function_name:
        raise SampleError(f"'{source}' is neither a file, a MongoDB URI nor MODULE:FUNCTION; check the name")
    return _from_generator(source, _generator(source, module_name, function_name), limit)


def _from_server(uri: str, collection: str | None, limit: int | None) -> Iterator[dict[str, Any]]:
    from pymongo.errors import PyMongoError

    from ..cluster.connection import connect

    database, name = _namespace(uri, collection)
    client = connect(uri)
    try:
        documents = client[database][name]
        query: dict[str, Any] = {}
        if limit:
            total = documents.estimated_document_count()
            if total > limit:
                # What analyzeShardKey does ($match {$sampleRate}, then $limit): a random sample that keeps the
                # natural (insertion) order, which monotonicity and hot inserts are measured on; a little over
                # the rate so that the limit, not chance, ends it.
                query = {"$sampleRate": min(1.0, 1.05 * limit / total)}
        yield from documents.find(query, limit=limit or 0, batch_size=10_000)
    except PyMongoError as exc:
        raise SampleError(f"cannot read {collection} ({brief(exc)}); check the name and the user's rights") from None
    finally:
        client.close()


def _namespace(uri: str, collection: str | None) -> tuple[str, str]:
    if "://" not in uri:
        raise SampleError("--collection needs the server's URI: give it as SOURCE, with --uri, or in $MONGOSHARD_URI")
    database, _, name = (collection or "").partition(".")
    if not database or not name:
        raise SampleError("a URI needs --collection DATABASE.COLLECTION to sample from")
    return database, name


def collection_data_size(uri: str, collection: str) -> int:
    """The collection's data size, uncompressed, over every shard ($collStats storageStats.size, one document per
    shard on a cluster): what a sample of it stands for."""
    from pymongo.errors import PyMongoError

    from ..cluster.connection import connect

    database, name = _namespace(uri, collection)
    client = connect(uri)
    try:
        stats = client[database][name].aggregate([{"$collStats": {"storageStats": {}}}])
        return sum(int(part["storageStats"].get("size", 0)) for part in stats)
    except PyMongoError as exc:
        raise SampleError(f"cannot read the size of {collection} ({brief(exc)}); give --data-size instead") from None
    finally:
        client.close()


def _from_file(path: Path) -> Iterator[dict[str, Any]]:
    from ..files import InvalidJson, parse_json_object, read_lines

    for number, line in read_lines(path, "the sample", hint="give a JSON lines file, MODULE:FUNCTION or a MongoDB URI"):
        if not line.strip():
            continue
        try:
            yield parse_json_object(line)
        except InvalidJson as exc:
            raise SampleError(f"{path}, line {number} {exc}") from None


def _generator(source: str, module_name: str, function_name: str) -> Any:
    try:
        with user_output_to_stderr():
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
    return generator


def _from_generator(source: str, generator: Any, limit: int | None) -> Iterator[dict[str, Any]]:
    """The user's generator, whose every failure is theirs to fix and ours to name (GeneratorExit, SystemExit and
    the like included); what it prints, at any level, goes to stderr while it runs."""
    yielded = 0
    end = object()
    with user_output_to_stderr():
        produced = _called(source, lambda: iter(generator()), yielded)
        while limit is None or yielded < limit:
            document = _called(source, lambda: next(produced, end), yielded)
            if document is end:
                return
            if not isinstance(document, Mapping):
                raise SampleError(f"the sample '{source}' yielded {str(document)[:40]!r} ({type(document).__name__}) "
                                  f"as document {yielded + 1}; it must yield documents (dicts)")
            yielded += 1
            yield document if type(document) is dict else dict(document)


def _called(source: str, step: Callable[[], Any], yielded: int) -> Any:
    """One step of the user's code; a GeneratorExit here is the user's own (the one closing this generator arrives at
    its ``yield``, outside)."""
    try:
        return step()
    except (SampleError, Interrupted):
        raise
    except BaseException as exc:
        raise SampleError(f"the sample '{source}' raised {type(exc).__name__} after {yielded} document(s): "
                          f"{brief(exc)}") from None
