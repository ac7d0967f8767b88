"""pytest option ``--mongoshard-audit=FILE``: record the queries a test suite sends, for 'mongoshard audit'.

Queries sent while pytest sets up or tears down a test (fixtures: ``delete_many({})`` between tests, collection
drops) are the test framework's, not the application's: they are recorded with ``"origin": "fixture"``, and
``audit`` leaves them out (and says how many).
"""

from __future__ import annotations

from typing import Any
from collections.abc import Generator

import pytest

_CAPTURE = "_mongoshard_audit_capture"
_RECORDER = "_mongoshard_audit_recorder"


def pytest_addoption(parser: Any) -> None:
    parser.addoption("--mongoshard-audit", metavar="FILE", default=None,
                     help="Append the shape of every query pymongo sends during the run to FILE (JSON lines).")


def pytest_configure(config: Any) -> None:
    path = config.getoption("--mongoshard-audit")
    if path:
        from .capture import capture

        context = capture(path)
        recorder = context.__enter__()
        setattr(config, _CAPTURE, context)
        setattr(config, _RECORDER, recorder)


def pytest_unconfigure(config: Any) -> None:
    context = getattr(config, _CAPTURE, None)
    if context is not None:
        context.__exit__(None, None, None)


def _as_fixture(item: Any) -> Generator[None, None, None]:
    recorder = getattr(item.config, _RECORDER, None)
    if recorder is None:
        yield
        return
    recorder.origin = "fixture"
    try:
        yield
    finally:
        recorder.origin = None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: Any) -> Generator[None, None, None]:
    yield from _as_fixture(item)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: Any) -> Generator[None, None, None]:
    yield from _as_fixture(item)
