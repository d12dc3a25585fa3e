"""`veille bench load`: the loader's rows/s per table against plain COPY of the same files.

Both run in the same process on the same server: first every file is COPY'd as-is into an
untyped text table in a scratch database (the floor: no parsing, no cleaning, no linking), then
the full loader runs into another scratch database. The ratio COPY time / loader time is the
share of plain-COPY speed the loader reaches (target >= 0.5).
"""

from __future__ import annotations

import os
import time
import uuid
from datetime import date
from pathlib import Path

import typer
from psycopg import sql

from veille import db
from veille.pipeline_bench import server_cpu_seconds


def _scratch_database(prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    db.create_database(name)
    return name


def plain_copy_seconds(directory: Path) -> tuple[float, int, dict[str, float], float | None]:
    """COPY every table file into untyped text tables; (seconds, rows, seconds per table, server
    CPU seconds)."""

    from veille.load.files import discover

    files, _ = discover(directory)
    name = _scratch_database("bench_copy")
    os.environ["VEILLE_DATABASE"] = name
    db.reset_cache()
    per_table: dict[str, float] = {}
    rows = 0
    try:
        with db.raw_connection() as conn, conn.cursor() as cur:
            cpu0 = server_cpu_seconds()
            t0 = time.perf_counter()
            for i, f in enumerate(files):
                t1 = time.perf_counter()
                cols = [sql.Identifier(c.lower()) for c in f.header]
                cur.execute(sql.SQL("create unlogged table {} ({})").format(
                    sql.Identifier(f"t{i}"), sql.SQL(", ").join(sql.SQL("{} text").format(c) for c in cols)))
                with cur.copy(sql.SQL(
                        "copy {} from stdin with (format csv, header true, delimiter {}, encoding {})").format(
                        sql.Identifier(f"t{i}"), sql.Literal(f.delimiter), sql.Literal(f.encoding))) as cp, \
                        f.path.open("rb") as fh:
                    while block := fh.read(1 << 20):
                        cp.write(block)
                rows += cur.rowcount if cur.rowcount and cur.rowcount > 0 else 0
                conn.commit()
                per_table[f.table] = per_table.get(f.table, 0.0) + time.perf_counter() - t1
            seconds = time.perf_counter() - t0
            cpu = _since(cpu0)
    finally:
        os.environ.pop("VEILLE_DATABASE", None)
        db.reset_cache()
        db.drop_database(name)
    return seconds, rows, per_table, cpu


def loader_seconds(directory: Path):

    from veille import migrate
    from veille.load import load_extract

    name = _scratch_database("bench_load")
    os.environ["VEILLE_DATABASE"] = name
    db.reset_cache()
    try:
        migrate.upgrade()
        cpu0 = server_cpu_seconds()
        t0 = time.perf_counter()
        summary = load_extract(directory)
        seconds = time.perf_counter() - t0
        cpu = _since(cpu0)
    finally:
        os.environ.pop("VEILLE_DATABASE", None)
        db.reset_cache()
        db.drop_database(name)
    return seconds, summary, cpu


def _since(cpu0: float | None) -> float | None:
    cpu1 = server_cpu_seconds()
    return cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None


def register(bench_app: typer.Typer) -> None:
    @bench_app.command("load")
    def bench_load(
        directory: Path = typer.Option(None, "--dir", help="an extract folder (default: generate one)"),
        patients: int = typer.Option(20000, help="patients of the generated extract"),
        years: int = typer.Option(3, help="years of the generated extract"),
    ) -> None:
        """Loader rows/s per table and overall, next to plain COPY of the same files."""
        if directory is None:
            from veille.synth import generate

            directory = Path(db.veille_home()) / "bench" / f"extract_{patients}_{years}"
            if not (directory / "IR_BEN_R.csv").exists():
                typer.echo(f"generating {patients:,} patients x {years} years in {directory}")
                generate(directory, patients=patients, years=years, start=date(2015, 1, 1), seed=7,
                         scenario="default")
        copy_s, _copy_rows, copy_tables, copy_cpu = plain_copy_seconds(directory)
        load_s, summary, load_cpu = loader_seconds(directory)
        read = summary.totals()["read"]
        typer.echo(f"extract: {directory} ({read:,} rows in {len(summary.loaded_files)} files)")
        typer.echo(f"{'table':<10} {'rows':>12} {'COPY s':>8} {'rows/s':>12}")
        by_table: dict[str, int] = {}
        for f in summary.loaded_files:
            by_table[f.table] = by_table.get(f.table, 0) + f.rows_read
        for t, n in sorted(by_table.items()):
            s = copy_tables.get(t, 0.0)
            typer.echo(f"{t:<10} {n:>12,} {s:>8.2f} {n / s if s else 0:>12,.0f}")
        typer.echo("loader steps: " + ", ".join(f"{k} {v:.2f}s" for k, v in summary.step_seconds.items()))
        typer.echo(f"plain COPY into text tables: {copy_s:.2f} s ({read / copy_s:,.0f} rows/s)")
        typer.echo(f"veille load (COPY + normalize): {load_s:.2f} s ({read / load_s:,.0f} rows/s)")
        typer.echo(f"ratio loader speed / plain COPY speed: {copy_s / load_s:.2f} (target >= 0.50)")
        if copy_cpu and load_cpu:
            # CPU work is what other jobs on the machine do not inflate; with C cores the load
            # cannot take less than load_cpu / C seconds of wall time, however well it is spread
            cores = os.cpu_count() or 1
            typer.echo(f"server CPU: plain COPY {copy_cpu:.1f} s, veille load {load_cpu:.1f} s; best ratio "
                       f"reachable on {cores} cores by spreading this work: {copy_s * cores / load_cpu:.2f}")
