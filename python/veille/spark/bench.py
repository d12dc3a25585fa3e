"""`veille bench spark`: the core warehouse built by PostgreSQL and by Spark on one extract.

Stages, on the generator's extract (default profile, cached under $VEILLE_HOME/bench):
* **load** (PostgreSQL): `veille load` into a scratch database, with the shipped studies registered;
* **PostgreSQL build**: `dbt build --selector warehouse --full-refresh` (models, data and unit tests);
* **flatten**: the loaded tables written as Parquet (`veille flatten --from-warehouse`);
* **Spark build**: the same `dbt build` with `--target spark`, Spark in session mode on
  `local[N]` (N = --cores), its catalog and tables in a scratch folder.
With ``--areas``, the pathways, scan and fraud models are then built on each engine too (the
shipped indicators registered). Then every table is compared row by row (veille.spark.compare):
the benchmark stops if one differs.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import typer

from veille.benchkit import Bench, Column, OutFile, Table, generated_extract, scratch_database
from veille.errors import VeilleError

BUILD = ["build", "--selector", "warehouse", "--quiet"]
AREAS = ["run", "--select", "tag:pathways", "tag:scan", "tag:scan_ddi", "tag:fraud", "--quiet"]


def bench_spark(bench: Bench, patients: int, years: int, seed: int, cores: int,
                profile: str = "default", areas: bool = False) -> dict:
    from veille import db, migrate
    from veille.dbt import run_dbt
    from veille.load import load_extract
    from veille.pathways.indicators import read_indicators, register
    from veille.refresh_bench import register_studies
    from veille.spark import spark_settings
    from veille.spark.compare import compare_warehouses
    from veille.spark.flatten import flatten

    folder = f"spark_{patients}_{years}" if profile == "default" else f"spark_{profile}_{patients}_{years}"
    extract, _ = generated_extract(folder, patients, years, seed, profile=profile, echo=bench.echo)
    work = Path(tempfile.mkdtemp(prefix="bench_spark_", dir=db.veille_home()))
    try:
        with spark_settings(work / "spark", work / "parquet", f"local[{cores}]"), scratch_database("bench_spark"):
            migrate.upgrade()
            register_studies()
            if areas:
                with db.engine(db.ENGINEER).begin() as conn:
                    register(conn, read_indicators())
            with bench.stage("load (PostgreSQL)"):
                load_extract(extract)
            with bench.stage("PostgreSQL build"):
                run_dbt([*BUILD, "--full-refresh"])
            if areas:
                with bench.stage("PostgreSQL areas"):
                    run_dbt([*AREAS, "--full-refresh"])
            with bench.stage("flatten") as st:
                summary = flatten(None, work / "parquet", echo=lambda _: None)
                st.note = f"{sum(summary.tables.values()):,} rows, {summary.files} files"
            with bench.stage("Spark build", cores=cores):
                if run_dbt([*BUILD, "--target", "spark"], check=False) != 0:
                    raise VeilleError("the Spark build failed: see dbt_project/logs/dbt.log")
            if areas:
                with bench.stage("Spark areas", cores=cores):
                    if run_dbt([*AREAS, "--target", "spark"], check=False) != 0:
                        raise VeilleError("the Spark build of the areas failed: see dbt_project/logs/dbt.log")
            schemas = ("intermediate", "marts") + (("pathways", "scan", "fraud") if areas else ())
            with bench.stage("compare"):
                results = compare_warehouses(schemas=schemas)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    differ = [r for r in results if not r.equal]
    if differ:
        raise VeilleError(f"the Spark warehouse differs from PostgreSQL's in {', '.join(r.table for r in differ)} "
                          f"({differ[0].table}: {differ[0].detail})")
    return {"patients": patients, "years": years, "profile": profile, "cores": cores, "tables_equal": len(results),
            "pg": bench["PostgreSQL build"].seconds, "spark": bench["Spark build"].seconds,
            "flatten": bench["flatten"].seconds,
            "pg_areas": bench["PostgreSQL areas"].seconds if areas else None,
            "spark_areas": bench["Spark areas"].seconds if areas else None}


SUMMARY = Table((
    Column("extract", lambda r: f"{r['profile']}, {r['patients']:,} x {r['years']} y"),
    Column("PostgreSQL build", lambda r: f"{r['pg']:.1f} s", right=True),
    Column("flatten", lambda r: f"{r['flatten']:.1f} s", right=True),
    Column("Spark build", lambda r: f"{r['spark']:.1f} s (local[{r['cores']}])", right=True),
    Column("Spark / PostgreSQL", lambda r: f"{r['spark'] / r['pg']:.1f}x", right=True),
    Column("areas (pathways, scan, fraud): PostgreSQL / Spark",
           lambda r: "-" if r["pg_areas"] is None else f"{r['pg_areas']:.1f} s / {r['spark_areas']:.1f} s", right=True),
    Column("tables equal", lambda r: str(r["tables_equal"]), right=True),
))


def register(bench_app: typer.Typer) -> None:
    @bench_app.command("spark")
    def bench_spark_cmd(
        patients: int = typer.Option(200_000, "--patients", min=100),
        years: int = typer.Option(5, "--years", min=1),
        seed: int = typer.Option(7, "--seed"),
        cores: int = typer.Option(2, "--cores", min=1, help="Spark's local[N]"),
        profile: str = typer.Option("default", "--profile", help="the generator's profile: default or stress"),
        areas: bool = typer.Option(False, "--areas", help="also build the pathways, scan and fraud models on both"),
        out: OutFile = None,
    ) -> None:
        """The core warehouse built by PostgreSQL and by Spark (session mode) on one extract,
        per stage; checks that both hold the same rows."""
        bench = Bench("spark", out=out, server=True)
        result = bench_spark(bench, patients, years, seed, cores, profile, areas)
        from veille.benchkit import STAGE_TABLE

        bench.finish_tables([(STAGE_TABLE, bench.rows()), (SUMMARY, [result])])
