"""The orphan check, independent of mongoshard's own records: every live process whose command line names a directory."""

from __future__ import annotations

import os
from pathlib import Path

from mongoshard.deploy.processes import is_alive


def processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command_line = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            # any process at all: a wrapper of mongod, or whatever a --bin-dir script became, is an orphan too
            if text in command_line and int(entry.name) != os.getpid() and is_alive(int(entry.name)):
                found.append(int(entry.name))
    return found
