"""`veille bench refresh`: the cost of a monthly refresh against a full load and build.

On a synthetic extract (cached under $VEILLE_HOME/bench), with the flow months after the month
appended left out of both sides:

The shipped studies are written to the study registry of both databases first (--no-studies:
an empty registry), so that the study models build real cohorts, as in a user's warehouse.

* **full**: one database loads every flow month up to and including the month at once
  (`veille load`), then builds the warehouse from scratch (`dbt build --selector warehouse
  --full-refresh`, tests included);
* **refresh**: another loads the months before it and builds (not timed), then appends the month
  (`veille load --append`) and builds incrementally (the same `dbt build`, without
  --full-refresh), as `veille refresh` does.

With --areas (the default), each side then runs the pathways and scan models (`dbt run --select
tag:pathways tag:scan`, the dbt part of `veille refresh --pathways --scan`; --full-refresh on the
full side), timed apart: their care events and episodes are incremental.

Every table of the intermediate, marts, pathways and scan schemas must then hold the same rows in both (a count
and an order-free checksum of each table, generated ids left out); the benchmark stops
otherwise. The ratio refresh / full is issue 21's target (<= 10 % at 200,000 patients x 5 years).
"""

from __future__ import annotations

import shutil
from datetime import date

import typer

from veille import db
from veille.benchkit import Bench, Column, OutFile, Table, generated_extract, scratch_database
from veille.errors import VeilleError

GENERATED_IDS = ("dispensing_id", "stay_id")
BUILD = ["build", "--selector", "warehouse", "--quiet"]
AREAS = ["run", "--select", "tag:pathways", "tag:scan", "--quiet"]


def warehouse_tables(conn) -> list[tuple[str, str, str]]:
    """Every table dbt built in the intermediate, marts, pathways and scan schemas: (quoted relation,
    schema.table, its columns as SQL), generated ids left out (they follow the order of the loads)."""
    tables = conn.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_schema in ('intermediate', 'marts', 'pathways', 'scan') and table_type = 'BASE TABLE' "
        "and table_name <> 'refresh_watermark' order by 1, 2").fetchall()
    out = []
    for schema, table in tables:
        columns = [c for (c,) in conn.execute(
            "select column_name from information_schema.columns where table_schema = %s "
            "and table_name = %s order by ordinal_position", (schema, table)).fetchall()
            if c not in GENERATED_IDS]
        out.append((f'"{schema}"."{table}"', f"{schema}.{table}", ", ".join(f'"{c}"' for c in columns)))
    return out


def _checksums() -> dict[str, tuple[int, int]]:
    """Per warehouse table: (rows, sum of a hash of each row), ids left out."""
    with db.raw_connection() as conn:
        out = {}
        for relation, name, cols in warehouse_tables(conn):
            n, h = conn.execute(f"select count(*), coalesce(sum(hashtextextended(t::text, 0)), 0) "
                                f"from (select {cols} from {relation}) as t").fetchone()
            out[name] = (n, int(h))
    return out


def register_studies() -> int:
    """Write every shipped study (analyses/studies/*.yml) to the registry, as `veille study run`
    does before its build: the study models then build real cohorts."""
    from veille.study.config import load_all
    from veille.study.registry import write_registry

    studies = load_all()
    with db.engine(db.ENGINEER).begin() as conn:
        for study in studies:
            write_registry(conn, study)
    return len(studies)


