"""Reading an application's models from the command line: several modules, aliases, and what failed where."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Optional

import typer

from .app import URI_VARIABLE
from .output import fail, note, warn

if TYPE_CHECKING:  # pragma: no cover
    from ..model.discovery import Discovery

__all__ = ["MODULES_ARGUMENT", "ALIAS_OPTION", "TESTS_OPTION", "TRACEBACK_OPTION", "discovered", "exit_if_problems", "uri_database"]

MODULES_ARGUMENT = typer.Argument(..., metavar="MODULE...", help="Modules or packages holding Document classes, e.g. examples.pokemon_storage.models (test modules under a package are skipped).")
ALIAS_OPTION = typer.Option(None, "--alias", metavar="NAME=DATABASE", help="The database of a db_alias the application registers at start-up (repeatable).")
TESTS_OPTION = typer.Option(False, "--include-tests", help="Also import tests, test_* and conftest modules under a package.")
TRACEBACK_OPTION = typer.Option(False, "--traceback", help="Show the traceback of each module that failed to import.")


def discovered(modules: list[str], database: Optional[str], aliases: Optional[list[str]], include_tests: bool,
               show_traceback: bool) -> Discovery:
    """Scan the modules; each problem is one line on stderr (the traceback too with --traceback), the rest goes on.

    A database nobody names comes from ``$MONGOSHARD_URI``'s path, else is shown as unknown.
    """
    from ..model.discovery import scan
    from ..model.fields import database_name_problem

    if database is not None and (name_problem := database_name_problem(database)):
        fail(f"--database {database[:80]!r} {name_problem}; give the name of the database the models use")
    found = scan(modules, database=database, aliases=_aliases(aliases or []), fallback_database=uri_database(),
                 include_tests=include_tests)
    if found.problems and not found.imported:  # nothing to analyse: the failure is the answer
        first = found.problems[0]
        if show_traceback and first.detail:
            note(first.detail.rstrip())
        fail(first.message + (f" ({first.location})" if first.location else ""))
    unused = set(_aliases(aliases or [])) - {getattr(c, "_meta", {}).get("db_alias") or "default" for c in _models(found)}
    for alias in sorted(unused):
        warn(f"--alias {alias}: no model of {', '.join(modules)} uses the db_alias '{alias}'")
    for problem in found.problems:
        where = f" ({problem.location})" if problem.location else ""
        warn(f"{problem.subject}: {problem.message}{where}" + ("" if show_traceback or not problem.detail else "; --traceback shows the detail"))
        if show_traceback and problem.detail:
            note(problem.detail.rstrip())
    return found


def _models(found: Discovery) -> list[type[Any]]:
    from ..advice.advise import model_of

    return [*found.unsharded, *(model_of(spec) for spec in found.specs)]


def exit_if_problems(found: Discovery) -> None:
    """Exit 2 after the output when a module or model could not be analysed, so that scripts notice."""
    from .boundary import EXIT_ERROR

    if found.problems:
        raise typer.Exit(EXIT_ERROR)


def _aliases(entries: list[str]) -> dict[str, str]:
    from ..model.fields import database_name_problem

    mapping: dict[str, str] = {}
    for entry in entries:
        alias, separator, database = entry.partition("=")
        problem = database_name_problem(database) if separator and alias else "is missing"
        if problem:
            fail(f"--alias {entry[:80]!r} must be NAME=DATABASE (the database name {problem}), e.g. --alias users=accounts")
        if mapping.get(alias, database) != database:
            fail(f"--alias {alias} is given twice, as {mapping[alias]} and {database}; give it once")
        mapping[alias] = database
    return mapping


def uri_database() -> str | None:
    """The database in ``$MONGOSHARD_URI``'s path, read without resolving anything (no DNS for mongodb+srv)."""
    from urllib.parse import unquote

    from ..model.fields import database_name_problem

    uri = os.environ.get(URI_VARIABLE) or ""
    scheme, separator, rest = uri.partition("://")
    if not separator or scheme not in ("mongodb", "mongodb+srv"):
        return None
    path = rest.rpartition("@")[2].partition("/")[2].partition("?")[0]
    database = unquote(path)
    return None if database_name_problem(database) else database
