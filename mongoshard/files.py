"""Reading the user's files and writing ours: one sentence for every failure, and nothing overwritten that is not ours.

Every file mongoshard reads (a topology, a snapshot, a sample, a query log, a
filter given as ``@file``) goes through ``read_text``, so a missing file, a
directory, a permission problem or bytes that are not UTF-8 are each one
sentence naming the file.  Every file it writes goes through ``write_text``,
which refuses to replace a file that mongoshard did not write (``ours`` says
how to recognise its own) unless forced, and writes through a temporary file
so that a failure never leaves half a file behind.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any, BinaryIO
from collections.abc import Callable, Iterator

from .errors import MongoshardError

__all__ = ["read_text", "read_lines", "read_argument", "write_text", "write_bytes", "check_writable", "parse_json_object",
           "FileProblem",
           "InvalidJson", "MAX_INPUT_BYTES", "MAX_DOCUMENT_BYTES", "strict_yaml_loader"]

# Samples, snapshots and query logs: anything larger is a mistake, not data (and is never read whole to find out).
MAX_INPUT_BYTES = 1024**3
# A filter, a key or a sort is one BSON document: the server takes 16 MiB at most.
MAX_DOCUMENT_BYTES = 16 * 1024**2
# Deciding whether an existing output is one of ours needs only its first bytes.
_HEAD_BYTES = 4096


class FileProblem(MongoshardError):
    """A file that cannot be read or written as asked."""


def read_text(path: str | Path, what: str, *, hint: str = "check the path", limit: int = MAX_INPUT_BYTES) -> str:
    """The UTF-8 text of ``path`` (``what`` names it in messages: "the topology file", "the sample", ...).

    Never more than ``limit`` bytes are read: a device such as /dev/zero is refused, an endless pipe stops there.
    """
    with _opened(path, what, hint) as (target, handle):
        data = _bounded(handle, limit, f"{what} {target}")
    return _decoded(data, f"{what} {target}")


def read_lines(path: str | Path, what: str, *, hint: str = "check the path") -> Iterator[tuple[int, str]]:
    """(number, text) of each line of a UTF-8 file, read as they come: a sample may be larger than memory.  A line
    longer than a document can be is refused rather than read whole."""
    with _opened(path, what, hint) as (target, handle):
        for number, raw in enumerate(iter(lambda: handle.readline(MAX_DOCUMENT_BYTES * 2 + 1), b""), 1):
            if len(raw) > MAX_DOCUMENT_BYTES * 2:
                raise FileProblem(f"{what} {target}, line {number} is longer than any document can be; give one "
                                  "document per line")
            yield number, _decoded(raw, f"{what} {target}, line {number}")


@contextlib.contextmanager
def _opened(path: str | Path, what: str, hint: str) -> Iterator[tuple[Path, BinaryIO]]:
    """A regular file (or pipe) opened for reading, with one sentence for every way it cannot be."""
    target = _named(path, f"{what}:", hint)
    try:
        if target.is_dir():
            raise FileProblem(f"{what} {target} is a directory; give the path of a file")
        with open(target, "rb") as handle:
            kind = os.fstat(handle.fileno()).st_mode
            if stat.S_ISCHR(kind) or stat.S_ISBLK(kind) or stat.S_ISSOCK(kind):
                raise FileProblem(f"{what} {target} is a device, not a file; give the path of a file")
            yield target, handle
    except FileNotFoundError:
        raise FileProblem(f"{what} {target} does not exist; {hint}") from None
    except OSError as exc:
        raise FileProblem(f"Cannot read {what} {target} ({exc.strerror}); {hint}") from None


def _named(path: str | Path, what: str, hint: str) -> Path:
    """A path the system can open: not empty, no NUL byte (which no file name holds, and open() rejects)."""
    if not str(path):
        raise FileProblem(f"{what} the file name is empty; {hint}")
    if "\x00" in str(path):
        raise FileProblem(f"{what} the file name {str(path)!r} holds a NUL byte, which no file name can; {hint}")
    return Path(path)


def read_argument(text: str, what: str, *, limit: int = MAX_DOCUMENT_BYTES) -> str:
    """A command-line value that may be given inline, as ``@FILE``, or as ``-`` (standard input).

    Filters and keys can outgrow the kernel's limit on argument length; a file or a pipe has no such limit.
    """
    if text == "-":
        stream = getattr(sys.stdin, "buffer", None)
        if stream is None:
            raise FileProblem(f"{what}: standard input is closed; give it inline or as @FILE")
        return _decoded(_bounded(stream, limit, f"{what} on standard input"), f"{what} on standard input")
    if text.startswith("@"):
        return read_text(text[1:], what, hint=f"give {what} inline, as @FILE or as - for standard input", limit=limit)
    return text


def _bounded(stream: BinaryIO, limit: int, label: str) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise FileProblem(f"{label} holds more than {limit:,} bytes, more than mongoshard reads for it")
    return data


def _decoded(data: bytes, label: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileProblem(f"{label} is not UTF-8 text (byte {exc.start} is 0x{data[exc.start]:02x}); save it as UTF-8") from None


def write_text(path: str | Path, text: str, what: str, *, ours: Callable[[str], bool] | None = None, force: bool = False,
               mode: int | None = None) -> Path:
    """Write ``text`` to ``path`` unless that would replace a file mongoshard did not write.

    ``ours(existing_text)`` tells an earlier output of mongoshard's apart from
    anything else; without it, any existing file is refused.  ``force``
    overwrites regardless.
    """
    return write_bytes(path, text.encode("utf-8"), what, ours=ours, force=force, mode=mode)


def write_bytes(path: str | Path, data: bytes, what: str, *, ours: Callable[[str], bool] | None = None, force: bool = False,
                mode: int | None = None) -> Path:
    """``write_text`` for binary content (a PNG plot); ``ours`` sees the existing file decoded leniently."""
    target = check_writable(path, what, ours=ours, force=force)
    directory = target.parent if str(target.parent) else Path(".")
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=directory)
    except OSError as exc:
        raise FileProblem(f"Cannot write {what} to {target} ({exc.strerror}); choose a writable place") from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, mode if mode is not None else 0o666 & ~_umask())
        os.replace(temporary, target)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise FileProblem(f"Cannot write {what} to {target} ({exc.strerror}); choose a writable place") from None
    return target


def check_writable(path: str | Path, what: str, *, ours: Callable[[str], bool] | None = None, force: bool = False) -> Path:
    """Refuse now, before any work, what ``write_text`` would refuse later: a directory, a missing folder, something
    that is not a regular file, or a file (or symbolic link) mongoshard did not write."""
    target = _named(path, f"Cannot write {what}:", "give one")
    if target.is_dir():
        raise FileProblem(f"Cannot write {what} to {target}: it is a directory; give a file name")
    if target.exists() and not target.is_file():
        raise FileProblem(f"Cannot write {what} to {target}: it is not a regular file (a pipe or a device); give a file name")
    if target.is_symlink() and not force:
        raise FileProblem(f"{target} is a symbolic link mongoshard did not create; pass --force to replace the link, "
                          f"or write {what} elsewhere")
    if target.exists() and not force:
        try:
            with open(target, "rb") as handle:
                existing = handle.read(_HEAD_BYTES).decode("utf-8", errors="replace")
        except OSError:
            existing = ""
        if ours is None or not ours(existing):
            raise FileProblem(f"{target} exists and was not written by mongoshard; pass --force to replace it, "
                              f"or write {what} elsewhere")
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise FileProblem(f"Cannot write {what} to {target}: the directory {directory} does not exist")
    if not os.access(directory, os.W_OK):
        raise FileProblem(f"Cannot write {what} to {target}: the directory {directory} is not writable")
    return target


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


class InvalidJson(MongoshardError):
    """Text that is not (Extended) JSON; the message completes a sentence about what was read ("the filter ...")."""


def parse_json_object(text: str) -> dict:
    """One (Extended) JSON object as pymongo reads it, whatever the failure: one reason, never the parser's exception."""
    document = parse_json_value(text)
    if not isinstance(document, dict):
        raise InvalidJson(f"must be a JSON object, not {type(document).__name__}")
    return document


