"""`veille bench ...`: benchmarks whose figures go to docs/benchmarks.md.

Each area adds its own sub-command from ``veille.<area>.bench`` (a module with
``register(bench_app)``), built on :mod:`veille.benchkit` (timed stages, peak memory, the rows of
docs/benchmarks.md, ``--out FILE``); `veille bench all` runs every registered one in turn.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import typer

from veille.errors import VeilleError

bench_app = typer.Typer(help="Benchmarks (figures recorded in docs/benchmarks.md).", no_args_is_help=True)

_AREAS = ["load", "synth", "dbt_bench", "study", "scan", "pathways", "fraud", "pipeline_bench", "refresh_bench",
          "spark", "quality_bench"]
_TOP_LEVEL = {"dbt_bench", "pipeline_bench", "refresh_bench", "quality_bench"}  # modules veille.<name>, not
# veille.<area>.bench
_NOT_IN_ALL = {"pipeline", "coverage", "refresh", "spark", "quality"}  # long at their default sizes:
# `make bench-pipeline`, `make bench-coverage`, `make bench-refresh`, `make bench-spark`, `make bench-quality`


@bench_app.callback()
def _stop_the_server_we_start(ctx: typer.Context) -> None:
    """A benchmark that starts the embedded server stops it when it ends (even on an error); a
    server that was already up (`veille db start`, a demo) is left running. It decides when the
    benchmark starts: a second command started meanwhile on the same VEILLE_HOME loses the server
    when this one ends, so run one benchmark per home at a time."""
    import os

    from veille import db

    if os.environ.get("VEILLE_DATABASE_URL") or db.embedded_status() is not None:
        return

    def stop() -> None:
        if db.stop_embedded():
            typer.echo("embedded server stopped (the benchmark started it)")

    ctx.call_on_close(stop)


def _area_module(area: str) -> str:
    return f"veille.{area}" if area in _TOP_LEVEL else f"veille.{area}.bench"


for _area in _AREAS:
    _name = _area_module(_area)
    _parent = _name.rsplit(".", 1)[0]
    if importlib.util.find_spec(_parent) and importlib.util.find_spec(_name):
        importlib.import_module(_name).register(bench_app)


@bench_app.command("all")
def bench_all(
    ctx: typer.Context,
    out: Path | None = typer.Option(None, "--out", metavar="FILE.md", dir_okay=False, show_default=False,
                                    help="append every benchmark's table to FILE.md"),
) -> None:
    """Run every benchmark with its default sizes (except `pipeline`: hours at its sizes);
    with --out FILE.md, each appends its table to FILE."""
    if out is not None and out.suffix != ".md":
        raise VeilleError(f"bench all --out takes a .md file (each benchmark has its own columns), got {out}")
    for name, cmd in typer.main.get_command(bench_app).commands.items():  # type: ignore[attr-defined]
        if name != "all" and name not in _NOT_IN_ALL:
            typer.echo(f"== veille bench {name}")
            ctx.invoke(cmd, out=out)  # a click command: its other defaults are filled in


def register(app: typer.Typer) -> None:
    app.add_typer(bench_app, name="bench")
