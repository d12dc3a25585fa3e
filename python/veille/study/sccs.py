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

A series with an ``interaction`` (an object drug A; the exposure is the precipitant B) adds the
ratio of ratios of Leonard et al. (Clin Pharmacol Ther 2018) on the first risk window: B's
relative incidence in the series of the cases whose event fell in A's exposed time, observed
over A's time only, over B's relative incidence in the series of the cases never exposed to A
(``analyse_interaction``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import sqlalchemy as sa
from scipy import stats

from veille.privacy import mask_count
from veille.study.analysis import OutcomeAnalysis
from veille.study.cox import Z95
from veille.study.rates import poisson_ci

COMPARATOR = "unexposed time of the same cases"
PRE_EXPOSURE = "pre-exposure"
INTERACTION = "sccs_interaction"  # results.estimate.analysis of the ratio of ratios and its two series
RATIO_OF_RATIOS = "ratio of ratios"


def read_intervals(conn: sa.Connection, sccs_id: str) -> pd.DataFrame:
    """The series' intervals summed per outcome x case x window x age group x year x exposure
    to the object drug (0 but in an interaction series; set-based)."""
    return pd.read_sql(
        sa.text(
            "select outcome_id, patient_id, window_id, age_group, calendar_year, object_exposed, "
            "sum(days)::bigint as days, sum(events)::bigint as events "
            "from marts.fct_sccs_intervals where sccs_id = :s "
            "group by outcome_id, patient_id, window_id, age_group, calendar_year, object_exposed "
            "order by outcome_id, patient_id, window_id, age_group, calendar_year, object_exposed"
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


def interaction_series(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The two case series of the ratio of ratios, from one outcome's intervals (read_intervals):
    within = the object-exposed intervals of the cases whose event fell in the object's time;
    without = every interval of the cases never exposed to the object. Their cases are disjoint;
    a case exposed to the object whose event fell outside its time is in neither."""
    on_object = df["object_exposed"] == 1
    event_on_object = df.loc[on_object & (df["events"] > 0), "patient_id"].unique()
    ever_on_object = df.loc[on_object, "patient_id"].unique()
    return (df[on_object & df["patient_id"].isin(event_on_object)],
            df[~df["patient_id"].isin(ever_on_object)])


def _series_fit(df: pd.DataFrame, windows: dict[int, str], min_events: int) -> dict:
    """The first risk window's log relative incidence in one series (fit_sccs with every window,
    age group and year the series has), its counts as the ``sccs`` rows give them, or why not."""
    name = windows[1]
    cases = df["patient_id"].nunique()
    events = int(df.loc[df["window_id"] == 1, "events"].sum())
    out = {"n_exposed": int(df.loc[df["window_id"] > 0, "patient_id"].nunique()), "n_comparator": cases,
           "events_exposed": events, "events_comparator": int(df.loc[df["window_id"] == 0, "events"].sum()),
           "beta": None, "se": None, "message": None}
    terms = {wid: n for wid, n in windows.items() if (df["window_id"] == wid).any()}
    if cases < 2:
        out["message"] = f"too few cases ({cases} < 2)"
    elif 1 not in terms:
        out["message"] = f"no case has time in the window {name!r}"
    elif events < min_events:
        out["message"] = f"too few events in the window ({events} < {min_events})"
    else:
        try:
            fit = fit_sccs(df, terms)
        except (np.linalg.LinAlgError, ValueError) as exc:
            out["message"] = f"fit failed: {str(exc).splitlines()[0]}"
            return out
        beta, se = (float(fit.params[name]), float(fit.bse[name])) if name in fit.params.index else (np.nan, np.nan)
        if np.isfinite(beta) and np.isfinite(se):
            out.update(beta=beta, se=se)
        else:
            out["message"] = "the fit did not converge for this window"
    return out


def analyse_interaction(res: OutcomeAnalysis, df: pd.DataFrame, *, precipitant: str, obj: str,
                        windows: dict[int, str], min_events: int) -> None:
    """The ratio of ratios of one outcome on the first risk window (analysis ``sccs_interaction``):
    the precipitant's relative incidence within the object (term 'P within O'), without it ('P
    without O') and their ratio ('ratio of ratios'), se = sqrt(se1^2 + se2^2) (disjoint cases).
    Counts as the ``sccs`` rows give them (the ratio's: both series together)."""
    within, without = interaction_series(df)
    terms = (f"{precipitant} within {obj}", f"{precipitant} without {obj}")
    comparators = (f"unexposed time of the same cases, within {obj}", f"unexposed time of the cases never on {obj}")
    base = {"cohort_id": res.cohort_id, "outcome_id": res.outcome_id, "analysis": INTERACTION,
            "exposure": precipitant, "is_negative_control": res.negative_control, "hr": None, "ci_low": None,
            "ci_high": None, "se_log_hr": None, "p_value": None, "status": "not_estimable"}
    fits = [_series_fit(part, windows, min_events) for part in (within, without)]
    counts = ("n_exposed", "n_comparator", "events_exposed", "events_comparator")

    def estimate(beta: float | None, se: float | None) -> dict:
        if beta is None:
            return {}
        return {"hr": float(np.exp(beta)), "ci_low": float(np.exp(beta - Z95 * se)),
                "ci_high": float(np.exp(beta + Z95 * se)), "se_log_hr": se,
                "p_value": float(2 * stats.norm.sf(abs(beta) / se)), "status": "ok", "message": None}

    for term, comparator, fit in zip(terms, comparators, fits, strict=True):
        res.estimates.append({**base, "term": term, "comparator": comparator, **{k: fit[k] for k in counts},
                              "message": fit["message"], **estimate(fit["beta"], fit["se"])})
    # no counts on the ratio's row: their sums would give back a series' count masked below 10
    ratio = {**base, "term": RATIO_OF_RATIOS, "comparator": terms[1], **dict.fromkeys(counts)}
    problems = [f"the series {where} {obj}: {f['message']}" for where, f in zip(("within", "without"), fits, strict=True)
                if f["message"]]
    if problems:
        res.estimates.append({**ratio, "message": "; ".join(problems)})
    else:
        res.estimates.append({**ratio, "message": None, **estimate(
            fits[0]["beta"] - fits[1]["beta"], float(np.hypot(fits[0]["se"], fits[1]["se"])))})
    res.note(INTERACTION, f"ratio of ratios on the window {windows[1]!r}: {mask_count(fits[0]['n_comparator'])} "
                          f"cases with their event in {obj} time (observed over it), "
                          f"{mask_count(fits[1]['n_comparator'])} never on {obj}; the cases on {obj} with their "
                          "event outside its time are left out")


def windows_of(study) -> dict[int, str]:
    """window_id -> term name: the risk windows, then the pre-exposure window if any."""
    out = {i: w.name for i, w in enumerate(study.sccs.risk_windows, start=1)}
    if study.sccs.pre_exposure:
        out[-1] = f"{PRE_EXPOSURE} ({study.sccs.pre_exposure} days)"
    return out


def read_convolution(conn: sa.Connection, sccs_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The multi-drug series' cases and episodes (marts.fct_sccs_conv_cases, _starts)."""
    cases = pd.read_sql(sa.text("select outcome_id, patient_id, n_days, event_day, age_start "
                                "from marts.fct_sccs_conv_cases where sccs_id = :s"), conn, params={"s": sccs_id})
    starts = pd.read_sql(sa.text("select outcome_id, patient_id, drug_id, start_day, end_day "
                                 "from marts.fct_sccs_conv_starts where sccs_id = :s"), conn, params={"s": sccs_id})
    return cases, starts


def lag_term(label: str, lag: int, conv) -> str:
    """The name of one lag of a drug's curve (the last lasts to the episode's end)."""
    first = lag * conv.bucket_days
    if lag == conv.lags - 1:
        return f"{label}: day {first} to the episode's end"
    return f"{label}: days {first}-{first + conv.bucket_days - 1}"


def analyse_convolution(res: OutcomeAnalysis, cases: pd.DataFrame, starts: pd.DataFrame, study) -> None:
    """The multi-drug ConvSCCS of one outcome: per drug, the average relative incidence over its
    exposed time (analysis ``convsccs``, term = the drug) and its lag curve (``convsccs_lag``)."""
    from veille.study.convsccs import build_design, fit_conv_sccs

    conv = study.sccs.convolution
    labels = [study.sccs.exposure.label] + [d.label for d in conv.drugs]
    exposures = starts.assign(drug_code=starts["drug_id"].map(dict(enumerate(labels))))
    design = build_design(cases, exposures, lags=conv.lags, bucket_days=conv.bucket_days, min_events=1,
                          on_treatment=conv.on_treatment)
    base = {"cohort_id": res.cohort_id, "outcome_id": res.outcome_id, "comparator": COMPARATOR,
            "is_negative_control": res.negative_control, "n_comparator": len(cases), "status": "not_estimable",
            "hr": None, "ci_low": None, "ci_high": None, "se_log_hr": None, "p_value": None}
    if design is None or len(cases) < 2:
        for label in labels:
            res.estimates.append({**base, "analysis": "convsccs", "term": label, "exposure": label, "n_exposed": 0,
                                  "events_exposed": 0, "events_comparator": 0,
                                  "message": "no event within the lag window of any drug"})
        return
    fit = fit_conv_sccs(design, strength_tv=conv.strength_tv, replicates=conv.replicates, seed=conv.seed)
    summary = fit.summary().set_index("drug_code")
    lags = fit.lag_table().set_index(["drug_code", "lag"])
    index = {code: i for i, code in enumerate(design.drugs)}
    for label in labels:
        if label not in index:
            res.estimates.append({**base, "analysis": "convsccs", "term": label, "exposure": label, "n_exposed": 0,
                                  "events_exposed": 0, "events_comparator": 0,
                                  "message": "no event within the drug's lag window"})
            continue
        j, s = index[label], summary.loc[label]
        common = {**base, "exposure": label, "n_exposed": int(design.exposed_cases[j]), "status": "ok", "message": None}
        events = int(s["conv_events"])
        res.estimates.append({**common, "analysis": "convsccs", "term": label, "events_exposed": events,
                              "events_comparator": len(cases) - events, "hr": float(s["conv_ri"]),
                              "ci_low": float(s["conv_ci_low"]), "ci_high": float(s["conv_ci_high"]),
                              "se_log_hr": float(s["conv_se"]),
                              "p_value": float(2 * stats.norm.sf(abs(np.log(s["conv_ri"]) / s["conv_se"])))})
        for lag in range(conv.lags):
            row = lags.loc[(label, lag)]
            res.estimates.append({**common, "analysis": "convsccs_lag", "term": lag_term(label, lag, conv),
                                  "events_exposed": int(row["events"]), "events_comparator": len(cases) - int(row["events"]),
                                  "hr": float(row["ri"]), "ci_low": float(row["ci_low"]), "ci_high": float(row["ci_high"]),
                                  "se_log_hr": float(row["se"]) if np.isfinite(row["se"]) else None})
    how = ("lags stop when the episode ends, " if conv.on_treatment else "lags run out after a stop, ") + (
        f"{conv.replicates} bootstrap replicates" if conv.replicates
        else "analytic intervals given the fitted segments (a little narrow)")
    res.note("convsccs", f"ConvSCCS: {len(design.drugs)} drugs in one model, {conv.lags} lags of {conv.bucket_days} "
                         f"days, total variation {conv.strength_tv:g}, {how}"
                         + ("" if fit.converged else "; the optimiser did not converge"))


def run_case_series(conn: sa.Connection, study, run_id: int, save) -> list[OutcomeAnalysis]:
    """Fit every outcome (and negative control) of a case-series study, its multi-drug ConvSCCS
    and its ratio of ratios when the study has them; ``save(res)`` stores each."""
    data = read_intervals(conn, study.id)
    windows = windows_of(study)
    conv_cases, conv_starts = read_convolution(conn, study.id) if study.sccs.convolution else (None, None)
    out = []
    for outcome, negative in [(o, False) for o in study.outcomes] + [(o, True) for o in study.negative_controls]:
        df = data[data["outcome_id"] == outcome.id]
        res = analyse_case_series(df, sccs_id=study.id, outcome_id=outcome.id, exposure=study.sccs.exposure.label,
                                  windows=windows, negative_control=negative, min_events=study.min_events)
        if conv_cases is not None:
            analyse_convolution(res, conv_cases[conv_cases["outcome_id"] == outcome.id],
                                conv_starts[conv_starts["outcome_id"] == outcome.id], study)
        if study.sccs.interaction:
            analyse_interaction(res, df, precipitant=study.sccs.exposure.label,
                                obj=study.sccs.interaction.object.label, windows=windows,
                                min_events=study.min_events)
        save(res)
        out.append(res)
    return out


def fit_binary_series(group: np.ndarray, d1: np.ndarray, d0: np.ndarray, y: np.ndarray, *,
                      n_groups: int | None = None, prior_variance: float | None = None,
                      iterations: int = 50) -> pd.DataFrame:
    """Many case series at once, each with one binary exposure and no other term: the model of
    ``fit_sccs`` with a single risk window and no age or year, for every group in one pass.

    Each case has one event; ``d1``/``d0`` are its exposed and unexposed days, ``y`` 1 when the
    event fell in exposed time. Conditioned on the event, the case's likelihood is binomial,
    p = d1 e^b / (d1 e^b + d0), so Newton's steps need only per-group sums (np.bincount).
    ``prior_variance`` adds a normal prior N(0, v) on b (a penalised fit, finite when every
    event is exposed or none is); without it the estimate is the conditional Poisson MLE.
    Returns per group (0 .. ``n_groups`` - 1, by default up to the largest): log relative incidence, its standard error, the informative
    cases and the exposed events; cases with d1 = 0 or d0 = 0 carry no information.
    """
    group = np.asarray(group, dtype=np.int64)
    d1, d0, y = (np.asarray(a, dtype=float) for a in (d1, d0, y))
    if n_groups is None:
        n_groups = int(group.max()) + 1 if len(group) else 0
    keep = (d1 > 0) & (d0 > 0)
    g, log_ratio, y = group[keep], np.log(d1[keep] / d0[keep]), y[keep]
    beta = np.zeros(n_groups)
    penalty = 0.0 if prior_variance is None else 1.0 / prior_variance
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(beta[g] + log_ratio)))
        score = np.bincount(g, weights=y - p, minlength=n_groups) - penalty * beta
        info = np.bincount(g, weights=p * (1 - p), minlength=n_groups) + penalty
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(info > 0, score / info, 0.0)
        beta = beta + np.clip(step, -5, 5)
        if np.all(np.abs(step) < 1e-10):
            break
    p = 1.0 / (1.0 + np.exp(-(beta[g] + log_ratio)))
    info = np.bincount(g, weights=p * (1 - p), minlength=n_groups) + penalty
    cases = np.bincount(g, minlength=n_groups)
    events = np.bincount(g, weights=y, minlength=n_groups).astype(np.int64)
    with np.errstate(divide="ignore"):
        se = np.where(info > 0, 1.0 / np.sqrt(info), np.nan)
    return pd.DataFrame({"log_ratio": np.where(cases > 0, beta, np.nan), "se": np.where(cases > 0, se, np.nan),
                         "cases": cases, "exposed_events": events})
