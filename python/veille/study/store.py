"""The `results` schema: one run id per execution, its estimates, balance, attrition, checks."""

from __future__ import annotations

import datetime as dt
import json
import math
import platform
from importlib import metadata

import pandas as pd
import sqlalchemy as sa

from veille.errors import VeilleError
from veille.study.analysis import OutcomeAnalysis
from veille.study.config import Study

ESTIMATE_COLUMNS = [
    "cohort_id", "outcome_id", "analysis", "term", "exposure", "comparator", "is_negative_control",
    "n_exposed", "n_comparator", "events_exposed", "events_comparator", "hr", "ci_low", "ci_high",
    "se_log_hr", "p_value", "status", "message",
]


def software_versions(conn: sa.Connection) -> dict[str, str]:
    out = {"python": platform.python_version(), "postgresql": conn.execute(sa.text("show server_version")).scalar()}
    for pkg in ("veille", "lifelines", "pandas", "numpy", "scipy", "SQLAlchemy", "dbt-core", "dbt-postgres"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "absent"
    return out


def data_span(conn: sa.Connection) -> dict[str, str | int | None]:
    row = conn.execute(
        sa.text(
            "select min(dispensing_date), max(dispensing_date), (select count(*) from claims.patient) "
            "from claims.dispensing"
        )
    ).one()
    return {"first_dispensing": str(row[0]) if row[0] else None, "last_dispensing": str(row[1]) if row[1] else None, "patients": row[2]}


def start_run(conn: sa.Connection, study: Study) -> int:
    """Insert a 'running' run row holding the study's validated settings; return its id."""
    return conn.execute(
        sa.text(
            "insert into results.run (study_id, started_at, status, settings, software, data_span) "
            "values (:s, :t, 'running', cast(:settings as jsonb), cast(:software as jsonb), cast(:span as jsonb)) returning run_id"
        ),
        {
            "s": study.id,
            "t": dt.datetime.now(dt.UTC),
            "settings": study.model_dump_json(),
            "software": json.dumps(software_versions(conn)),
            "span": json.dumps(data_span(conn)),
        },
    ).scalar_one()


def finish_run(conn: sa.Connection, run_id: int, status: str, message: str | None = None) -> None:
    conn.execute(
        sa.text("update results.run set finished_at = :t, status = :st, message = :m where run_id = :r"),
        {"t": dt.datetime.now(dt.UTC), "st": status, "m": message, "r": run_id},
    )


def _insert(conn: sa.Connection, table: str, rows: list[dict]) -> None:
    if not rows:
        return
    cols = list(rows[0])
    conn.execute(
        sa.text(f"insert into results.{table} ({', '.join(cols)}) values ({', '.join(':' + c for c in cols)})"),
        [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()} for r in rows],
    )


def save_outcome(conn: sa.Connection, run_id: int, res: OutcomeAnalysis) -> None:
    """Write one outcome's estimates, incidence, balance and diagnostics under ``run_id``."""
    _insert(conn, "estimate", [{"run_id": run_id, **{c: e[c] for c in ESTIMATE_COLUMNS}} for e in res.estimates])
    inc = res.incidence.assign(run_id=run_id, cohort_id=res.cohort_id, outcome_id=res.outcome_id)
    _insert(conn, "incidence", inc.to_dict("records"))
    if res.balance is not None:
        bal = res.balance.assign(run_id=run_id, cohort_id=res.cohort_id, outcome_id=res.outcome_id)
        _insert(conn, "balance", bal.to_dict("records"))
    _insert(conn, "diagnostic", [{"run_id": run_id, "cohort_id": res.cohort_id, "outcome_id": res.outcome_id, **d} for d in res.diagnostics])


def save_attrition(conn: sa.Connection, run_id: int, attrition: pd.DataFrame) -> None:
    cols = ["cohort_id", "outcome_id", "step", "criterion", "n_exposed", "n_comparator"]
    _insert(conn, "attrition", attrition.reindex(columns=cols).assign(run_id=run_id).to_dict("records"))


def note(conn: sa.Connection, run_id: int, cohort_id: str, kind: str, message: str) -> None:
    _insert(conn, "diagnostic", [{"run_id": run_id, "cohort_id": cohort_id, "outcome_id": None, "kind": kind, "value": None, "message": message}])


def latest_run(conn: sa.Connection, study_id: str) -> int:
    run = conn.execute(
        sa.text("select max(run_id) from results.run where study_id = :s and status = 'done'"), {"s": study_id}
    ).scalar()
    if run is None:
        raise VeilleError(f"study {study_id!r} has no finished run: run `veille study run {study_id}` first")
    return int(run)


def read_estimates(conn: sa.Connection, run_id: int) -> pd.DataFrame:
    return pd.read_sql(
        sa.text(
            "select r.study_id as study, e.* from results.estimate e join results.run r using (run_id) "
            "where run_id = :r order by e.is_negative_control, e.cohort_id, e.outcome_id, e.analysis, e.term"
        ),
        conn,
        params={"r": run_id},
    )


def read_table(conn: sa.Connection, table: str, run_id: int) -> pd.DataFrame:
    return pd.read_sql(sa.text(f"select * from results.{table} where run_id = :r"), conn, params={"r": run_id})


def save_calibration(conn: sa.Connection, run_id: int, outcomes: list[OutcomeAnalysis]) -> dict:
    """Calibrate every estimate of the run on its negative controls (veille.study.calibration):
    the estimate dicts gain their calibrated p and interval, results.estimate is updated and the
    fitted nulls go to results.calibration; returns the nulls."""
    from veille.study.calibration import calibrate_estimates

    estimates = [e for o in outcomes for e in o.estimates]
    nulls = calibrate_estimates(estimates)
    rows = [{"run_id": run_id, **{k: e[k] for k in ("cohort_id", "outcome_id", "analysis", "term", "calibrated_p",
                                                   "calibrated_ci_low", "calibrated_ci_high")}}
            for e in estimates if e["calibrated_p"] is not None]
    if rows:
        conn.execute(sa.text(
            "update results.estimate set calibrated_p = :calibrated_p, calibrated_ci_low = :calibrated_ci_low, "
            "calibrated_ci_high = :calibrated_ci_high where run_id = :run_id and cohort_id = :cohort_id "
            "and outcome_id = :outcome_id and analysis = :analysis and term = :term"), rows)
    _insert(conn, "calibration", [
        {"run_id": run_id, "cohort_id": c, "analysis": a, "term": t, "n_controls": n.n_controls, "mu": n.mu,
         "sigma": n.sigma, "message": n.message} for (c, a, t), n in nulls.items()])
    return nulls
