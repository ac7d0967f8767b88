"""The README's example outputs are what the commands print today."""

from __future__ import annotations

import re
import shlex

import pytest
from commandline import ROOT, run

README = (ROOT / "README.md").read_text() + "\n" + (ROOT / "examples" / "shop" / "README.md").read_text()
# A "$ mongoshard ..." line (continued with backslashes) inside a ``` block, then its output up to the next "$" or fence.
EXAMPLE = re.compile(r"^\$ mongoshard ((?:.*\\\n)*.*)\n((?:(?!\$ |```).*\n)*)", re.M)


def _examples() -> list[tuple[str, str]]:
    return [(command.replace("\\\n", " "), output) for command, output in EXAMPLE.findall(README)]


def test_the_readme_has_examples() -> None:
    assert len(_examples()) >= 4


@pytest.mark.parametrize("command, output", _examples(), ids=lambda value: value[:60] if isinstance(value, str) else "")
def test_example_output_is_current(command: str, output: str) -> None:
    arguments = shlex.split(command.split("#", 1)[0])
    result = run(*arguments)
    printed = [line.rstrip() for line in result.stdout.splitlines()]
    shown = [line.rstrip() for line in output.strip("\n").splitlines()]
    assert [line for line in printed if line] == [line for line in shown if line]
