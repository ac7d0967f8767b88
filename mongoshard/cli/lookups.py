"""``lookups build`` and ``lookups verify``: a lookup filled from existing data, and compared with it."""


from typing import Any, Optional

import typer

from .app import DATABASE_OPTION, JSON_OPTION, TOPOLOGY_OPTION, URI_VARIABLE, app
from .boundary import EXIT_INCOMPLETE
from .inputs import router_address
from .output import console, fail, plain, print_json, progress, styled

lookups_app = typer.Typer(help="Global secondary indexes: build a lookup from existing data, verify it (and repair).",
                          no_args_is_help=True)
app.add_typer(lookups_app, name="lookups")

MODULE_ARGUMENT = typer.Argument(..., help="Module or package with the Documents, e.g. examples.users.models")
URI = typer.Option(None, "--uri", help=f"A mongos or the replica set (default: ${URI_VARIABLE}, else the topology's first router).")
BATCH = typer.Option(1000, "--batch", min=1, max=100_000, help="Owners read per batch (memory is bounded by it).")


@lookups_app.command("build")
def build(module: str = MODULE_ARGUMENT, uri: Optional[str] = URI, file: Optional[str] = TOPOLOGY_OPTION,
          database: Optional[str] = DATABASE_OPTION, batch: int = BATCH,
          restart: bool = typer.Option(False, "--restart", help="Start from the first owner, not where the last run stopped."),
          as_json: bool = JSON_OPTION) -> None:
    """Write the lookup entries of existing documents (resumable); exit 1 when duplicates were found."""
    from ..cluster.lookups import build_lookup

    reports = _each(module, uri, file, database, "building", lambda client, spec, lookup, step: build_lookup(
        client, spec, lookup, batch=batch, restart=restart, on_progress=step))
    _show(reports, as_json, "built")


@lookups_app.command("verify")
def verify(module: str = MODULE_ARGUMENT, uri: Optional[str] = URI, file: Optional[str] = TOPOLOGY_OPTION,
           database: Optional[str] = DATABASE_OPTION, batch: int = BATCH,
           repair: bool = typer.Option(False, "--repair", help="Insert missing entries, delete orphans, fix keys (never a duplicate)."),
           as_json: bool = JSON_OPTION) -> None:
    """Compare each lookup with its documents: exit 0 when exact, 1 with counts and examples otherwise."""
    from ..cluster.lookups import verify_lookup

    reports = _each(module, uri, file, database, "verifying", lambda client, spec, lookup, step: verify_lookup(
        client, spec, lookup, batch=batch, repair=repair, on_progress=step))
    _show(reports, as_json, "verified")


def _each(module: str, uri: Optional[str], file: Optional[str], database: Optional[str], verb: str, run: Any) -> list[Any]:
    from ..cluster.connection import connect
    from ..model.discovery import discover

    specs = [spec for spec in discover(module, database=database) if spec.lookups]
    if not specs:
        fail(f"No Document in {module} declares lookups: add @sharded(..., lookups=[Lookup('email', unique=True)])")
    target, options = router_address(uri, file)
    client = connect(target, **options)
    reports = []
    for spec in specs:
        for lookup in spec.lookups:
            with progress(f"{verb} {lookup.collection}") as step:
                reports.append(run(client, spec, lookup, lambda r: step(
                    f"{verb} {r.collection}: {r.owners:,} owners, {r.owners / max(r.seconds, 1e-9):,.0f}/s")))
    return reports


def _show(reports: list[Any], as_json: bool, verb: str) -> None:
    if as_json:
        print_json([{**plain(report), "exact": report.exact} for report in reports])
    else:
        out = console()
        for r in reports:
            counts = ", ".join(f"{getattr(r, kind)} {kind}" for kind in ("missing", "orphans", "mismatched", "duplicates")
                               if getattr(r, kind))
            headline = (f"{r.collection}: {r.owners:,} owners {verb} in {r.seconds:.1f} s"
                        + (f", {r.written:,} entries written" if r.written else "")
                        + (f", {r.repaired:,} repaired" if r.repaired else "")
                        + (f" (resumed after {r.resumed_after})" if r.resumed_after is not None else "")
                        + (f"; {counts}" if counts else "; exact"))
            out.print(styled(headline, "green" if r.exact else "red"), soft_wrap=True)
            for kind, examples in r.examples.items():
                for example in examples:
                    out.print(f"  {kind}: {example}", soft_wrap=True)
    if not all(report.exact for report in reports):
        raise typer.Exit(EXIT_INCOMPLETE)
