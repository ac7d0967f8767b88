"""The command line's one boundary: every outcome is an exit code scripts can rely on, and one sentence at most.

=====  ====================================================================
code   meaning
=====  ====================================================================
0      success
1      the cluster is not as asked (incomplete ``up``, unhealthy ``status``,
       drift in ``apply``, an error-level finding in ``advise``)
2      an expected failure: bad input, an unreadable or undecodable file, an
       unwritable output, an unreachable or refusing server, user code that
       fails; one sentence on stderr says what is wrong and how to fix it
3      ``balance`` found a collection beyond ``--max-imbalance``
70     an unexpected exception, that is a bug in mongoshard (sysexits'
       EX_SOFTWARE); ``--debug`` or ``MONGOSHARD_DEBUG=1`` shows the traceback
128+N  stopped by signal N (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP), after
       rolling back what the interrupted command was starting; 141 when the
       reader of the output went away (a broken pipe, as in ``| head``)
=====  ====================================================================

Everything written to stdout and stderr passes through ``redact``, so no
password, token or URI credential reaches the terminal or a log, whatever
printed it (a driver's message, a warning, a traceback under ``--debug``);
the secrets of every argument that mentions a URI are remembered before the
command runs, wherever it was given.  Warnings are held until the end: after
a success they are lines of their own, after a failure they join the one
error line.  With ``--json`` anywhere on the command line, errors and
warnings are JSON lines on stderr too.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import re
import signal
import sys
import threading
import traceback
import warnings
from typing import Any, TextIO
from collections.abc import Iterator

from ..errors import Interrupted, MongoshardError, brief, redact, redact_message, remember_uri_secrets
from ..parallel import STOP_SIGNALS

__all__ = ["run", "ignore_stop_signals", "sanitize", "EXIT_OK", "EXIT_INCOMPLETE", "EXIT_ERROR", "EXIT_IMBALANCED",
           "EXIT_INTERNAL", "EXIT_BROKEN_PIPE"]

EXIT_OK, EXIT_INCOMPLETE, EXIT_ERROR, EXIT_IMBALANCED = 0, 1, 2, 3
EXIT_INTERNAL = 70
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE
DEBUG_VARIABLE = "MONGOSHARD_DEBUG"
# Terminal control characters (but tab and newline) in data are shown escaped, never sent to the terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# "user:password@host" without a scheme: a credential, wherever it was typed.
_USERINFO = re.compile(r"^[^\s{}\[\]\"'@/]+:[^\s{}\[\]\"'@]+@[^\s{}\[\]\"']+$")


class _OutputClosed(BaseException):
    """The reader of standard output went away; nothing more can be said."""


def sanitize(text: str) -> str:
    """``text`` with terminal control characters shown as escapes (\\x1b), so data cannot drive the terminal."""
    return _CONTROL.sub(lambda match: match.group(0).encode("unicode_escape").decode("ascii"), text)

def run(arguments: list[str]) -> int:
    """Run the command line ``arguments`` and return its exit code; never raises, never prints a traceback unasked."""
    import typer

    from .app import app

    exceptions = _click_exceptions()

    arguments, debug = _without_debug_flag(arguments)
    debug = debug or os.environ.get(DEBUG_VARIABLE, "").lower() in ("1", "true", "yes")
    as_json = "--json" in arguments
    for text in [*arguments, os.environ.get("MONGOSHARD_URI", "")]:
        if "mongodb" in text.lower() or _USERINFO.match(text):
            remember_uri_secrets(text)
    held: list[str] = []
    with _redacted_output(as_json), _warnings_held(held), _stop_signals_interrupt():
        try:
            result = app(args=arguments, prog_name="mongoshard", standalone_mode=False)
            code = result if isinstance(result, int) else EXIT_OK
            sys.stdout.flush()  # the result's last bytes: failing to deliver them is the command failing
        except _OutputClosed:
            return EXIT_BROKEN_PIPE
        except Interrupted as exc:
            stopped = f"; stopped what it was starting ({', '.join(exc.stopped)})" if exc.stopped else ""
            return _report(f"interrupted by {exc}{stopped}", 128 + exc.signum, as_json, held)
        except typer.Exit as exc:
            code = exc.exit_code
        except typer.Abort:
            return _report("interrupted", 128 + signal.SIGINT, as_json, held)
        except SystemExit as exc:  # typer's own exit on a broken pipe, or user code that called sys.exit
            code = exc.code if isinstance(exc.code, int) else EXIT_ERROR
        except exceptions.NoArgsIsHelpError as exc:  # `mongoshard` alone: the help, as asked
            print(exc.ctx.get_help())
            code = EXIT_OK
        except exceptions.ClickException as exc:
            where = f" (see '{exc.ctx.command_path} --help')" if getattr(exc, "ctx", None) else ""
            return _report(f"{exc.format_message()}{where}", EXIT_ERROR, as_json, held)
        except MongoshardError as exc:
            return _report(str(exc), EXIT_ERROR, as_json, held)
        except Exception as exc:
            expected = _expected_failure(exc)
            if expected is not None:
                return _report(expected, EXIT_ERROR, as_json, held, exc if debug else None)
            if debug:
                _print_traceback(exc)
            return _report(f"internal error ({type(exc).__name__}: {brief(exc)}); this is a bug in mongoshard: rerun with "
                           f"--debug (or {DEBUG_VARIABLE}=1) for the traceback and report it", EXIT_INTERNAL, as_json, held)
        for warning in held:
            _line({"warning": warning} if as_json else f"mongoshard: warning: {warning}")
        return code


def ignore_stop_signals() -> None:
    """After the command: a late Ctrl-C while the interpreter exits must not print a traceback."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