@functools.lru_cache(maxsize=1)
def _json_options() -> Any:
    from bson import json_util
    from bson.codec_options import DatetimeConversion

    return json_util.JSONOptions(datetime_conversion=DatetimeConversion.DATETIME_AUTO)


def parse_json_value(text: str) -> Any:
    """One (Extended) JSON value (an object or an array) as pymongo reads it, or one reason."""
    from bson import json_util

    from .errors import brief

    try:
        # a date past year 9999 or before year 1 (which MongoDB stores) is read as DatetimeMS, not refused
        return json_util.loads(text, json_options=_json_options())
    except RecursionError:
        raise InvalidJson("nests deeper than MongoDB allows") from None
    except Exception as exc:  # json_util raises ValueError, TypeError, KeyError, InvalidId, OverflowError, ... for bad input
        raise InvalidJson(f"is not valid (Extended) JSON ({brief(exc)[:200]})") from None


@contextlib.contextmanager
def user_output_to_stderr() -> Iterator[None]:
    """What the user's code prints, with ``print``, ``sys.__stdout__``, ``os.write(1, ...)``, a C extension or a
    subprocess, goes to ``sys.stderr`` line by line while this block runs, so that standard output stays ours (JSON
    with ``--json``, where the command line's stderr turns each such line into a JSON object).  File descriptor 1 is
    a pipe meanwhile, read by a thread."""
    import threading

    for stream in (sys.stdout, sys.__stdout__):
        with contextlib.suppress(Exception):
            stream.flush()  # type: ignore[union-attr]  # sys.__stdout__ may be None: then nothing to flush
    try:
        saved = os.dup(1)
        reading, writing = os.pipe()
    except OSError:  # no file descriptor 1 (an embedded interpreter): sys.stdout is all there is
        with contextlib.redirect_stdout(sys.stderr):
            yield
        return
    sink = sys.stderr
    # Descriptor 2 too, when mongoshard's own stderr writes through a copy of it (the command line does): then what
    # user code writes there (os.write(2), a subprocess's stderr) comes back through sys.stderr like the rest.
    try:
        own_stderr = sink.fileno() != 2
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        own_stderr = False
    saved_err = os.dup(2) if own_stderr else None

    def forward() -> None:
        with os.fdopen(reading, "rb") as pipe:
            for line in pipe:
                with contextlib.suppress(Exception):
                    sink.write(line.decode("utf-8", errors="backslashreplace"))
                    sink.flush()

    reader = threading.Thread(target=forward, name="mongoshard-user-output", daemon=True)
    reader.start()
    os.dup2(writing, 1)
    if saved_err is not None:
        os.dup2(writing, 2)
    os.close(writing)
    original: Any = sys.__stdout__
    try:
        sys.__stdout__ = sys.stderr  # type: ignore[misc,assignment]
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.__stdout__ = original  # type: ignore[misc]
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        os.dup2(saved, 1)  # the last writer of the pipe closes: the thread reads to its end
        os.close(saved)
        if saved_err is not None:
            os.dup2(saved_err, 2)
            os.close(saved_err)
        reader.join(timeout=5)


def strict_yaml_loader(noun: str = "key") -> type[Any]:
    """PyYAML's safe loader without aliases (a few bytes of nested aliases expand exponentially) and refusing a key
    given twice (the last one would silently win), as Kubernetes' strict field validation refuses duplicate fields.
    A new class each call, so that callers may add constructors of their own."""
    import yaml

    class Loader(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed", self.peek_event().start_mark)
            return super().compose_node(parent, index)

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if not isinstance(key, (str, int, float, bool)) and key is not None:
                    raise yaml.constructor.ConstructorError(None, None, f"a {noun}'s name must be a word, not a list or "
                                                            "a mapping", key_node.start_mark)
                if key in seen:
                    raise yaml.constructor.ConstructorError(None, None, f"the {noun} {key!r} is given twice",
                                                            key_node.start_mark)
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return Loader
