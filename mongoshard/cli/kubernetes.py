"""``kubernetes``: render the cluster for the Percona operator, or check a rendering (yours, or one you edited)."""


from pathlib import Path
from typing import Optional

import typer

from .app import DATABASE_OPTION, FORCE_OPTION, JSON_OPTION, TOPOLOGY_OPTION, app
from .boundary import EXIT_INCOMPLETE
from .inputs import load_cli_topology
from .output import console, fail, print_json, say, styled


@app.command()
def kubernetes(module: Optional[str] = typer.Argument(None, help="Module or package with the Documents: the Job applies their keys."),
               file: Optional[str] = TOPOLOGY_OPTION,
               database: Optional[str] = DATABASE_OPTION,
               output: Optional[str] = typer.Option(None, "--output", "-o", help="File to write (default: standard output)."),
               operator: Optional[str] = typer.Option(None, "--operator", help="Percona operator release (default: kubernetes.operator in the topology, else the newest)."),
               check: Optional[str] = typer.Option(None, "--check", help="Check FILE instead (schema in strict mode, the operator's rules, the Job); exit 1 on a problem."),
               force: bool = FORCE_OPTION,
               as_json: bool = JSON_OPTION) -> None:
    """A PerconaServerMongoDB and a Job that applies the shard keys, for the Percona operator."""
    if check is not None:
        if module is not None or output is not None:
            fail("--check reads a rendering: give it alone (with --operator or --json), without MODULE or --output")
        _check(check, operator, as_json)
        return
    if module is None:
        fail("Give the MODULE whose Documents the Job applies (e.g. 'mongoshard kubernetes myapp.models'), or --check FILE")
    from ..deploy.kubernetes import is_rendered, render_kubernetes
    from ..files import check_writable, write_text
    from ..model.discovery import discover

    topology = load_cli_topology(file)
    specs = discover(module, database=database)
    if not specs:
        fail(f"No sharded Document in {module}: declare meta['shard_key'] or use @sharded")
    if output is not None:
        check_writable(output, "the rendering (-o FILE)", ours=is_rendered, force=force)
    text = render_kubernetes(topology, specs, [module, *(["--database", database] if database else [])], operator=operator)
    if output is None:
        print(text, end="")
        return
    write_text(Path(output), text, "the rendering (-o FILE)", ours=is_rendered, force=force)
    say(f"Wrote {output}: a PerconaServerMongoDB with {len(topology.shards)} shard(s) and the Job that applies "
        f"{len(specs)} shard key(s); 'mongoshard kubernetes --check {output}' checks it")


def _check(path: str, operator: Optional[str], as_json: bool) -> None:
    from ..deploy.kubernetes_check import check_text
    from ..deploy.kubernetes_settings import NEWEST_OPERATOR
    from ..files import read_text

    text = read_text(Path(path), "the file to check", hint="give the rendering's path", limit=16 * 1024 * 1024)
    results = list(check_text(text, operator or NEWEST_OPERATOR, path))
    if as_json:
        print_json({"file": path, "operator": operator or NEWEST_OPERATOR,
                    "documents": [{"document": label, "problems": problems} for label, problems in results]})
    else:
        out = console()
        for label, problems in results:
            out.print(styled(f"{label}: {'ok' if not problems else f'{len(problems)} problem(s)'}",
                             "red" if problems else "green"))
            for problem in problems:
                out.print(f"  {problem}", soft_wrap=True)
    if any(problems for _, problems in results):
        raise typer.Exit(EXIT_INCOMPLETE)
