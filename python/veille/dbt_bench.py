"""`veille bench dbt`: dbt build time per model and per million dispensings.

Synthetic dispensings are generated directly in SQL (generate_series) in a scratch database on
the current server: patients with a few chronic drugs refilled about monthly, with jitter, gaps
and some large packs. In the same run, the benchmark times

* a bare sort of the rows the episode model reads (``intermediate.int_drug_dispensings``) into a
  table, ordered by patient, drug, date: the floor for any one-pass episode builder;
* the episode model ``int_drug_episodes_built`` alone (``dbt run --select``);
* every warehouse model (``dbt run --selector warehouse --threads 1``) with one study registry row,

and prints the ratio episode model / bare sort (target <= 2), in the tables of docs/benchmarks.md.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import sqlalchemy as sa
import typer

from veille import db
from veille.benchkit import Bench, Column, OutFile, Table, scratch_database
from veille.dbt import run_dbt

PER_PATIENT = 60  # dispensings per patient (about 5 drugs x 12 refills)


def synthetic_dispensings_sql(dispensings: int, seed: float = 0.42) -> list[str]:
    """SQL statements filling claims/ref/study with `dispensings` synthetic dispensings."""
    patients = max(1, dispensings // PER_PATIENT)
    return [
        f"select setseed({seed})",
        """insert into meta.load_batch (extract_dir, file_name, table_name, checksum, rows_read,
               rows_loaded, rows_rejected, started_at, finished_at, seconds)
           values ('bench', 'bench', 'dispensing', repeat('0', 64), 0, 0, 0, now(), now(), 0)""",
        # 400 packs over 200 ATC7 codes in 20 ATC4 classes; one pack in five is a large pack
        """insert into ref.drug (cip13, atc7, pack_type, units_per_pack)
           select lpad((3400000000000 + i)::text, 13, '0'),
                  chr(65 + (i / 10) % 20) || lpad(((i / 10) % 20)::text, 2, '0') || 'AA'
                      || lpad((i % 10)::text, 2, '0'),
                  case when i % 5 = 0 then 'GC' else 'NGC' end,
                  case when i % 5 = 0 then 90 else 30 end
           from generate_series(0, 399) as i""",
        f"""insert into claims.patient (ben_nir_psa, ben_rng_gem, sex, birth_year)
           select 'B' || p, 1, 1 + p % 2, 1930 + p % 70
           from generate_series(1, {patients}) as p""",
        # dispensing i: patient i / 60, drug slot i % 5, refill number (i / 5) % 12; refills
        # every 25-40 days from a per-patient-drug start, one in ten skipped by a long gap
        f"""insert into claims.dispensing (patient_id, dispensing_date, cip13, packs, flow_month,
               batch_id)
           select patient_id, day, cip13, packs, date_trunc('month', day)::date, 1
           from (
               select
                   1 + (i / {PER_PATIENT}) % {patients} as patient_id,
                   date '2015-01-01' + ((i / {PER_PATIENT}) * 37 + (i % 5) * 91) % 1400
                       + ((i / 5) % 12) * 33 + (random() * 14)::int - 7
                       + case when random() < 0.1 then 60 else 0 end as day,
                   lpad((3400000000000 + ((i / {PER_PATIENT}) * 7 + (i % 5) * 53) % 400)::text, 13,
                        '0') as cip13,
                   case when random() < 0.05 then 2 else 1 end as packs
               from generate_series(0, {dispensings} - 1) as i
           ) as rows""",
        """insert into study.cohort_definition (cohort_id, study_id, exposure_label, exposure_atc,
               comparator_kind, comparator_label, comparator_atc, covariate_atc)
           values ('bench', 'bench', 'class A', '{A00AA}', 'active', 'class B', '{B01AA}',
                   '{C02,D03}')""",
        """insert into study.cohort_outcome (cohort_id, outcome_id) values
           ('bench', 'myocardial_infarction')""",
        "analyze",
    ]


def _run_results(target: Path) -> dict[str, float]:
    results = json.loads((target / "run_results.json").read_text())["results"]
    return {r["unique_id"].split(".")[-1]: float(r["execution_time"]) for r in results}


def _execute(statements: list[str]) -> None:
    with db.raw_connection() as conn:
        conn.autocommit = True
        for statement in statements:
            conn.execute(statement)


SORT = ("bare sort of the rows the episode model reads (`int_drug_dispensings`, ordered by patient, "
        "drug, date, id) into a table")
EPISODES = "episode model `int_drug_episodes_built` alone (`dbt run --select`)"
RATIO = "ratio episode model / bare sort"
AGAIN = "same model again inside the full warehouse run"


def _cell(r: dict, text: str) -> str:
    return f"**{text}**" if r.get("bold") else text


def _per_million(r: dict) -> str:
    return "" if r["seconds"] is None else _cell(r, f"{r['seconds'] / r['dispensings'] * 1e6:.1f}")


def _seconds(r: dict) -> str:
    if r["seconds"] is None:
        return f"**{r['ratio']:.2f}** (target <= 2)"
    return _cell(r, f"{r['seconds']:.1f}")


STEP_TABLE = Table((Column("step", lambda r: _cell(r, r["name"])), Column("seconds", _seconds, right=True),
                    Column("s per million dispensings", _per_million, right=True)))
MODEL_TABLE = Table((Column("model", lambda r: _cell(r, r["name"])), Column("seconds", _seconds, right=True),
                     Column("s per million dispensings", _per_million, right=True)))
"""docs/benchmarks.md, section dbt: the episode model against a bare sort, then each model of the
warehouse run over 1 s and the sum of all of them."""


def bench_dbt(bench: Bench, dispensings: int, keep: bool) -> dict[str, object]:
    """Run the benchmark in a scratch database; return the measured figures."""
    from veille import migrate

    # a private target directory: other dbt runs in the project must not overwrite run_results
    target = Path(tempfile.mkdtemp(prefix="veille_bench_dbt_"))

    def dbt(*args: str) -> None:
        run_dbt([*args, "--quiet", "--target-path", str(target)])

    try:
        with scratch_database("bench_dbt", keep=keep) as name:
            migrate.upgrade("heads")
            with bench.stage("generate the dispensings in SQL"):
                _execute(synthetic_dispensings_sql(dispensings))
            dbt("seed", "--selector", "warehouse")
            dbt("run", "--select", "+int_drug_dispensings", "+stg_claims__patients")
            with bench.stage("bare sort"):
                _execute([
                    """create table public.bench_sorted as
                       select patient_id, drug_code, dispensing_id, dispensing_date, days_covered
                       from intermediate.int_drug_dispensings
                       order by patient_id, drug_code, dispensing_date, dispensing_id""",
                ])
            _execute(["drop table public.bench_sorted"])
            with bench.stage("episode model (dbt run)"):
                dbt("run", "--select", "int_drug_episodes_built")
            episode_seconds = _run_results(target)["int_drug_episodes_built"]
            with bench.stage("warehouse models (dbt run, 1 thread)"):
                dbt("run", "--selector", "warehouse", "--threads", "1")
            models = _run_results(target)
            with db.engine().connect() as conn:
                episodes = conn.execute(sa.text("select count(*) from intermediate.int_drug_episodes_built")).scalar()
                loaded = conn.execute(sa.text("select count(*) from claims.dispensing")).scalar()
    finally:
        shutil.rmtree(target, ignore_errors=True)
    sort_seconds = bench["bare sort"].seconds
    return {
        "database": name,
        "dispensings": int(loaded),
        "episodes": int(episodes),
        "setup_seconds": bench["generate the dispensings in SQL"].seconds,
        "sort_seconds": sort_seconds,
        "episode_seconds": episode_seconds,
        "ratio": episode_seconds / sort_seconds,
        "warehouse_seconds": sum(models.values()),
        "models": models,
    }


def table_rows(r: dict) -> tuple[list[dict], list[dict]]:
    """The rows of :data:`STEP_TABLE` and :data:`MODEL_TABLE` from :func:`bench_dbt`'s figures."""
    n = r["dispensings"]
    models = r["models"]
    steps = [{"name": SORT, "seconds": r["sort_seconds"]}, {"name": EPISODES, "seconds": r["episode_seconds"]},
             {"name": RATIO, "seconds": None, "ratio": r["ratio"], "bold": True},
             {"name": AGAIN, "seconds": models.get("int_drug_episodes_built")}]
    per_model = [{"name": m, "seconds": s} for m, s in sorted(models.items(), key=lambda kv: -kv[1]) if s >= 1]
    per_model.append({"name": f"sum of all {len(models)} warehouse models", "seconds": r["warehouse_seconds"],
                      "bold": True})
    return ([{"table": "steps", **row, "dispensings": n} for row in steps],
            [{"table": "models", **row, "dispensings": n} for row in per_model])


def register(bench_app: typer.Typer) -> None:
    @bench_app.command("dbt")
    def bench_dbt_cmd(
        dispensings: int = typer.Option(1_000_000, "--dispensings", min=1000,
                                        help="synthetic dispensings to generate"),
        keep: bool = typer.Option(False, "--keep", help="keep the scratch database"),
        out: OutFile = None,
    ) -> None:
        """dbt build time per model and per million dispensings; episode model vs a bare sort."""
        bench = Bench("dbt", out=out, server=True)
        r = bench_dbt(bench, dispensings, keep)
        typer.echo(f"{r['dispensings']:,} dispensings -> {r['episodes']:,} episodes "
                   f"(data generated in SQL in {r['setup_seconds']:.1f} s)")
        steps, models = table_rows(r)
        bench.finish_tables([(STEP_TABLE, steps), (MODEL_TABLE, models)])
        if keep:
            typer.echo(f"scratch database kept: {r['database']}")
