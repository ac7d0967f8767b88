"""The command line run in this process: the same ``run`` that ``mongoshard`` calls, fast enough for large tables.

Each call gets its own working directory, environment (no MONGOSHARD_*
variable leaks in from the machine), standard input and captured output, and
restores all of them afterwards.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Iterable, Mapping

from mongoshard.cli import run

TRACEBACK = "Traceback (most recent call last)"


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str

    @property
    def error_lines(self) -> list[str]:
        """stderr lines other than warnings: an error is exactly one of them."""
        return [line for line in self.stderr.splitlines()
                if line.strip() and not line.startswith(("mongoshard: warning:", '{"warning"'))]


class _Terminal(io.StringIO):
    """Captured output that is not a terminal, as in a pipe."""

    def isatty(self) -> bool:
        return False


def invoke(arguments: Iterable[str], *, cwd: Path, env: Mapping[str, str] | None = None, stdin: bytes = b"") -> Outcome:
    saved = (os.getcwd(), dict(os.environ), sys.stdin, sys.stdout, sys.stderr, list(sys.path))
    out, err = _Terminal(), _Terminal()
    try:
        os.chdir(cwd)
        for name in [name for name in os.environ if name.startswith("MONGOSHARD_")]:
            del os.environ[name]
        os.environ.update(env or {})
        sys.path.insert(0, str(cwd))
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
        sys.stdout, sys.stderr = out, err
        code = run([str(argument) for argument in arguments])
    finally:
        directory, environment, sys.stdin, sys.stdout, sys.stderr, sys.path[:] = saved
        os.chdir(directory)
        os.environ.clear()
        os.environ.update(environment)
    return Outcome(code, out.getvalue(), err.getvalue())


def tree_state(root: Path) -> dict[str, str]:
    """Every file and directory under ``root`` with a digest of its content: what 'nothing changed' compares."""
    state = {}
    for path in sorted(root.rglob("*")):
        relative = str(path.relative_to(root))
        if path.is_symlink():
            state[relative] = f"link:{os.readlink(path)}"
        elif path.is_dir():
            state[relative] = "dir"
        elif not path.is_file():
            state[relative] = "special"  # a pipe or a device: reading it would block or never end
        else:
            state[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return state
