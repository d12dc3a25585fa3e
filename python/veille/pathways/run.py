"""`veille pathways run`: register the indicators, build the pathways marts, compute the
summaries and the trajectory clusters, store them under one run id in `results`."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from veille import db
from veille.errors import VeilleError
from veille.marts import Marts, dbt_target_args, marts_for
from veille.pathways import clusters, indicators, summaries
from veille.pathways.settings import RunSettings  # re-exported: callers build it from here


def _steps() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                    transient=True)


def build_marts(settings: RunSettings) -> None:
    from veille.dbt import run_dbt

    select = {"upstream": "+tag:pathways", "pathways": "tag:pathways",
              "indicators": "fct_pathways_indicator_patient"}[settings.build]
    target = dbt_target_args(settings.target)
    rc = run_dbt(["build", "--select", select, "--resource-type", "model", "--resource-type", "seed",
                  "--quiet", "--vars", json.dumps(settings.dbt_vars()), *target], check=False)
    if rc != 0:
        raise VeilleError(f"dbt build --select {select} {' '.join(target)} failed (exit {rc}); "
                          "see dbt_project/logs")


def _write(conn: sa.Connection, table: str, run_id: int, df: pd.DataFrame) -> None:
    if df.empty:
        return
    df = df.assign(run_id=run_id)
    df.to_sql(table, conn, schema="results", if_exists="append", index=False, method="multi",
              chunksize=5000)


def run(settings: RunSettings) -> int:
    """Run everything; return the run id."""
    inds = indicators.read_indicators(settings.indicators_path)
    eng = db.engine(db.ENGINEER)
    with eng.begin() as conn:
        indicators.register(conn, inds)
        run_id = conn.execute(
            sa.text("insert into results.pathways_run (started_at, status, settings) values "
                    "(:t, 'running', cast(:s as jsonb)) returning run_id"),
            {"t": dt.datetime.now(dt.UTC), "s": json.dumps(settings.as_dict())},
        ).scalar_one()
    try:
        with _steps() as progress:
            task = progress.add_task("dbt: pathways marts", total=None)
            build_marts(settings)
            with eng.begin() as conn:
                marts = marts_for(settings.target, conn)
                progress.update(task, description="care-use rates")
                _write(conn, "pathways_care_rate", run_id,
                       summaries.care_rates(summaries.care_strata(marts)))
                progress.update(task, description="adherence")
                _write(conn, "pathways_adherence", run_id, summaries.adherence(marts))
                progress.update(task, description="indicators")
                _write(conn, "pathways_indicator_rate", run_id, summaries.indicator_rates(marts))
                progress.update(task, description="treatment paths")
                _write(conn, "pathways_path", run_id,
                       summaries.paths(marts, settings.path_filter)[["path", "length", "patients"]])
                progress.update(task, description="trajectory clustering")
                _store_clusters(conn, marts, run_id, settings)
                conn.execute(sa.text("update results.pathways_run set status = 'done', "
                                     "finished_at = :t where run_id = :r"),
                             {"t": dt.datetime.now(dt.UTC), "r": run_id})
    except Exception as exc:
        with eng.begin() as conn:
            conn.execute(sa.text("update results.pathways_run set status = 'failed', finished_at = :t, "
                                 "message = :m where run_id = :r"),
                         {"t": dt.datetime.now(dt.UTC), "m": str(exc)[:2000], "r": run_id})
        raise
    return run_id


def _store_clusters(conn: sa.Connection, marts: Marts, run_id: int, settings: RunSettings) -> None:
    traj = clusters.load(marts, settings.min_months)
    if len(traj.patient_id) < 3:
        return
    result = clusters.cluster(traj, settings.method, settings.k, settings.sample_size,
                              settings.n_samples, settings.seed)
    _write(conn, "pathways_cluster_k", run_id, result.choice)
    desc = clusters.describe(traj, result)
    conn.execute(
        sa.text("insert into results.pathways_cluster (run_id, cluster, medoid, size, description) "
                "values (:r, :c, :m, :s, cast(:d as jsonb))"),
        [{"r": run_id, "c": d["cluster"], "m": d["medoid"], "s": d["size"], "d": json.dumps(d)}
         for d in desc],
    )
    n = len(traj.patient_id)
    none = np.full(n, np.nan)
    members = pd.DataFrame({
        "patient_id": traj.patient_id, "cluster": result.labels,
        "distance": none if result.distance is None else result.distance.astype(float),
        "probability": none if result.probability is None else result.probability.astype(float),
    })
    _copy_members(conn, run_id, members)


def _copy_members(conn: sa.Connection, run_id: int, members: pd.DataFrame) -> None:
    raw = conn.connection.driver_connection
    sql = ("copy results.pathways_cluster_member (run_id, patient_id, cluster, distance, "
           "probability) from stdin")
    with raw.cursor() as cur, cur.copy(sql) as copy:
        for row in members.itertuples(index=False):
            copy.write_row((run_id, int(row.patient_id), int(row.cluster), _num(row.distance),
                            _num(row.probability)))


def _num(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


def latest_run(conn: sa.Connection, run_id: int | None = None) -> int:
    """The given run id if it exists and is done, else the latest done run."""
    if run_id is not None:
        found = conn.execute(sa.text("select status from results.pathways_run where run_id = :r"),
                             {"r": run_id}).scalar()
        if found is None:
            raise VeilleError(f"no pathways run {run_id}")
        if found != "done":
            raise VeilleError(f"pathways run {run_id} is {found}, not done")
        return run_id
    last = conn.execute(sa.text("select max(run_id) from results.pathways_run where status = 'done'")
                        ).scalar()
    if last is None:
        raise VeilleError("no finished pathways run: run `veille pathways run` first")
    return int(last)


def default_report_path(run_id: int) -> Path:
    return db.project_root() / "reports" / "pathways" / f"pathways_run_{run_id}.html"
