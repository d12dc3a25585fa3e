"""`veille bench scan`: seconds of the whole screen at several sizes (linear scaling).

One synthetic extract is generated (or an existing database is copied with --template), loaded
into a scratch database, and grown k-fold in place by copying its patients
(:mod:`veille.scan.replicate`) for each factor of --factors. At each size the warehouse models
the scan reads are rebuilt (not timed), then the scan itself is timed: the dbt counting models
(tag scan), then statistics, tree scan and storage. One line per size: patients, dispensings,
pairs, seconds per step and seconds per million dispensings (flat = linear).
"""

from __future__ import annotations

import itertools
import json
import os
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

import sqlalchemy as sa
import typer

from veille import db


def _time_scan(factor: int) -> dict:
    from veille.dbt import run_dbt
    from veille.scan.run import run_scan
    from veille.scan.settings import ScanSettings

    run_dbt(["build", "--select", "+tag:scan", "--exclude", "tag:scan", "--resource-type",
             "model", "--resource-type", "seed", "--quiet"])
    with db.raw_connection() as conn:  # planner statistics of the freshly built warehouse
        conn.autocommit = True
        conn.execute("analyze")
    t0 = time.perf_counter()
    _, seconds = run_scan(ScanSettings(), build=True, select="tag:scan")
    total = time.perf_counter() - t0
    with db.engine().connect() as conn:
        patients = conn.execute(sa.text("select count(*) from claims.patient")).scalar()
        dispensings = conn.execute(sa.text("select count(*) from claims.dispensing")).scalar()
        pairs = conn.execute(sa.text("select count(*) from scan.scan_pair_counts")).scalar()
    return {"factor": factor, "patients": int(patients), "dispensings": int(dispensings),
            "pairs": int(pairs), "seconds": round(total, 2), "steps": seconds,
            "seconds_per_million_dispensings": round(total / max(dispensings, 1) * 1e6, 2)}


def bench_scan(factors: list[int], patients: int, years: int, template: str | None = None,
               echo=None) -> list[dict]:
    """Time the scan at each replication factor of one base extract (see module docstring)."""
    from veille import migrate
    from veille.load import load_extract
    from veille.scan.replicate import replicate
    from veille.synth.generate import generate

    name = f"bench_scan_{uuid.uuid4().hex[:8]}"
    db.create_database(name, template=template)
    old = os.environ.get("VEILLE_DATABASE")
    os.environ["VEILLE_DATABASE"] = name
    db.reset_cache()
    results = []
    try:
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
            results.append(_time_scan(factor))
            if echo:
                echo(results[-1])
    finally:
        if old is None:
            os.environ.pop("VEILLE_DATABASE", None)
        else:
            os.environ["VEILLE_DATABASE"] = old
        db.reset_cache()
        db.drop_database(name)
    return results


def _line(r: dict) -> str:
    steps = ", ".join(f"{k} {v:.1f} s" for k, v in r["steps"].items())
    return (f"x{r['factor']:<3} {r['patients']:>9} patients {r['dispensings']:>10} dispensings "
            f"{r['pairs']:>6} pairs  scan {r['seconds']:7.1f} s ({steps}); "
            f"{r['seconds_per_million_dispensings']:.1f} s per million dispensings")


def register(bench_app: typer.Typer) -> None:
    @bench_app.command("scan")
    def bench_scan_cmd(
        factors: str = typer.Option("1,4,16", "--factors", help="replication factors, each dividing the next"),
        patients: int = typer.Option(10_000, "--patients", help="patients of the generated base extract"),
        years: int = typer.Option(5, "--years", help="years of the base extract"),
        template: str = typer.Option(None, "--template", help="copy this loaded database instead of generating"),
        fmt: str = typer.Option("text", "--format", help="text or json"),
    ) -> None:
        """Time the scan (dbt counting + statistics) at several sizes; figures for docs/benchmarks.md."""
        from veille.errors import VeilleError

        try:
            ks = sorted(int(s) for s in factors.split(",") if s.strip())
        except ValueError:
            raise VeilleError(f"--factors must be whole numbers separated by commas, got {factors!r}") from None
        if not ks or ks[0] < 1 or any(b % a for a, b in itertools.pairwise(ks)):
            raise VeilleError(f"--factors must be >= 1 and each must divide the next, got {factors!r}")
        results = bench_scan(ks, patients, years, template,
                             echo=None if fmt == "json" else lambda r: typer.echo(_line(r)))
        if fmt == "json":
            typer.echo(json.dumps(results))
