"""Running the ``mongoshard`` command as a user would: a real process, real exit code and output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*arguments: str, cwd: Path = ROOT, timeout: float = 120, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "mongoshard", *arguments], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=environment)
