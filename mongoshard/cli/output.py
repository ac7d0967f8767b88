"""What the commands print: JSON, rich tables and progress, figures as people read them.

Nothing printed is ever read as rich markup or emoji codes: user data such as
a filter ``{"x": "[red]"}`` or a field named ``[/]`` appears as written.
Colour comes from ``styled``, never from markup in a string.  rich and bson
are imported inside the helpers so that ``mongoshard --help`` does not pay
for them.
"""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

from ..errors import MongoshardError
from ..units import size_text as size  # noqa: F401  (re-exported: the commands format sizes through output)
from .boundary import hold_warning, sanitize

__all__ = ["fail", "warn", "print_write_targeting", "write_targeting_document", "WRITE_STYLES", "say", "note", "print_json", "json_text", "plain", "console", "styled", "progress", "key_text", "known",
           "number", "size", "yes", "KIND_STYLES"]

KIND_STYLES = {"single-shard": "green", "multi-shard": "yellow", "scatter-gather": "red", "unknown": "magenta",
               "two-phase": "yellow", "refused": "bold red"}


def fail(message: str) -> NoReturn:
    """Stop the command with exit code 2 and ``message`` as the one sentence on stderr."""
    raise MongoshardError(message)


WRITE_STYLES = {"targeted": "green", "broadcast": "red", "two-phase": "yellow", "refused": "bold red"}


def print_write_targeting(routed: Any) -> None:
    """A write as a router of its release handles it: one line, then its notes."""
    version = routed.server_version
    where = f" ({routed.error})" if routed.error else f" -> {', '.join(routed.shards)}"
    out = console()
    out.print(styled(f"  MongoDB {version[0]}.{version[1]}: ") + styled(routed.outcome, WRITE_STYLES[routed.outcome]) +
              styled(f"{where}: {routed.reason}"))
    for text in routed.notes:
        out.print(styled(f"  note: {text}"))


def write_targeting_document(routed: Any) -> dict[str, Any]:
    """The JSON fields of a write targeting (route --write, explain --write)."""
    version = routed.server_version
    return {"server_version": f"{version[0]}.{version[1]}", "outcome": routed.outcome, "kind": routed.kind,
            "shards": list(routed.shards), "error": routed.error, "reason": routed.reason, "notes": list(routed.notes)}


def warn(message: str) -> None:
    """One line on stderr (JSON with --json), held with the libraries' warnings until the command ends (``boundary``)."""
    hold_warning(message)


def print_json(value: Any) -> None:
    """Strict JSON: a NaN or an infinity (a sample's key value, say) is written as Extended JSON's $numberDouble."""
    print(json.dumps(_finite(value), indent=2, default=str, allow_nan=False))


def _finite(value: Any) -> Any:
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return {"$numberDouble": "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")}
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def json_text(value: Any) -> str:
    from bson import json_util

    return json_util.dumps(value, json_options=json_util.RELAXED_JSON_OPTIONS)


def plain(result: Any) -> Any:
    from dataclasses import asdict

    return asdict(result)


def console() -> Any:
    """A rich console that reads no markup or emoji in data and shows terminal control characters escaped."""
    from rich.console import Console

    class DataSafeConsole(Console):
        def render_str(self, text: str, **options: Any) -> Any:
            return super().render_str(sanitize(text), **options)

    # Piped output gets a width that fits the tables, not the 80-column fallback.
    return DataSafeConsole(width=None if sys.stdout.isatty() else 120, markup=False, emoji=False, highlight=False)


def styled(text: Any, style: str = "") -> Any:
    """``text`` as rich Text in ``style``: the only way colour reaches the terminal."""
    from rich.text import Text

    return Text(sanitize(str(text)), style=style)


def say(text: str) -> None:
    """A plain line of output, with any control character from data shown escaped."""
    print(sanitize(text))


def note(text: str) -> None:
    """A line about the run on stderr (a file written), so that stdout stays the result (--json)."""
    print(sanitize(text), file=sys.stderr)


class progress:
    """A spinner on stderr for waits longer than a second; the library reports steps through the function it yields."""

    def __init__(self, title: str) -> None:
        from rich.console import Console

        self.console = Console(stderr=True, markup=False, emoji=False, highlight=False)
        self.status = self.console.status(styled(title))

    def __enter__(self) -> Any:
        self.status.__enter__()
        return lambda message: self.status.update(styled(message))

    def __exit__(self, *exc: Any) -> None:
        self.status.__exit__(*exc)


def key_text(key: dict[str, Any]) -> str:
    from ..routing.table import key_text as pattern_text

    return pattern_text(key)


def known(value: bool | None, yes: str, no: str) -> str:
    return "unknown" if value is None else (yes if value else no)


def number(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def yes(value: bool) -> Any:
    return styled("yes") if value else styled("no", "red")