def _click_exceptions() -> Any:
    """click's exceptions: vendored inside typer since 0.2x, the click package before."""
    try:
        from typer._click import exceptions
    except ImportError:  # pragma: no cover - older typer
        from click import exceptions  # type: ignore[no-redef,import-not-found,unused-ignore]
    return exceptions


def _without_debug_flag(arguments: list[str]) -> tuple[list[str], bool]:
    """``--debug`` is accepted anywhere before ``--``: it is about the run, not about one command."""
    end = arguments.index("--") if "--" in arguments else len(arguments)
    kept = [a for a in arguments[:end] if a != "--debug"] + arguments[end:]
    return kept, len(kept) != len(arguments)


def _expected_failure(exc: Exception) -> str | None:
    """A sentence for failures of the world rather than of mongoshard: the server, the file system."""
    try:
        from pymongo.errors import PyMongoError
    except ImportError:  # pragma: no cover - pymongo is a dependency
        PyMongoError = ()  # type: ignore[assignment,misc]  # noqa: N806
    if isinstance(exc, PyMongoError):
        return f"the cluster refused or could not be reached ({brief(exc)}); check the address, the credentials and the server's log"
    if isinstance(exc, OSError):
        where = f" {exc.filename}" if exc.filename else ""
        return f"cannot access{where} ({exc.strerror or brief(exc)}); check the path and its permissions"
    return None


def _report(message: str, code: int, as_json: bool, held: list[str], exc: BaseException | None = None) -> int:
    """The one line a failure prints; warnings held until now join it, so an error is never more than one line."""
    if exc is not None:
        _print_traceback(exc)
    line = redact_message(" ".join(message.split()))  # one line, whatever the message held
    if held:
        line += f" (warning{'s' if len(held) > 1 else ''}: {'; '.join(held)})"
    _line({"error": line, "exit_code": code} if as_json else f"mongoshard: {line}")
    return code


def _line(value: Any) -> None:
    text = json.dumps(value) if isinstance(value, dict) else sanitize(redact_message(value))
    with contextlib.suppress(_OutputClosed, OSError):  # a full or closed stderr never changes the exit code
        print(text, file=sys.stderr)


def _print_traceback(exc: BaseException) -> None:
    print("".join(traceback.format_exception(exc)), file=sys.stderr, end="")


class _RedactingStream(io.TextIOBase):
    """A text stream that writes whole lines through ``redact``; a partial line waits for its end or a flush.  With
    ``json_lines`` (stderr under --json), a line that is not a JSON object (the user's code printing, a library)
    is written as ``{"output": line}``, so that every line stays JSON."""

    def __init__(self, target: TextIO | io.TextIOBase, *, json_lines: bool = False, diagnostics: bool = False) -> None:
        self._target = target
        self._pending = ""
        self._lock = threading.Lock()
        self._json_lines = json_lines
        self._diagnostics = diagnostics  # stderr: a write that fails there is lost, never a new failure

    def write(self, text: str) -> int:
        with self._lock:
            self._pending += text
            if "\n" in self._pending:
                complete, self._pending = self._pending.rsplit("\n", 1)
                self._emit(self._shaped(redact(complete + "\n")))
        return len(text)

    def flush(self) -> None:
        with self._lock:
            if self._pending:
                self._emit(self._shaped(redact(self._pending + "\n" if self._json_lines else self._pending)))
                self._pending = ""
            self._emit(None)

    def _shaped(self, text: str) -> str:
        if not self._json_lines:
            return text
        return "".join(line + "\n" if _is_json_object(line) else json.dumps({"output": line}) + "\n"
                       for line in text.splitlines())

    def _emit(self, text: str | None) -> None:
        try:
            if text is not None:
                self._target.write(text)
            self._target.flush()
        except BrokenPipeError:
            raise _OutputClosed() from None
        except OSError as exc:
            if not self._diagnostics:
                raise MongoshardError(f"cannot write the result to standard output ({exc.strerror or brief(exc)}); "
                                      "redirect it to a place that takes it and run the command again") from None

    def isatty(self) -> bool:
        return self._target.isatty()

    def fileno(self) -> int:
        return self._target.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._target, "encoding", "utf-8")

    def writable(self) -> bool:
        return True