def bench_refresh(bench: Bench, patients: int, years: int, profile: str, seed: int, studies: bool = True,
                  areas: bool = True) -> dict:
    from veille import migrate
    from veille.dbt import run_dbt, run_results_path, timing_lines
    from veille.load import load_extract
    from veille.refresh import split_flows

    extract, _ = generated_extract(f"refresh_{profile}_{patients}_{years}", patients, years, seed,
                                   profile=profile, echo=bench.echo)
    month = date(2015 + years - 1, 12, 1)  # the last month of care: a full month of flow
    work = db.veille_home() / "bench" / f"refresh_split_{profile}_{patients}_{years}"
    shutil.rmtree(work, ignore_errors=True)
    flows = split_flows(extract, work, month)
    appended = flows[0]
    once = work / "once"  # base and the month, in one folder
    once.mkdir()
    for folder in (work / "base", appended):
        for f in folder.iterdir():
            (once / f.name).hardlink_to(f)
    claim_lines = sum(1 for f in appended.glob("ER_PRS_F_*.csv") for _ in f.open()) - 1
    try:
        with scratch_database("bench_refresh_full"):
            migrate.upgrade()
            registered = register_studies() if studies else 0
            with bench.stage("full load", files=len(list(once.iterdir()))):
                load_extract(once)
            with bench.stage("full build"):
                run_dbt([*BUILD, "--full-refresh"])
            if areas:
                with bench.stage("full area models"):
                    run_dbt([*AREAS, "--full-refresh"])
            full = _checksums()
        with scratch_database("bench_refresh_steps"):
            migrate.upgrade()
            if studies:
                register_studies()
            bench.echo(f"loading and building {work / 'base'} (the months before {month:%Y-%m}; not timed)")
            load_extract(work / "base")
            run_dbt(BUILD)
            if areas:
                run_dbt(AREAS)
            with bench.stage("append load", month=f"{month:%Y-%m}", service_lines=claim_lines) as st:
                summary = load_extract(appended, append=True)
                st.note = f"{summary.totals()['loaded']:,} rows"
            with bench.stage("incremental build"):
                run_dbt(BUILD)
            for line in timing_lines(run_results_path(BUILD), limit=14):
                bench.echo("    " + line)
            if areas:
                with bench.stage("incremental area models"):
                    run_dbt(AREAS)
            with db.raw_connection() as conn:
                touched = conn.execute("select count(distinct patient_id) from meta.load_change "
                                       "where run_id = (select max(run_id) from meta.load_run)").fetchone()[0]
            stepwise = _checksums()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    differ = sorted(t for t in full.keys() | stepwise.keys() if full.get(t) != stepwise.get(t))
    if differ:
        raise VeilleError(f"the refreshed warehouse differs from the full build in {', '.join(differ)}")
    total_full = bench["full load"].seconds + bench["full build"].seconds
    total_refresh = bench["append load"].seconds + bench["incremental build"].seconds
    return {"patients": patients, "years": years, "profile": profile, "month": f"{month:%Y-%m}",
            "tables_equal": len(full), "studies": registered, "patients_touched": touched,
            "full_seconds": total_full, "refresh_seconds": total_refresh, "ratio": total_refresh / total_full,
            "areas_full_seconds": bench["full area models"].seconds if areas else None,
            "areas_refresh_seconds": bench["incremental area models"].seconds if areas else None}


def _share(r: dict) -> str:
    return f"{100 * r['refresh_seconds'] / r['full_seconds']:.1f} %" if r.get("full_seconds") else ""


SUMMARY = Table((
    Column("extract", lambda r: f"{r['profile']}, {r['patients']:,} x {r['years']} y"),
    Column("studies registered", lambda r: str(r["studies"]), right=True),
    Column("month appended", lambda r: r["month"]),
    Column("patients touched", lambda r: f"{r['patients_touched']:,}", right=True),
    Column("full load + build", lambda r: f"{r['full_seconds']:.1f} s", right=True),
    Column("append + incremental build", lambda r: f"{r['refresh_seconds']:.1f} s", right=True),
    Column("share", _share, right=True),
    Column("pathways + scan models: full / incremental",
           lambda r: (f"{r['areas_full_seconds']:.1f} s / {r['areas_refresh_seconds']:.1f} s"
                      if r.get("areas_full_seconds") is not None else ""), right=True),
    Column("tables equal", lambda r: str(r["tables_equal"]), right=True),
))


def register(bench_app: typer.Typer) -> None:
    @bench_app.command("refresh")
    def bench_refresh_cmd(
        patients: int = typer.Option(200_000, "--patients", min=100),
        years: int = typer.Option(5, "--years", min=1),
        profile: str = typer.Option("default", "--profile", help="default or stress"),
        seed: int = typer.Option(7, "--seed"),
        studies: bool = typer.Option(True, "--studies/--no-studies",
                                     help="register the shipped studies first (their cohort models then build)"),
        areas: bool = typer.Option(True, "--areas/--no-areas",
                                   help="then run the pathways and scan models on both sides, timed apart"),
        out: OutFile = None,
    ) -> None:
        """Append one flow month and build incrementally, against a full load and build; checks
        that both warehouses hold the same rows."""
        bench = Bench("refresh", out=out, server=True)
        result = bench_refresh(bench, patients, years, profile, seed, studies, areas)
        from veille.benchkit import STAGE_TABLE

        bench.finish_tables([(STAGE_TABLE, bench.rows()), (SUMMARY, [result])])
