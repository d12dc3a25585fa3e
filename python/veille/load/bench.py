"""`veille bench load`: the loader's rows/s per table against plain COPY of the same files.

Both run in the same process on the same server: first every file is COPY'd as-is into an
untyped text table in a scratch database (the floor: no parsing, no cleaning, no linking), then
the full loader runs into another scratch database. The ratio COPY time / loader time is the
share of plain-COPY speed the loader reaches (target >= 0.5). Each stage also records the
server's CPU seconds, which other jobs on the machine do not inflate.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer
from psycopg import sql

from veille import db
from veille.benchkit import Bench, Column, OutFile, Table, generated_extract, scratch_database

COPY, LOAD = "plain COPY into text tables", "veille load (COPY + normalize)"

LOAD_TABLE = Table((
    Column("extract", lambda r: r["extract"]),
    Column("rows", lambda r: f"{r['rows']:,}", right=True),
    Column("plain COPY (s)", lambda r: f"{r['copy_seconds']:.2f}", right=True),
    Column("`veille load` (s)", lambda r: f"**{r['load_seconds']:.2f}**", right=True),
    Column("ratio (target >= 0.5)", lambda r: f"**{r['copy_seconds'] / r['load_seconds']:.2f}**", right=True),
    Column("before the rework", lambda r: "", right=True),  # filled by hand in docs/benchmarks.md
))
"""docs/benchmarks.md, section load."""


def plain_copy(directory: Path, bench: Bench) -> dict[str, float]:
    """COPY every table file into untyped text tables of a scratch database, as stage
    :data:`COPY` (field ``rows``); the seconds per SNDS table."""
    from veille.load.files import discover

    files, _ = discover(directory)
    per_table: dict[str, float] = {}
    rows = 0
    with scratch_database("bench_copy"), db.raw_connection() as conn, conn.cursor() as cur, \
            bench.stage(COPY) as st:
        for i, f in enumerate(files):
            t1 = bench.clock()
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
            per_table[f.table] = per_table.get(f.table, 0.0) + bench.clock() - t1
        st.fields["rows"] = rows
    return per_table


def loader(directory: Path, bench: Bench):
    """`veille load` of ``directory`` into a migrated scratch database, as stage :data:`LOAD`;
    the load summary."""
    from veille import migrate
    from veille.load import load_extract

    with scratch_database("bench_load"):
        migrate.upgrade()
        with bench.stage(LOAD) as st:
            summary = load_extract(directory)
            st.fields["rows"] = summary.totals()["read"]
    return summary


def register(bench_app: typer.Typer) -> None:
    @bench_app.command("load")
    def bench_load(
        directory: Path = typer.Option(None, "--dir", help="an extract folder (default: generate one)"),
        patients: int = typer.Option(20000, help="patients of the generated extract"),
        years: int = typer.Option(3, help="years of the generated extract"),
        out: OutFile = None,
    ) -> None:
        """Loader rows/s per table and overall, next to plain COPY of the same files."""
        bench = Bench("load", out=out, server=True)
        if directory is None:
            directory, _ = generated_extract(f"extract_{patients}_{years}", patients, years, 7)
            extract = f"`veille synth --patients {patients} --years {years} --seed 7`"
        else:
            extract = f"`{directory}`"
        copy_tables = plain_copy(directory, bench)
        summary = loader(directory, bench)
        copy, load = bench[COPY], bench[LOAD]
        read = load.fields["rows"]
        typer.echo(f"extract: {directory} ({read:,} rows in {len(summary.loaded_files)} files)")
        typer.echo(f"{'table':<10} {'rows':>12} {'COPY s':>8} {'rows/s':>12}")
        by_table: dict[str, int] = {}
        for f in summary.loaded_files:
            by_table[f.table] = by_table.get(f.table, 0) + f.rows_read
        for t, n in sorted(by_table.items()):
            s = copy_tables.get(t, 0.0)
            typer.echo(f"{t:<10} {n:>12,} {s:>8.2f} {n / s if s else 0:>12,.0f}")
        typer.echo("loader steps: " + ", ".join(f"{k} {v:.2f}s" for k, v in summary.step_seconds.items()))
        typer.echo(f"plain COPY: {read / copy.seconds:,.0f} rows/s; veille load: {read / load.seconds:,.0f} rows/s")
        if copy.server_cpu_seconds and load.server_cpu_seconds:
            # CPU work is what other jobs on the machine do not inflate; with C cores the load
            # cannot take less than its server CPU / C seconds of wall time, however well spread
            cores = os.cpu_count() or 1
            typer.echo(f"best ratio reachable on {cores} cores by spreading the loader's server CPU: "
                       f"{copy.seconds * cores / load.server_cpu_seconds:.2f}")
        bench.finish(LOAD_TABLE, [{
            "extract": f"{extract} ({len(summary.loaded_files)} files)", "rows": read,
            "copy_seconds": copy.seconds, "load_seconds": load.seconds,
            "copy_server_cpu_seconds": copy.server_cpu_seconds,
            "load_server_cpu_seconds": load.server_cpu_seconds,
        }])
