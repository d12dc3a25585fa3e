"""The monthly sweep: dbt builds the fraud models (one flow month, or all), Python adds the
isolation-forest scores, then one SQL pass ranks the month's alerts with their reasons.

On the spark target (docs/spark.md) the sweep builds every month on Spark; the month's rows of
the four fraud marts the alerts read are staged in temporary tables of the PostgreSQL results
database (veille.marts.stage), and the same alerts.sql ranks them there."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa
from rich.progress import Progress

from veille import db
from veille.dbt import run_dbt
from veille.errors import VeilleError
from veille.fraud.forest import forest_scores
from veille.fraud.settings import SweepSettings
from veille.marts import Marts, SparkMarts, check_target, dbt_target_args, marts_for, stage

ALERTS_SQL = Path(__file__).with_name("alerts.sql")


def _steps(sql: str) -> list[str]:
    parts = [p for p in sql.split("-- step:")[1:]]
    return [p.split("\n", 1)[1].strip().rstrip(";") for p in parts]


def _check_schema(conn: sa.Connection) -> None:
    if conn.execute(sa.text("select to_regclass('results.fraud_alert')")).scalar() is None:
        raise VeilleError("the results.fraud_* tables are missing: run `veille migrate` first")


# the fraud marts alerts.sql reads, and the flow months of each it needs for one swept month
ALERT_MARTS = {"fraud_rule_hits": 1, "fraud_shopping_patients": 1, "fraud_provider_peer_scores": 12,
               "fraud_prescriber_class_scores": 1}


def _build_models(month: date | None, full_refresh: bool, target: str = "default") -> None:
    args = ["run", "--quiet", "--select", "tag:fraud", *dbt_target_args(target)]
    if month is not None:
        args += ["--vars", json.dumps({"fraud_month": month.strftime("%Y-%m")})]
    if full_refresh:
        args.append("--full-refresh")
    run_dbt(args, check=True)


def _months_back(month: date, n: int) -> list[date]:
    """``month`` and the n - 1 months before it."""
    return [date(month.year + (month.month - 1 - i) // 12, (month.month - 1 - i) % 12 + 1, 1) for i in range(n)]


def _alert_steps(conn: sa.Connection, month: date, marts: Marts | SparkMarts) -> list[str]:
    """The steps of alerts.sql, reading the fraud marts of ``marts``: in place on PostgreSQL, or
    the month's rows staged as temporary tables."""
    sql = ALERTS_SQL.read_text()
    if marts.target != "default":
        for name, months in ALERT_MARTS.items():
            stage(conn, name, marts.read(f"fraud.{name}", {"month": _months_back(month, months)}),
                  marts.pg_types(f"fraud.{name}"))
        sql = sql.replace("fraud.fraud_", "pg_temp.fraud_")
    return _steps(sql)


def score_month(conn: sa.Connection, month: date, settings: SweepSettings, seconds: float = 0.0,
                target: str = "default") -> int:
    """Forest scores and ranked alerts of one month whose fraud models are built on ``target``;
    alert count."""
    started = time.perf_counter()
    marts = marts_for(target, conn)
    conn.execute(
        sa.text(
            "insert into results.fraud_sweep (month, swept_at, seconds, n_alerts, settings) "
            "values (:m, :t, 0, 0, cast(:s as jsonb)) on conflict (month) do update "
            "set swept_at = excluded.swept_at, settings = excluded.settings"
        ),
        {"m": month, "t": datetime.now(UTC), "s": settings.model_dump_json()},
    )
    conn.execute(sa.text("delete from results.fraud_provider_score where month = :m"), {"m": month})
    scores = forest_scores(marts, month, settings)
    if len(scores):
        conn.execute(
            sa.text(
                "insert into results.fraud_provider_score "
                "(month, provider_id, peer_group, forest_score, is_outlier) "
                "values (:month, :provider_id, :peer_group, :forest_score, :is_outlier)"
            ),
            [
                {**row, "forest_score": float(row["forest_score"]), "is_outlier": bool(row["is_outlier"])}
                for row in scores.to_dict("records")
            ],
        )
    params = {"month": month, **settings.model_dump(exclude={"seed", "forest_share"})}
    for step in _alert_steps(conn, month, marts):
        names = [k for k in params if f":{k}" in step]
        conn.execute(sa.text(step), {k: params[k] for k in names})
    n = conn.execute(
        sa.text("select count(*) from results.fraud_alert where month = :m and status <> 'resolved'"),
        {"m": month},
    ).scalar_one()
    conn.execute(
        sa.text("update results.fraud_sweep set n_alerts = :n, seconds = :s where month = :m"),
        {"n": n, "s": seconds + time.perf_counter() - started, "m": month},
    )
    return int(n)