def _is_json_object(line: str) -> bool:
    if not line.startswith("{"):
        return False
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


@contextlib.contextmanager
def _redacted_output(as_json: bool = False) -> Iterator[None]:
    original = sys.stdout, sys.stderr
    diagnostics = _own_descriptor(_usable(original[1]))
    sys.stdout = _RedactingStream(_usable(original[0]) if original[0] is not None else _ClosedOutput())
    sys.stderr = _RedactingStream(diagnostics, json_lines=as_json, diagnostics=True)
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception, _OutputClosed):
                stream.flush()
        sys.stdout, sys.stderr = original
        if diagnostics is not original[1]:
            with contextlib.suppress(Exception):
                diagnostics.close()


def _own_descriptor(stream: TextIO) -> TextIO:
    """stderr written through a copy of its file descriptor: while user code runs, descriptor 2 itself is a pipe that
    mongoshard reads (``files.user_output_to_stderr``), and its lines come back through here, as JSON under --json."""
    try:
        copy = os.dup(stream.fileno())
    except (OSError, ValueError, io.UnsupportedOperation, AttributeError):
        return stream  # not a file (a test's capture): nothing below can be redirected anyway
    return io.TextIOWrapper(io.FileIO(copy, "w", closefd=True), encoding=getattr(stream, "encoding", None) or "utf-8",
                            errors="backslashreplace", line_buffering=True)


class _ClosedOutput(io.TextIOBase):
    """Standard output closed before mongoshard started (``>&-``): the result has nowhere to go, which is a failure."""

    def write(self, text: str) -> int:
        raise OSError(errno.EBADF, "it is closed")

    def writable(self) -> bool:
        return True


def _usable(stream: TextIO | None) -> TextIO:
    """A closed standard stream writes nowhere; one that cannot encode a character shows it escaped instead."""
    if stream is None:
        return open(os.devnull, "w")
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None:
        with contextlib.suppress(Exception):
            reconfigure(errors="backslashreplace")
    return stream


_holding: list[list[str]] = []  # the running command's held warnings (its own never pass through ``warnings``)


def hold_warning(message: str) -> None:
    """A warning of mongoshard's own, held for the end of the command.  Not through Python's warnings machinery,
    which an application's ``logging.captureWarnings(True)``, run at import, would divert into its logs."""
    text = " ".join(str(message).split())
    if not _holding:
        print(text, file=sys.stderr)
    elif text not in _holding[-1]:
        _holding[-1].append(text)


@contextlib.contextmanager
def _warnings_held(held: list[str]) -> Iterator[None]:
    """A library's warning ("Unknown option: ..." from pymongo names a typo in a URI) and ours, held for the end."""
    def show(message: Any, category: type[Any], *_: Any, **__: Any) -> None:
        text = " ".join(str(message).split())
        if text not in held:
            held.append(text)

    _holding.append(held)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            warnings.simplefilter("ignore", ResourceWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            warnings.showwarning = show
            yield
    finally:
        _holding.remove(held)


@contextlib.contextmanager
def _stop_signals_interrupt() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP raise ``Interrupted`` once; later ones are ignored while the command rolls back."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}

    def interrupt(signum: int, frame: Any) -> None:
        for other in STOP_SIGNALS:
            signal.signal(other, signal.SIG_IGN)
        raise Interrupted(signum, signal.Signals(signum).name)

    for signum in STOP_SIGNALS:
        signal.signal(signum, interrupt)
    try:
        yield
    finally:
        for signum in STOP_SIGNALS:  # first quiet, so no signal can raise while the others are restored
            signal.signal(signum, signal.SIG_IGN)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
