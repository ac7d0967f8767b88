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
       rolling back what the interrupted command had started
=====  ====================================================================

Everything written to stdout and stderr passes through ``redact``, so no
password, token or URI credential reaches the terminal or a log, whatever
printed it (a driver's message, a warning, a traceback under ``--debug``).
With ``--json`` anywhere on the command line, errors and warnings are JSON
lines on stderr too.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import sys
import threading
import traceback
import warnings
from typing import Any, Iterator, TextIO

from ..errors import MongoshardError, brief, redact

__all__ = ["run", "Interrupted", "EXIT_OK", "EXIT_INCOMPLETE", "EXIT_ERROR", "EXIT_IMBALANCED", "EXIT_INTERNAL"]

EXIT_OK, EXIT_INCOMPLETE, EXIT_ERROR, EXIT_IMBALANCED = 0, 1, 2, 3
EXIT_INTERNAL = 70
DEBUG_VARIABLE = "MONGOSHARD_DEBUG"
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(BaseException):
    """A stop signal arrived: like KeyboardInterrupt, it unwinds every ``finally`` and rollback on its way out."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def run(arguments: list[str]) -> int:
    """Run the command line ``arguments`` and return its exit code; never raises, never prints a traceback unasked."""
    import typer

    from .app import app

    exceptions = _click_exceptions()

    arguments, debug = _without_debug_flag(arguments)
    debug = debug or os.environ.get(DEBUG_VARIABLE, "").lower() in ("1", "true", "yes")
    as_json = "--json" in arguments
    with _redacted_output(), _warnings_on_stderr(as_json), _stop_signals_interrupt():
        try:
            result = app(args=arguments, prog_name="mongoshard", standalone_mode=False)
            return result if isinstance(result, int) else EXIT_OK
        except Interrupted as exc:
            return _report(f"interrupted by {exc}; what this command had started was stopped", 128 + exc.signum, as_json)
        except typer.Exit as exc:
            return exc.exit_code
        except typer.Abort:
            return _report("interrupted", 128 + signal.SIGINT, as_json)
        except SystemExit as exc:  # typer's own exit on a broken pipe, or user code that called sys.exit
            return exc.code if isinstance(exc.code, int) else EXIT_ERROR
        except exceptions.NoArgsIsHelpError as exc:  # `mongoshard` alone: the help, as asked
            print(exc.ctx.get_help())
            return EXIT_OK
        except exceptions.ClickException as exc:
            where = f" (see '{exc.ctx.command_path} --help')" if getattr(exc, "ctx", None) else ""
            return _report(f"{exc.format_message()}{where}", EXIT_ERROR, as_json)
        except MongoshardError as exc:
            return _report(str(exc), EXIT_ERROR, as_json)
        except Exception as exc:
            expected = _expected_failure(exc)
            if expected is not None:
                return _report(expected, EXIT_ERROR, as_json, exc if debug else None)
            if debug:
                _print_traceback(exc)
            return _report(f"internal error ({type(exc).__name__}: {brief(exc)}); this is a bug in mongoshard: rerun with "
                           f"--debug (or {DEBUG_VARIABLE}=1) for the traceback and report it", EXIT_INTERNAL, as_json)


def _click_exceptions() -> Any:
    """click's exceptions: vendored inside typer since 0.2x, the click package before."""
    try:
        from typer._click import exceptions
    except ImportError:  # pragma: no cover - older typer
        from click import exceptions  # type: ignore[no-redef]
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


def _report(message: str, code: int, as_json: bool, exc: BaseException | None = None) -> int:
    if exc is not None:
        _print_traceback(exc)
    line = " ".join(message.split())  # one line, whatever the message held
    if as_json:
        print(json.dumps({"error": line, "exit_code": code}), file=sys.stderr)
    else:
        print(f"mongoshard: {line}", file=sys.stderr)
    return code


def _print_traceback(exc: BaseException) -> None:
    print("".join(traceback.format_exception(exc)), file=sys.stderr, end="")


class _RedactingStream(io.TextIOBase):
    """A text stream that writes whole lines through ``redact``; a partial line waits for its end or a flush."""

    def __init__(self, target: TextIO) -> None:
        self._target = target
        self._pending = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            self._pending += text
            if "\n" in self._pending:
                complete, self._pending = self._pending.rsplit("\n", 1)
                self._target.write(redact(complete + "\n"))
        return len(text)

    def flush(self) -> None:
        with self._lock:
            if self._pending:
                self._target.write(redact(self._pending))
                self._pending = ""
        self._target.flush()

    def isatty(self) -> bool:
        return self._target.isatty()

    def fileno(self) -> int:
        return self._target.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._target, "encoding", "utf-8")

    def writable(self) -> bool:
        return True


@contextlib.contextmanager
def _redacted_output() -> Iterator[None]:
    original = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _RedactingStream(sys.stdout), _RedactingStream(sys.stderr)
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        sys.stdout, sys.stderr = original


@contextlib.contextmanager
def _warnings_on_stderr(as_json: bool) -> Iterator[None]:
    """A library's warning is one line like ours ("Unknown option: ..." from pymongo names a typo in a URI)."""
    def show(message: Any, category: type, *_: Any, **__: Any) -> None:
        text = " ".join(str(message).split())
        print(json.dumps({"warning": text}) if as_json else f"mongoshard: warning: {text}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.simplefilter("ignore", ResourceWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        warnings.showwarning = show
        yield


@contextlib.contextmanager
def _stop_signals_interrupt() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP raise ``Interrupted`` once; later ones are ignored while the command rolls back."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in _STOP_SIGNALS}

    def interrupt(signum: int, frame: Any) -> None:
        for other in _STOP_SIGNALS:
            signal.signal(other, signal.SIG_IGN)
        raise Interrupted(signum)

    for signum in _STOP_SIGNALS:
        signal.signal(signum, interrupt)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
