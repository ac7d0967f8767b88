"""What the commands print: one-sentence errors, JSON, rich tables and progress, figures as people read them.

rich and bson are imported inside the helpers so that ``mongoshard --help``
does not pay for them.
"""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

from .app import EXIT_BAD_INPUT

__all__ = ["fail", "print_json", "json_text", "plain", "console", "progress", "key_text", "known", "number", "size", "yes"]

def fail(message: str) -> NoReturn:
    print(f"mongoshard: {message}", file=sys.stderr)
    raise SystemExit(EXIT_BAD_INPUT)


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def json_text(value: Any) -> str:
    from bson import json_util

    return json_util.dumps(value, json_options=json_util.RELAXED_JSON_OPTIONS)


def plain(result: Any) -> Any:
    from dataclasses import asdict

    return asdict(result)


def console() -> Any:
    from rich.console import Console

    # Piped output gets a width that fits the tables, not the 80-column fallback.
    return Console(width=None if sys.stdout.isatty() else 120)


class progress:
    """A spinner on stderr for waits longer than a second; the library reports steps through ``say``."""

    def __init__(self, title: str) -> None:
        from rich.console import Console

        self.console = Console(stderr=True)
        self.status = self.console.status(title)

    def __enter__(self) -> Any:
        self.status.__enter__()
        return lambda message: self.status.update(message)

    def __exit__(self, *exc: Any) -> None:
        self.status.__exit__(*exc)


def key_text(key: dict[str, Any]) -> str:
    from ..routing.table import key_text as pattern_text

    return pattern_text(key)


def known(value: bool | None, yes: str, no: str) -> str:
    return "unknown" if value is None else (yes if value else no)


def number(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def size(value: int | None) -> str:
    if value is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return str(value)


def yes(value: bool) -> str:
    return "yes" if value else "[red]no[/]"
