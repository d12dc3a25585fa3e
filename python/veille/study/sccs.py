"""Self-controlled case series (``design: sccs``): each case compared with itself.

The data are ``marts.fct_sccs_intervals`` (each case's observation cut at its exposure windows,
age groups and calendar years), summed in SQL per case x window x age group x year. The model is
the conditional Poisson regression of the SCCS (Farrington 1995; Whitaker et al. 2006): events ~
exp(window + age group + year) x days, conditioned on each case's number of events, fitted by
statsmodels' ``ConditionalPoisson`` (the likelihood of each case given its events; time-fixed
confounders cancel). The relative incidence of risk window k is exp(beta_k) against the case's
baseline time (window 0); the pre-exposure window (-1), when the study sets one, is a term of
its own, so that exposure started because of an early sign of the event does not bias the
baseline. An estimate rests on at least ``min_events`` events in its window, else it is not
estimable and says why.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import sqlalchemy as sa

from veille.privacy import mask_count
from veille.study.analysis import OutcomeAnalysis
from veille.study.cox import Z95
from veille.study.rates import poisson_ci

COMPARATOR = "unexposed time of the same cases"
PRE_EXPOSURE = "pre-exposure"


def read_intervals(conn: sa.Connection, sccs_id: str) -> pd.DataFrame:
    """The series' intervals summed per outcome x case x window x age group x year (set-based)."""
    return pd.read_sql(
        sa.text(
            "select outcome_id, patient_id, window_id, age_group, calendar_year, "
            "sum(days)::bigint as days, sum(events)::bigint as events "
            "from marts.fct_sccs_intervals where sccs_id = :s "
            "group by outcome_id, patient_id, window_id, age_group, calendar_year "
            "order by outcome_id, patient_id, window_id, age_group, calendar_year"
        ),
        conn,
        params={"s": sccs_id},
    )


def design_matrix(df: pd.DataFrame, windows: dict[int, str]) -> pd.DataFrame:
    """Indicator columns: one per risk window and the pre-exposure window (baseline 0 is the
    reference), one per age group and calendar year but the first of each."""
    cols = {name: (df["window_id"] == wid).astype(float) for wid, name in windows.items()}
    for col, prefix in (("age_group", "age group"), ("calendar_year", "year")):
        levels = sorted(df[col].unique())
        for level in levels[1:]:
            cols[f"{prefix} {level}"] = (df[col] == level).astype(float)
    x = pd.DataFrame(cols, index=df.index)
    return x.loc[:, x.std() > 0]  # a level no case has: nothing to estimate


def fit_sccs(df: pd.DataFrame, windows: dict[int, str]):
    """Conditional Poisson fit of one outcome's case series; returns the statsmodels result."""
    from statsmodels.discrete.conditional_models import ConditionalPoisson

    x = design_matrix(df, windows)
    with warnings.catch_warnings():  # cases without a change of exposure: dropped, as they must be
        warnings.simplefilter("ignore")
        model = ConditionalPoisson(df["events"].to_numpy(float), x, groups=df["patient_id"].to_numpy(),
                                   offset=np.log(df["days"].to_numpy(float)))
        return model.fit(disp=False)


def analyse_case_series(df: pd.DataFrame, *, sccs_id: str, outcome_id: str, exposure: str,
                        windows: dict[int, str], negative_control: bool, min_events: int) -> OutcomeAnalysis:
    """Estimates (one per risk window and the pre-exposure window), crude rates inside the
    cases, and diagnostics for one outcome."""
    cases = df["patient_id"].nunique()
    exposed_cases = df.loc[df["window_id"] > 0, "patient_id"].nunique()
    incidence = []
    for flag, sel in ((1, df["window_id"] > 0), (0, df["window_id"] == 0)):
        part = df[sel]
        events, py = int(part["events"].sum()), float(part["days"].sum()) / 365.25
        lo, hi = poisson_ci(events)
        incidence.append({"exposed": flag, "subjects": int(part["patient_id"].nunique()), "events": events,
                          "person_years": py, "rate_per_1000": 1000 * events / py if py else np.nan,
                          "ci_low": 1000 * lo / py if py else np.nan, "ci_high": 1000 * hi / py if py else np.nan})
    res = OutcomeAnalysis(sccs_id, outcome_id, exposure, COMPARATOR, negative_control, pd.DataFrame(incidence))
    baseline_events = int(df.loc[df["window_id"] == 0, "events"].sum())
    terms = {wid: name for wid, name in windows.items() if (df["window_id"] == wid).any()}
    fit, message = None, None
    if not terms:
        message = "no case was exposed"
    elif cases < 2:
        message = f"too few cases ({cases} < 2)"
    else:
        try:
            fit = fit_sccs(df, terms)
        except (np.linalg.LinAlgError, ValueError) as exc:
            message = f"fit failed: {str(exc).splitlines()[0]}"
    for wid, name in windows.items():
        events = int(df.loc[df["window_id"] == wid, "events"].sum())
        row = {"cohort_id": sccs_id, "outcome_id": outcome_id, "analysis": "sccs", "term": name,
               "exposure": exposure, "comparator": COMPARATOR, "is_negative_control": negative_control,
               "n_exposed": exposed_cases, "n_comparator": cases, "events_exposed": events,
               "events_comparator": baseline_events, "hr": None, "ci_low": None, "ci_high": None,
               "se_log_hr": None, "p_value": None, "status": "not_estimable", "message": message}
        if fit is not None and name in fit.params.index:
            if events < min_events:
                row["message"] = f"too few events in the window ({events} < {min_events})"
            else:
                beta, se = float(fit.params[name]), float(fit.bse[name])
                if np.isfinite(beta) and np.isfinite(se):
                    row.update(hr=float(np.exp(beta)), ci_low=float(np.exp(beta - Z95 * se)),
                               ci_high=float(np.exp(beta + Z95 * se)), se_log_hr=se,
                               p_value=float(fit.pvalues[name]), status="ok", message=None)
                else:
                    row["message"] = "the fit did not converge for this window"
        elif fit is not None:
            row["message"] = "no case has time in this window"
        res.estimates.append(row)
    if fit is not None:
        res.note("sccs", f"{mask_count(cases)} cases, {mask_count(exposed_cases)} exposed at some time; "
                         f"conditional Poisson with {len(fit.params)} terms (windows, age groups, years)")
    return res


def windows_of(study) -> dict[int, str]:
    """window_id -> term name: the risk windows, then the pre-exposure window if any."""
    out = {i: w.name for i, w in enumerate(study.sccs.risk_windows, start=1)}
    if study.sccs.pre_exposure:
        out[-1] = f"{PRE_EXPOSURE} ({study.sccs.pre_exposure} days)"
    return out


def run_case_series(conn: sa.Connection, study, run_id: int, save) -> list[OutcomeAnalysis]:
    """Fit every outcome (and negative control) of a case-series study; ``save(res)`` stores each."""
    data = read_intervals(conn, study.id)
    windows = windows_of(study)
    out = []
    for outcome, negative in [(o, False) for o in study.outcomes] + [(o, True) for o in study.negative_controls]:
        df = data[data["outcome_id"] == outcome.id]
        res = analyse_case_series(df, sccs_id=study.id, outcome_id=outcome.id, exposure=study.sccs.exposure.label,
                                  windows=windows, negative_control=negative, min_events=study.min_events)
        save(res)
        out.append(res)
    return out
