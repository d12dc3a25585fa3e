"""`veille bench scan`: seconds of the whole screen at several sizes (linear scaling).

One synthetic extract is generated (or an existing database is copied with --template), loaded
into a scratch database, and grown k-fold in place by copying its patients
(:mod:`veille.scan.replicate`) for each factor of --factors. At each size the warehouse models
the scan reads are rebuilt (not timed), then the scan itself is timed: the dbt counting models
(tag scan), then the ConvSCCS fits, statistics, tree scan and storage. One progress line per size as it ends,
then the table of docs/benchmarks.md: patients, dispensings, pairs, seconds (dbt counting,
statistics), seconds per million dispensings (flat = linear) and the load average.
"""

from __future__ import annotations

import itertools
import json
import tempfile
from datetime import date
from pathlib import Path

import sqlalchemy as sa
import typer

from veille import cliapp, db
from veille.benchkit import Bench, Column, OutFile, Table, load_range, scratch_database

SCAN_TABLE = Table((
    Column("size", lambda r: f"x{r['factor']}"),
    Column("patients", lambda r: f"{r['patients']:,}"),
    Column("dispensings", lambda r: f"{r['dispensings']:,}"),
    Column("pairs", lambda r: f"{r['pairs']:,}"),
    Column("whole scan (dbt counting, ConvSCCS, other statistics)",
           lambda r: f"{r['seconds']:.1f} s ({r['steps'].get('count (dbt)', 0):.1f} s, "
                     f"{r['steps'].get('ConvSCCS', 0):.1f} s, {r['steps'].get('statistics', 0):.1f} s)"),
    Column("s per M dispensings", lambda r: f"{r['seconds_per_million_dispensings']:.1f}"),
    Column("load average", lambda r: load_range(r["load_start"], r["load_end"])),
))
"""docs/benchmarks.md, section scan."""


def _time_scan(bench: Bench, factor: int) -> dict:
    from veille.dbt import run_dbt
    from veille.scan.run import run_scan
    from veille.scan.settings import ScanSettings

    run_dbt(["build", "--select", "+tag:scan", "--exclude", "tag:scan", "--resource-type",
             "model", "--resource-type", "seed", "--quiet"])
    with db.raw_connection() as conn:  # planner statistics of the freshly built warehouse
        conn.autocommit = True
        conn.execute("analyze")
    with bench.stage(f"scan x{factor}") as st:
        _, seconds = run_scan(ScanSettings(), build=True, select="tag:scan")
    with db.engine().connect() as conn:
        patients = conn.execute(sa.text("select count(*) from claims.patient")).scalar()
        dispensings = conn.execute(sa.text("select count(*) from claims.dispensing")).scalar()
        pairs = conn.execute(sa.text("select count(*) from scan.scan_pair_counts")).scalar()
    return {"factor": factor, "patients": int(patients), "dispensings": int(dispensings),
            "pairs": int(pairs), "seconds": round(st.seconds, 2), "steps": seconds,
            "seconds_per_million_dispensings": round(st.seconds / max(dispensings, 1) * 1e6, 2),
            "load_start": st.load[0], "load_end": st.load[1]}


def bench_scan(factors: list[int], patients: int, years: int, template: str | None = None,
               bench: Bench | None = None) -> list[dict]:
    """Time the scan at each replication factor of one base extract (see module docstring)."""
    from veille import migrate
    from veille.load import load_extract
    from veille.scan.replicate import replicate
    from veille.synth.generate import generate

    bench = bench or Bench("scan", server=True)
    results = []
    with scratch_database("bench_scan", template=template):
        migrate.upgrade("heads")
        if not template:
            with tempfile.TemporaryDirectory(prefix="veille_scan_bench_") as tmp:
                out = Path(tmp) / "extract"
                generate(out, patients, years, date(2015, 1, 1), 1, "default", force=True)
                load_extract(out)
        done = 1
        for factor in sorted(factors):
            if factor % done:
                raise ValueError(f"factors must divide each other, got {factors}")
            replicate(factor // done)
            done = factor
            results.append(_time_scan(bench, factor))
    return results


def register(bench_app: typer.Typer) -> None:
    @bench_app.command("scan")
    def bench_scan_cmd(
        factors: str = typer.Option("1,4,16", "--factors", help="replication factors, each dividing the next"),
        patients: int = typer.Option(10_000, "--patients", help="patients of the generated base extract"),
        years: int = typer.Option(5, "--years", help="years of the base extract"),
        template: str = typer.Option(None, "--template", help="copy this loaded database instead of generating"),
        fmt: str = typer.Option("text", "--format", help="text or json"),
        out: OutFile = None,
    ) -> None:
        """Time the scan (dbt counting + statistics) at several sizes; figures for docs/benchmarks.md."""
        from veille.errors import VeilleError

        try:
            ks = sorted(int(s) for s in factors.split(",") if s.strip())
        except ValueError:
            raise VeilleError(f"--factors must be whole numbers separated by commas, got {factors!r}") from None
        if not ks or ks[0] < 1 or any(b % a for a, b in itertools.pairwise(ks)):
            raise VeilleError(f"--factors must be >= 1 and each must divide the next, got {factors!r}")
        cliapp.choice(fmt, ("text", "json"), "--format")
        # with --format json only the JSON goes to stdout; the progress lines go to stderr
        echo = (lambda s: typer.echo(s, err=True)) if fmt == "json" else typer.echo
        bench = Bench("scan", out=out, server=True, echo=echo)
        results = bench_scan(ks, patients, years, template, bench)
        if fmt == "json":
            typer.echo(json.dumps(results))
        else:
            bench.finish(SCAN_TABLE, results)