def _flow_months(marts: Marts) -> list[date]:
    months = {*marts.distinct("fraud.fraud_provider_features", "month"),
              *marts.distinct("fraud.fraud_shopping_dispensings", "month")}
    return sorted(months)


def _month_has_claims(conn: sa.Connection, month: date) -> bool:
    sql = " or ".join(
        f"exists (select 1 from claims.{t} where flow_month = :m)"
        for t in ("dispensing", "service_line", "medical_act", "lab_test")
    )
    return bool(conn.execute(sa.text(f"select {sql}"), {"m": month}).scalar())


def _check_models_current(conn: sa.Connection) -> None:
    """A base swept by an older version lacks the patient-level class table, the features'
    n_drug_patients or the shoppers' supply_ratio (and the pooled 'controlled' class that came
    with it): an incremental scan would build them from one month only, or not at all."""
    swept = conn.execute(sa.text("select to_regclass('fraud.fraud_provider_features')")).scalar()
    if swept is None:
        return
    current = conn.execute(sa.text(
        "select to_regclass('fraud.fraud_prescriber_class_patients') is not null and ("
        "select count(*) from information_schema.columns where table_schema = 'fraud' and ("
        "(table_name = 'fraud_provider_features' and column_name = 'n_drug_patients') or "
        "(table_name = 'fraud_shopping_patients' and column_name = 'supply_ratio'))) = 2")).scalar()
    if not current:
        raise VeilleError("the fraud models were built by an older version: run `veille fraud sweep` "
                          "once (it rebuilds every month), then scan months one by one")


def scan_month(month: date, settings: SweepSettings | None = None) -> int:
    """Sweep one monthly flow incrementally (only that month's rows are rebuilt); alert count."""
    settings = settings or SweepSettings()
    started = time.perf_counter()
    with db.engine(db.ENGINEER).begin() as conn:
        _check_schema(conn)
        _check_models_current(conn)
        if not _month_has_claims(conn, month):
            raise VeilleError(f"no claims in flow month {month:%Y-%m}: load it first (`veille load`)")
    _build_models(month, full_refresh=False)
    with db.engine(db.ENGINEER).begin() as conn:
        return score_month(conn, month, settings, time.perf_counter() - started)


def sweep_all(settings: SweepSettings | None = None, *, show_progress: bool = False,
              target: str = "default") -> dict[str, int]:
    """Rebuild the fraud models over every flow month on dbt target ``target``, then rank each
    month's alerts in order."""
    settings = settings or SweepSettings()
    with db.engine(db.ENGINEER).begin() as conn:
        _check_schema(conn)
    started = time.perf_counter()
    _build_models(None, full_refresh=True, target=check_target(target))
    build_seconds = time.perf_counter() - started
    out: dict[str, int] = {}
    with db.engine(db.ENGINEER).begin() as conn:
        months = _flow_months(marts_for(target, conn))
        if not months:
            raise VeilleError("no claims to sweep: load an extract first (`veille load`)")
        conn.execute(sa.text("delete from results.fraud_sweep"))
        with Progress(disable=not show_progress, transient=True) as progress:
            task = progress.add_task("ranking alerts", total=len(months))
            for month in months:
                out[f"{month:%Y-%m}"] = score_month(conn, month, settings, build_seconds / len(months), target)
                progress.advance(task)
    return out
