"""The ``mongoshard`` command: a thin typer layer over the library, one module per group of commands.

Heavy imports (pymongo, mongoengine, rich) happen inside the commands so that
``mongoshard --help`` starts fast.  For the same reason the modules that
declare commands do not use ``from __future__ import annotations``: typer
would evaluate every parameter's annotation string at each start (about a
tenth of ``--help``, benchmarks/routing.py).  Exit codes are documented in
``app``.
"""

from __future__ import annotations

import json
import os
import sys

from .app import app
from .boundary import EXIT_BROKEN_PIPE, ignore_stop_signals, run

# Each module registers its commands on ``app``; the order of these imports is the order of ``--help``.
# isort: off
from . import declarations, deployment, kubernetes, applying, lookups, reports, advice  # noqa: E402, F401
# isort: on

__all__ = ["app", "main", "run"]


def main() -> None:
    """Entry point of the console script: the boundary turns every outcome into an exit code (see ``boundary``)."""
    # Like ``python -m``, let MODULE arguments name modules of the current directory.
    try:
        here = os.getcwd()
    except FileNotFoundError:  # the directory the shell sits in was deleted
        here = None
        if not {"--version", "--help", "-h"} & set(sys.argv[1:]):
            message = "the current directory no longer exists; cd to an existing directory and run it again"
            print(json.dumps({"error": message, "exit_code": 2}) if "--json" in sys.argv[1:] else f"mongoshard: {message}",
                  file=sys.stderr)
            raise SystemExit(2) from None
    if here is not None and here not in sys.path:
        sys.path.insert(0, here)
    code = run(sys.argv[1:])
    ignore_stop_signals()
    try:
        if sys.stderr is not None:  # None: the process was started with stderr closed
            sys.stderr.flush()
    except OSError:  # stderr on a full device: the interpreter's last flush must not turn the exit code into 120
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stderr.fileno())
    if code == EXIT_BROKEN_PIPE:  # nobody reads standard output any more: let the interpreter's last flush go nowhere
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    raise SystemExit(code)
