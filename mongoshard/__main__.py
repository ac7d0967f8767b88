"""``python -m mongoshard`` and the ``mongoshard`` console script."""

from __future__ import annotations

import os
import signal


def entry() -> None:
    """Run the command line; a stop signal during start-up (before the boundary takes over) ends it quietly."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda number, frame: os._exit(128 + number))
    from .cli import main

    main()


if __name__ == "__main__":
    entry()
