"""`veille scan`: build the counting marts, compute every method, store a ranked run."""

from __future__ import annotations

import io
import json
import time
from datetime import UTC, datetime

import pandas as pd
import sqlalchemy as sa

from veille import db
from veille.errors import VeilleError
from veille.marts import dbt_target_args, marts_for
from veille.scan import conv as conv_method
from veille.scan.settings import ScanSettings
from veille.scan.signals import CONV_COLUMNS, TREE_COLUMNS, rank_signals

SIGNAL_COLUMNS = [
    "drug_level", "drug_code", "outcome_level", "outcome_code",
    "ssa_drug_first", "ssa_outcome_first", "ssa_csr", "ssa_nsr", "ssa_asr", "ssa_ci_low",
    "ssa_ci_high", "ssa_p", "oe_observed", "oe_expected", "oe_ratio", "oe_ic", "oe_ic025",
    "oe_ic975", "oe_p", "oe_cal_p", "oe_latent_observed", "oe_latent_expected", "oe_latent_ratio",
    "oe_latent_p", "oe_latent_cal_p", "tree_risk", "tree_control", *TREE_COLUMNS, *CONV_COLUMNS,
    "combined_p", "q_value", "is_signal", "rank",
]


# the scan marts the statistics read, with their unique keys: the order they are read in, the
# same on either engine
MARTS = {
    "scan_pair_counts": ["drug_level", "drug_code", "outcome_level", "outcome_code"],
    "scan_tree_events": ["drug_level", "drug_code", "icd3"],
    "scan_conv_cases": ["outcome_code", "patient_id"],
    "scan_conv_starts": ["patient_id", "drug_level", "drug_code", "start_day", "end_day"],
}


def build_marts(settings: ScanSettings, select: str = "+tag:scan", target: str = "default") -> None:
    """Build the scan models (by default with the models and seeds they read) with the
    settings' windows on dbt target ``target``; dbt tests are left to `veille dbt build`."""
    from veille.dbt import run_dbt

    run_dbt(["build", "--select", select, "--resource-type", "model", "--resource-type", "seed",
             "--quiet", "--vars", json.dumps(settings.dbt_vars()), *dbt_target_args(target)])


def read_marts(target: str = "default") -> dict[str, pd.DataFrame]:
    """The four scan marts (MARTS) built by dbt on ``target``, sorted by their keys."""
    with db.engine(db.ENGINEER).connect() as conn:
        marts = marts_for(target, conn)
        try:
            frames = {name: marts.read(f"scan.{name}") for name in MARTS}
        except VeilleError as e:
            raise VeilleError(f"{e}; or run `veille scan` without --no-build") from None
    return {name: frame.sort_values(MARTS[name], kind="stable", ignore_index=True)
            for name, frame in frames.items()}


def _copy(conn, run_id: int, table: str, frame: pd.DataFrame) -> None:
    frame = frame.copy()
    frame.insert(0, "run_id", run_id)
    buf = io.StringIO()
    frame.to_csv(buf, index=False, header=False, na_rep="")  # PostgreSQL reads inf as Infinity
    cols = ", ".join(frame.columns)
    with conn.cursor() as cur, cur.copy(f"copy {table} ({cols}) from stdin with (format csv)") as cp:
        cp.write(buf.getvalue())


def store_run(signals: pd.DataFrame, settings: ScanSettings, started: datetime,
              seconds: dict[str, float], lags: pd.DataFrame | None = None) -> int:
    """Write results.scan_run, results.signal and the ConvSCCS lag curves of the scanned pairs
    (results.signal_lag) in one transaction; return the run id."""
    with db.raw_connection(role=db.ENGINEER) as conn:
        exists = conn.execute("select to_regclass('results.signal') is not null").fetchone()[0]
        if not exists:
            raise VeilleError("table results.signal is missing: run `veille migrate` first")
        run_id = conn.execute(
            "insert into results.scan_run (started_at, finished_at, status, settings, n_pairs, "
            "n_signals, seconds) values (%s, %s, 'done', %s, %s, %s, %s) returning run_id",
            (started, datetime.now(UTC), json.dumps(settings.as_dict()), len(signals),
             int(signals["is_signal"].sum()), json.dumps(seconds)),
        ).fetchone()[0]
        _copy(conn, run_id, "results.signal", signals[SIGNAL_COLUMNS])
        if lags is not None and len(lags):
            curves = conv_method.lag_curves_of(signals, lags)
            _copy(conn, run_id, "results.signal_lag", conv_method.finite(curves[conv_method.LAG_COLUMNS]))
        conn.commit()
    return int(run_id)


def timed_steps(seconds: dict[str, float], progress=None):
    """``step(name, fn)``: say ``name`` to ``progress``, run ``fn``, record its seconds."""

    def step(name: str, fn):
        t0 = time.perf_counter()
        if progress:
            progress(name)
        value = fn()
        seconds[name] = round(time.perf_counter() - t0, 3)
        return value

    return step


def run_scan(settings: ScanSettings | None = None, build: bool = True, progress=None,
             select: str = "+tag:scan", target: str = "default") -> tuple[int, dict[str, float]]:
    """The whole screen: dbt marts on ``target`` (unless build=False; `select` = the dbt
    selection), statistics, stored run. Returns the run id and the seconds of each step."""
    settings = settings or ScanSettings()
    started = datetime.now(UTC)
    seconds: dict[str, float] = {}
    step = timed_steps(seconds, progress)
    if build:
        step("count (dbt)", lambda: build_marts(settings, select, target))
    marts = step("read marts", lambda: read_marts(target))
    if marts["scan_pair_counts"].empty:
        raise VeilleError(f"no drug x outcome pair has {settings.min_events} or more events: nothing to scan")
    conv, lags = step("ConvSCCS", lambda: conv_method.conv_scan(marts["scan_conv_cases"], marts["scan_conv_starts"],
                                                                settings, progress))
    signals = step("statistics", lambda: rank_signals(marts["scan_pair_counts"], marts["scan_tree_events"],
                                                      settings, conv))
    run_id = step("store", lambda: store_run(signals, settings, started, seconds, lags))
    return run_id, seconds


def latest_run_id() -> int:
    """The id of the most recent finished scan."""
    with db.engine(db.ANALYST).connect() as conn:
        run_id = conn.execute(sa.text(
            "select max(run_id) from results.scan_run where status = 'done'")).scalar()
    if run_id is None:
        raise VeilleError("no scan run yet: run `veille scan` first")
    return int(run_id)


def read_signals(run_id: int | None = None) -> pd.DataFrame:
    """The ranked signals of a run (the latest by default)."""
    run_id = run_id or latest_run_id()
    with db.engine(db.ANALYST).connect() as conn:
        frame = pd.read_sql(sa.text("select * from results.signal where run_id = :r order by rank"),
                            conn, params={"r": run_id})
    if frame.empty:
        raise VeilleError(f"scan run {run_id} does not exist or has no signal")
    return frame


def read_lags(run_id: int) -> pd.DataFrame:
    """The ConvSCCS lag curves of a run (empty for a run stored before the method existed)."""
    with db.engine(db.ANALYST).connect() as conn:
        return pd.read_sql(sa.text("select * from results.signal_lag where run_id = :r "
                                   "order by drug_level, drug_code, outcome_code, lag"), conn, params={"r": run_id})
