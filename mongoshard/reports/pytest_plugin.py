"""pytest option ``--mongoshard-audit=FILE``: record the queries a test suite sends, for 'mongoshard audit'."""

from __future__ import annotations

from typing import Any

_CAPTURE = "_mongoshard_audit_capture"


def pytest_addoption(parser: Any) -> None:
    parser.addoption("--mongoshard-audit", metavar="FILE", default=None,
                     help="Append the shape of every query pymongo sends during the run to FILE (JSON lines).")


def pytest_configure(config: Any) -> None:
    path = config.getoption("--mongoshard-audit")
    if path:
        from .capture import capture

        context = capture(path)
        context.__enter__()
        setattr(config, _CAPTURE, context)


def pytest_unconfigure(config: Any) -> None:
    context = getattr(config, _CAPTURE, None)
    if context is not None:
        context.__exit__(None, None, None)
