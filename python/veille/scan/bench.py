"""`veille bench scan`: seconds of the whole screen at several extract sizes (linear scaling).

For each size a `default` synthetic extract is generated (seed 1, 5 years), loaded into a
scratch database and the warehouse models the scan reads are built (not timed); then the scan
itself is timed: the dbt counting models (tag scan) and the statistics, tree scan and storage.
Prints one line per size: patients, dispensings, pairs, seconds per step, and the seconds per
million dispensings (flat = linear).
"""

from __future__ import annotations

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


def _admin() -> sa.Engine:
    s = db.settings()
    return sa.create_engine(
        sa.engine.URL.create("postgresql+psycopg", username=s.user, password=s.password or None,
                             database="postgres", query={"host": s.host, "port": str(s.port)}),
        isolation_level="AUTOCOMMIT",
    )


def bench_size(patients: int, years: int, keep: bool = False) -> dict:
    """Generate, load and build one extract in a scratch database; time the scan on it."""
    from veille import migrate
    from veille.dbt import run_dbt
    from veille.load import load_extract
    from veille.scan.run import run_scan
    from veille.scan.settings import ScanSettings
    from veille.synth.generate import generate

    name = f"bench_scan_{uuid.uuid4().hex[:8]}"
    admin = _admin()
    with admin.connect() as conn:
        conn.execute(sa.text(f'create database "{name}"'))
    old = os.environ.get("VEILLE_DATABASE")
    os.environ["VEILLE_DATABASE"] = name
    db.reset_cache()
    try:
        with tempfile.TemporaryDirectory(prefix="veille_scan_bench_") as tmp:
            out = Path(tmp) / "extract"
            generate(out, patients, years, date(2015, 1, 1), 1, "default", force=True)
            migrate.upgrade("heads")
            load_extract(out)
        settings = ScanSettings()
        run_dbt(["build", "--select", "+tag:scan", "--exclude", "tag:scan", "--resource-type",
                 "model", "--resource-type", "seed", "--quiet"])
        t0 = time.perf_counter()
        _, seconds = run_scan(settings, build=True, select="tag:scan")
        total = time.perf_counter() - t0
        with db.engine().connect() as conn:
            dispensings = conn.execute(sa.text("select count(*) from claims.dispensing")).scalar()
            pairs = conn.execute(sa.text("select count(*) from scan.scan_pair_counts")).scalar()
    finally:
        if old is None:
            os.environ.pop("VEILLE_DATABASE", None)
        else:
            os.environ["VEILLE_DATABASE"] = old
        db.reset_cache()
        if not keep:
            with admin.connect() as conn:
                conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()
    return {"patients": patients, "years": years, "dispensings": int(dispensings),
            "pairs": int(pairs), "seconds": round(total, 2), "steps": seconds,
            "seconds_per_million_dispensings": round(total / max(dispensings, 1) * 1e6, 2)}


def register(bench_app: typer.Typer) -> None:
    @bench_app.command("scan")
    def bench_scan(
        sizes: str = typer.Option("10000,30000,100000", "--sizes", help="patients, comma-separated"),
        years: int = typer.Option(5, "--years", help="years of each extract"),
        fmt: str = typer.Option("text", "--format", help="text or json"),
    ) -> None:
        """Time the scan (dbt counting + statistics) at several sizes; figures for docs/benchmarks.md."""
        from veille.errors import VeilleError

        try:
            counts = [int(s) for s in sizes.split(",") if s.strip()]
        except ValueError:
            raise VeilleError(f"--sizes must be whole numbers separated by commas, got {sizes!r}") from None
        results = []
        for n in counts:
            r = bench_size(n, years)
            results.append(r)
            if fmt != "json":
                steps = ", ".join(f"{k} {v:.1f} s" for k, v in r["steps"].items())
                typer.echo(f"{r['patients']:>9} patients {r['dispensings']:>10} dispensings "
                           f"{r['pairs']:>7} pairs  scan {r['seconds']:7.1f} s ({steps}); "
                           f"{r['seconds_per_million_dispensings']:.1f} s per million dispensings")
        if fmt == "json":
            typer.echo(json.dumps(results))
