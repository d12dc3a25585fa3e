"""Every estimate of one comparison x outcome, from the mart rows to tidy tables.

Input: the `marts.fct_study_survival` rows of one cohort x outcome (a DataFrame), the
subjects' ATC-class covariates, optionally the counting-process rows. Output: an
:class:`OutcomeAnalysis` whose tables go to the `results` schema and the report. Whatever the
data cannot support becomes a ``not_estimable`` row with the reason, never an exception.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from lifelines import CoxTimeVaryingFitter, KaplanMeierFitter
from scipy.special import expit

from veille.study import propensity as ps_
from veille.study.config import CumulativeDose, CumulativeExposure
from veille.study.cox import Z95, CoxResult, NotEstimable, fit_cox
from veille.study.ph import ph_test
from veille.study.rates import incidence_rates


@dataclass
class Settings:
    """What to estimate for one outcome (from the study file)."""

    analyses: tuple[str, ...]
    patient_covariates: tuple[str, ...]
    min_events: int = 5
    min_events_per_covariate: int = 5
    caliper_sd: float = 0.2
    negative_control: bool = False


@dataclass
class OutcomeAnalysis:
    cohort_id: str
    outcome_id: str
    exposure: str
    comparator: str
    negative_control: bool
    incidence: pd.DataFrame
    estimates: list[dict] = field(default_factory=list)
    balance: pd.DataFrame | None = None
    diagnostics: list[dict] = field(default_factory=list)
    km: dict[int, pd.DataFrame] = field(default_factory=dict)

    def note(self, kind: str, message: str, value: float | None = None) -> None:
        self.diagnostics.append({"kind": kind, "value": value, "message": message})

    def estimate(self, analysis: str, term: str = "exposed") -> dict | None:
        return next((e for e in self.estimates if e["analysis"] == analysis and e["term"] == term), None)


def covariate_matrix(df: pd.DataFrame, patient: tuple[str, ...], classes: pd.DataFrame | None) -> pd.DataFrame:
    """Numeric covariates per row of ``df``: patient columns (sex -> female) and ATC classes."""
    out = pd.DataFrame(index=df.index)
    for name in patient:
        out["female" if name == "sex" else name] = (df["sex"] == 2).astype(float) if name == "sex" else df[name].astype(float)
    if classes is not None and len(classes):
        wide = (
            classes[classes["used"] == 1]
            .assign(v=1.0)
            .pivot_table(index="patient_id", columns="atc_class", values="v", aggfunc="max")
        )
        for cls in sorted(wide.columns):
            out[f"atc_{cls}"] = df["patient_id"].map(wide[cls]).fillna(0.0).to_numpy()
    return out


PENALIZER = 0.1  # ridge strength on lifelines' standardised scale when events per covariate are too few


def usable_covariates(x: pd.DataFrame, exposed: np.ndarray, result: OutcomeAnalysis) -> list[str]:
    """Covariates that vary in both groups; the others are reported and left out."""
    keep = []
    for col in x.columns:
        v = x[col].to_numpy()
        if np.all(v == v[0]):
            result.note("covariate_dropped", f"covariate {col} is constant ({v[0]:g} for everyone): left out of the models")
            continue
        const_in = [name for g, name in ((1, "exposed"), (0, "comparator")) if np.unique(v[exposed == g]).size == 1]
        if const_in:
            result.note(
                "covariate_dropped",
                f"covariate {col} is constant among the {const_in[0]}: left out of the propensity score and adjustment",
            )
            continue
        twin = next((k for k in keep if abs(np.corrcoef(x[k].to_numpy(), v)[0, 1]) > 0.999), None)
        if twin:
            result.note("covariate_dropped", f"covariate {col} duplicates {twin}: left out of the models")
            continue
        keep.append(col)
    return keep


def _varies_among_events(data: pd.DataFrame, col: str, result: OutcomeAnalysis) -> bool:
    """False (with a note) when every event has the same value of ``col``: its Cox
    coefficient would run to infinity and stop the model from converging."""
    v = data.loc[data["event"] == 1, col].to_numpy()
    if v.size and np.all(v == v[0]):
        result.note("covariate_dropped", f"covariate {col} is {v[0]:g} for every event: left out of the adjusted Cox model")
        return False
    return True


def _row(result: OutcomeAnalysis, analysis: str, sub: pd.DataFrame, fit: CoxResult | None, message: str | None, term: str = "exposed") -> dict:
    row = {
        "cohort_id": result.cohort_id,
        "outcome_id": result.outcome_id,
        "analysis": analysis,
        "term": term,
        "exposure": result.exposure,
        "comparator": result.comparator,
        "is_negative_control": result.negative_control,
        "n_exposed": int((sub["exposed"] == 1).sum()),
        "n_comparator": int((sub["exposed"] == 0).sum()),
        "events_exposed": int(sub.loc[sub["exposed"] == 1, "event"].sum()),
        "events_comparator": int(sub.loc[sub["exposed"] == 0, "event"].sum()),
        "hr": None, "ci_low": None, "ci_high": None, "se_log_hr": None, "p_value": None,
        "status": "not_estimable", "message": message,
    }
    if fit is not None:
        row.update(hr=fit.hr, ci_low=fit.ci_low, ci_high=fit.ci_high, se_log_hr=fit.se_log_hr,
                   p_value=fit.p_value, status="ok", message=None)
    result.estimates.append(row)
    return row


def support_problem(df: pd.DataFrame, min_events: int) -> str | None:
    """Why these rows cannot give a hazard ratio, or None."""
    n1, n0 = int((df["exposed"] == 1).sum()), int((df["exposed"] == 0).sum())
    if n1 == 0:
        return "no exposed subjects: no hazard ratio"
    if n0 == 0:
        return "no comparator subjects: no hazard ratio"
    e1 = int(df.loc[df["exposed"] == 1, "event"].sum())
    e0 = int(df.loc[df["exposed"] == 0, "event"].sum())
    if e1 + e0 < min_events:
        return f"too few events ({e1 + e0} < {min_events}): no hazard ratio"
    if e1 == 0 or e0 == 0:
        return f"no events among the {'exposed' if e1 == 0 else 'comparator'}: the hazard ratio is not estimable"
    return None


def analyse_outcome(
    df: pd.DataFrame,
    settings: Settings,
    *,
    cohort_id: str,
    outcome_id: str,
    exposure: str,
    comparator: str,
    classes: pd.DataFrame | None = None,
    counting: pd.DataFrame | None = None,
    dose_counting: pd.DataFrame | None = None,
    duration: CumulativeExposure | None = None,
    dose: CumulativeDose | None = None,
) -> OutcomeAnalysis:
    """Run the requested analyses on the survival rows ``df`` of one cohort x outcome
    (``duration``, ``dose``: the study's cumulative-exposure and cumulative-dose categories)."""
    df = df.reset_index(drop=True)
    res = OutcomeAnalysis(cohort_id, outcome_id, exposure, comparator, settings.negative_control, incidence_rates(df))
    want = set(settings.analyses)
    exposed = df["exposed"].to_numpy()
    if "kaplan_meier" in want and not settings.negative_control:
        res.km = kaplan_meier(df)
    problem = support_problem(df, settings.min_events)
    hr_analyses = [a for a in ("cox_crude", "cox_adjusted", "iptw", "matching") if a in want]
    if problem:
        res.note("not_estimable", problem)
        for a in hr_analyses:
            _row(res, a, df, None, problem)
        return res
    x = covariate_matrix(df, settings.patient_covariates, classes)
    covs = usable_covariates(x, exposed, res)
    data = pd.concat([df[["exposed", "time_days", "event", "patient_id"]], x[covs]], axis=1)

    adjusted: CoxResult | None = None
    cox_covs = [c for c in covs if _varies_among_events(data, c, res)]
    n_events = int(data["event"].sum())
    for a, kw in (("cox_crude", {}), ("cox_adjusted", {"covariates": cox_covs})):
        if a in want:
            needed = settings.min_events_per_covariate * len(kw.get("covariates", []))
            penalizer, note = 0.0, None
            if n_events < needed:  # not a refusal: shrink the covariates, and say so
                penalizer = PENALIZER
                note = (f"penalised Cox (ridge {PENALIZER:g} on the covariates, not on exposure): {n_events} events "
                        f"for {len(cox_covs)} covariates, fewer than {settings.min_events_per_covariate} per covariate")
                res.note("penalised", f"{a}: {note}")
            try:
                fit = fit_cox(data, kw.get("covariates", []), penalizer=penalizer)
                _row(res, a, data, fit, None)
                if note:
                    res.estimates[-1]["message"] = note
                adjusted = fit if a == "cox_adjusted" or adjusted is None else adjusted
            except NotEstimable as exc:
                _row(res, a, data, None, str(exc))
                res.note("not_estimable", f"{a}: {exc}")

    if {"iptw", "matching"} & want:
        _propensity_analyses(res, data, covs, want, settings)

    if "ph_test" in want and adjusted is not None and not settings.negative_control:
        try:
            table = ph_test(adjusted, data)
            p = float(table.loc[table["term"] == "exposed", "p"].iloc[0])
            verdict = "no evidence against proportional hazards" if p >= 0.05 else "hazards may not be proportional: read the HR as an average over follow-up"
            res.note("ph_test", f"Schoenfeld test for exposure: p = {p:.3f} ({verdict})", p)
        except Exception as exc:  # noqa: BLE001 - a diagnostic must not stop the study
            res.note("ph_test", f"proportional-hazards test not computed ({exc})")

    if settings.negative_control:
        return res
    if "cumulative_exposure" in want and counting is not None:
        _cumulative(res, counting, duration or CumulativeExposure(), df, x[covs])
    if dose is not None and dose_counting is not None and want & {"cumulative_dose", "cumulative_dose_continuous"}:
        _cumulative_dose(res, dose_counting, dose, want, df, x[covs])
    return res


def _propensity_analyses(res: OutcomeAnalysis, data: pd.DataFrame, covs: list[str], want: set[str], settings: Settings) -> None:
    exposed = data["exposed"].to_numpy()
    try:
        if not covs:
            raise NotEstimable("no usable covariate for a propensity score")
        logit = ps_.propensity_logit(data[covs].to_numpy(float), exposed.astype(float))
    except NotEstimable as exc:
        for a in ("iptw", "matching"):
            if a in want:
                _row(res, a, data, None, str(exc))
        res.note("not_estimable", f"propensity score: {exc}")
        return
    ps = expit(logit)
    balance = pd.DataFrame({
        "covariate": covs,
        "mean_exposed": data.loc[exposed == 1, covs].mean().to_numpy(),
        "mean_comparator": data.loc[exposed == 0, covs].mean().to_numpy(),
        "smd_before": ps_.smd(data[covs], exposed).to_numpy(),
        "smd_iptw": np.nan,
        "smd_matched": np.nan,
    })
    if "iptw" in want:
        w = ps_.iptw_weights(ps, exposed)
        weighted = data.assign(_w=w)
        try:
            _row(res, "iptw", data, fit_cox(weighted, [], weights="_w", robust=True), None)
        except NotEstimable as exc:
            _row(res, "iptw", data, None, str(exc))
        balance["smd_iptw"] = ps_.smd(data[covs], exposed, w).to_numpy()
        res.note("iptw_ess", f"IPTW (stabilized, truncated at 1st/99th percentiles): effective sample size {ps_.effective_sample_size(w):.0f} of {len(w)}, weights {w.min():.2f}-{w.max():.2f}", ps_.effective_sample_size(w))
    if "matching" in want:
        caliper = settings.caliper_sd * float(np.std(logit))
        pairs = ps_.match_nearest(logit, exposed, caliper)
        share = len(pairs) / max(int(exposed.sum()), 1)
        res.note("matching", f"1:1 matching within {settings.caliper_sd} SD of the logit: {share:.1%} of exposed matched", share)
        idx = pairs.ravel()
        matched = data.iloc[idx].assign(_pair=np.repeat(np.arange(len(pairs)), 2))
        problem = support_problem(matched, settings.min_events)
        if problem:
            _row(res, "matching", matched, None, f"after matching, {problem}")
        else:
            try:
                _row(res, "matching", matched, fit_cox(matched, [], cluster="_pair"), None)
            except NotEstimable as exc:
                _row(res, "matching", matched, None, str(exc))
        if len(pairs):
            balance["smd_matched"] = ps_.smd(matched[covs], matched["exposed"].to_numpy()).to_numpy()
    res.balance = balance
    flagged = balance.loc[balance["smd_iptw"].abs() > 0.1, "covariate"].tolist() if "iptw" in want else []
    if flagged:
        res.note("balance", f"SMD > 0.1 after weighting: {', '.join(flagged)}")


def _category_row(res: OutcomeAnalysis, analysis: str, term: str, exposure: str,
                  counts: dict | None = None) -> dict:
    """A not-yet-estimated row of ``res``'s estimates; ``counts`` its subjects and events
    (n_exposed, n_comparator, events_exposed, events_comparator). A row over several categories
    (a trend, a continuous dose) has none: they are the categories' sum and would unmask a masked
    category by subtraction."""
    row = {
        "cohort_id": res.cohort_id, "outcome_id": res.outcome_id, "analysis": analysis,
        "term": term, "exposure": exposure, "comparator": res.comparator, "is_negative_control": False,
        "n_exposed": None, "n_comparator": None, "events_exposed": None, "events_comparator": None,
        **(counts or {}),
        "hr": None, "ci_low": None, "ci_high": None, "se_log_hr": None, "p_value": None,
        "status": "not_estimable", "message": None,
    }
    res.estimates.append(row)
    return row


def _cumulative_row(res: OutcomeAnalysis, cat: str, in_cat: pd.DataFrame, ref: pd.DataFrame,
                    analysis: str = "cumulative_exposure", what: str = "cumulative") -> dict:
    return _category_row(res, analysis, cat, f"{res.exposure} ({cat} {what})", {
        "n_exposed": int(in_cat["patient_id"].nunique()), "n_comparator": int(ref["patient_id"].nunique()),
        "events_exposed": int(in_cat["event"].sum()), "events_comparator": int(ref["event"].sum())})


def _fit_time_varying(cp: pd.DataFrame, terms: list[str], covariates: list[str]) -> tuple[CoxTimeVaryingFitter | None, str | None]:
    """lifelines' time-varying Cox model on counting-process rows, or why it did not converge."""
    ctv = CoxTimeVaryingFitter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ctv.fit(cp[["patient_id", "start_day", "stop_day", "event", *terms, *covariates]], id_col="patient_id",
                    start_col="start_day", stop_col="stop_day", event_col="event")
        except Exception as exc:  # noqa: BLE001 - lifelines raises several types on degenerate data
            return None, f"the time-varying Cox model did not converge ({str(exc).split('. ')[0][:100]})"
    if any("norm(delta) is still high" in str(w.message) for w in caught):
        return None, "the time-varying Cox model did not converge"
    return ctv, None


def _set_hr(row: dict, ctv: CoxTimeVaryingFitter, term: str) -> None:
    beta, se = float(ctv.params_[term]), float(ctv.standard_errors_[term])
    if not (np.isfinite(beta) and np.isfinite(se) and abs(beta) < 15):
        row["message"] = "the time-varying Cox model did not converge (infinite hazard ratio)"
        return
    row.update(hr=float(np.exp(beta)), ci_low=float(np.exp(beta - Z95 * se)), ci_high=float(np.exp(beta + Z95 * se)),
               se_log_hr=se, p_value=float(ctv.summary.loc[term, "p"]), status="ok")


def _collapse(cp: pd.DataFrame, column: str) -> pd.DataFrame:
    """Consecutive intervals of a subject in the same category of ``column`` as one (the
    dose mart splits at every dispensing): the same likelihood for a model of categories, with
    fewer rows."""
    cp = cp.sort_values(["patient_id", "start_day"], kind="stable")
    key = cp[column].astype(object).where(cp[column].notna(), "")
    run = ((cp["patient_id"] != cp["patient_id"].shift()) | (key != key.shift())).cumsum()
    first = cp.groupby(run, sort=False).first()
    ends = cp.groupby(run, sort=False).agg(stop_day=("stop_day", "max"), event=("event", "max"))
    return first.assign(stop_day=ends["stop_day"], event=ends["event"]).reset_index(drop=True)


def _with_covariates(cp: pd.DataFrame, df: pd.DataFrame, x: pd.DataFrame) -> pd.DataFrame:
    return cp.merge(x.assign(patient_id=df["patient_id"].to_numpy()), on="patient_id", how="left")


def _categories(res: OutcomeAnalysis, cp: pd.DataFrame, column: str, labels: list[str], df: pd.DataFrame,
                x: pd.DataFrame, analysis: str, what: str) -> tuple[dict, list[str]]:
    """Exposed person-time by category of ``column`` against the comparator, in one time-varying
    Cox model with the covariates: one estimate row per category (``labels``, in order).
    A category without events cannot be estimated: its person-time is left out of the model
    and its row says so. ``cp``: counting-process rows with person-time. Returns the estimate
    rows and the fitted terms."""
    cp = cp.copy()
    ref = cp[cp["exposed"] == 0]
    rows, terms = {}, []
    cats = {label: f"{analysis}_{k}" for k, label in enumerate(labels)}
    for cat, term in cats.items():
        cp[term] = ((cp["exposed"] == 1) & (cp[column] == cat)).astype(float)
        in_cat = cp[cp[term] == 1]
        rows[cat] = _cumulative_row(res, cat, in_cat, ref, analysis, what)
        if in_cat.empty:
            rows[cat]["message"] = f"no exposed person-time with {cat} {what}"
        elif in_cat["event"].sum() == 0:
            rows[cat]["message"] = f"no events with {cat} {what}: not estimable"
        else:
            terms.append(term)
    if not terms or ref["event"].sum() == 0:
        for row in rows.values():
            row["message"] = row["message"] or "no events among the comparator: not estimable"
        return rows, []
    keep = (cp["exposed"] == 0) | (cp[terms].sum(axis=1) > 0)
    ctv, problem = _fit_time_varying(_with_covariates(cp[keep], df, x), terms, list(x.columns))
    for cat, term in cats.items():
        if term not in terms:
            continue
        if problem:
            rows[cat]["message"] = problem
        else:
            _set_hr(rows[cat], ctv, term)
    return rows, terms


def _trend(res: OutcomeAnalysis, cp: pd.DataFrame, rows: dict, terms: list[str], rank: str, analysis: str,
           what: str, df: pd.DataFrame, x: pd.DataFrame) -> None:
    """The trend test across the categories of ``rank`` (0, 1, ...): the time-varying Cox model
    with the exposure and the category's rank while exposed, on all the person-time, also that
    of a category without events (the per-category model leaves it out); its hazard ratio is
    the change per category step."""
    trend = _category_row(res, analysis, "trend", f"{res.exposure} (per {what} category)")
    no_comparator_events = cp.loc[cp["exposed"] == 0, "event"].sum() == 0
    with_time = [c for c, r in rows.items() if not (r["message"] or "").startswith("no exposed person-time")]
    if no_comparator_events or not terms or len(with_time) < 2:
        trend["message"] = ("no events among the comparator: not estimable" if no_comparator_events
                            else "no events among the exposed: not estimable" if not terms
                            else "a trend needs exposed person-time in at least two categories")
        return
    cp = _with_covariates(cp, df, x)
    cp = cp.assign(trend_exposed=cp["exposed"].astype(float),
                   trend_rank=np.where(cp["exposed"] == 1, cp[rank].fillna(0), 0.0).astype(float))
    ctv, problem = _fit_time_varying(cp, ["trend_exposed", "trend_rank"], list(x.columns))
    if problem:
        trend["message"] = problem
        return
    _set_hr(trend, ctv, "trend_rank")


def _person_time(counting: pd.DataFrame) -> pd.DataFrame:
    return counting[counting["stop_day"] > counting["start_day"]]


def _cumulative(res: OutcomeAnalysis, counting: pd.DataFrame, duration: CumulativeExposure, df: pd.DataFrame,
                x: pd.DataFrame) -> None:
    """Time-varying Cox: exposed person-time by cumulative-exposure category vs the comparator,
    and the trend across the categories."""
    cp = _person_time(counting)
    rows, terms = _categories(res, cp, "cum_exposure_category", duration.labels(), df, x, "cumulative_exposure",
                              "cumulative exposure")
    _trend(res, cp, rows, terms, "cum_exposure_category_number", "cumulative_exposure", "cumulative-exposure",
           df, x)


def _cumulative_dose(res: OutcomeAnalysis, counting: pd.DataFrame, dose: CumulativeDose, want: set[str],
                     df: pd.DataFrame, x: pd.DataFrame) -> None:
    """Time-varying Cox by cumulative-dose category vs the comparator (issue 26) with its trend
    (``cumulative_dose``), and with the cumulative dose itself while exposed
    (``cumulative_dose_continuous``: the hazard ratio per ``dose.step()`` units). Subjects with a
    dispensing of unknown dose are left out (a note counts them); mg or IU of several
    substances are not added up."""
    from veille.privacy import mask_count

    analyses = [a for a in ("cumulative_dose", "cumulative_dose_continuous") if a in want]
    substances = int(counting["dose_substances"].max()) if len(counting) else 0
    if dose.unit != "ddd" and substances > 1:
        for a in analyses:
            row = _category_row(res, a, "all", f"{res.exposure} (cumulative dose)")
            row["message"] = (f"the exposure's doses are of {substances} substances (ATC7 codes): their "
                              f"{dose.unit} cannot be added up, use unit: ddd")
        return
    incomplete = counting.loc[~counting["dose_complete"].astype(bool), "patient_id"].nunique()
    if incomplete:  # a count that leaves the warehouse in the report: masked under 10
        res.note("cumulative_dose", f"exposed subjects left out, a dispensing of unknown dose (see "
                 f"int_drug_pack_doses.dose_status): {mask_count(incomplete)}")
    cp = _person_time(counting[counting["dose_complete"].astype(bool)])
    if "cumulative_dose" in want:
        collapsed = _collapse(cp, "dose_category")
        rows, terms = _categories(res, collapsed, "dose_category", dose.labels(), df, x, "cumulative_dose",
                                  "cumulative dose")
        _trend(res, collapsed, rows, terms, "dose_category_number", "cumulative_dose", "cumulative-dose", df, x)
    if "cumulative_dose_continuous" in want:
        _continuous_dose(res, cp, dose, df, x)


def _continuous_dose(res: OutcomeAnalysis, cp: pd.DataFrame, dose: CumulativeDose, df: pd.DataFrame,
                     x: pd.DataFrame) -> None:
    """The exposure and its cumulative dose (in units of ``dose.step()``) as time-varying terms:
    the hazard ratio per step of cumulative dose among the exposed."""
    step = dose.step()
    term = f"per {step:,g} {dose.unit}"
    row = _category_row(res, "cumulative_dose_continuous", term, f"{res.exposure} ({term} cumulative dose)")
    exposed = cp["exposed"] == 1
    if cp.loc[~exposed, "event"].sum() == 0 or cp.loc[exposed, "event"].sum() == 0:
        row["message"] = ("no events among the comparator: not estimable" if cp.loc[~exposed, "event"].sum() == 0
                          else "no events among the exposed: not estimable")
        return
    cp = _with_covariates(cp, df, x)
    cp = cp.assign(dose_exposed=(cp["exposed"] == 1).astype(float),
                   dose_steps=np.where(cp["exposed"] == 1, cp["cum_dose"].astype(float).fillna(0) / step, 0.0))
    ctv, problem = _fit_time_varying(cp, ["dose_exposed", "dose_steps"], list(x.columns))
    if problem:
        row["message"] = problem
        return
    _set_hr(row, ctv, "dose_steps")


def kaplan_meier(df: pd.DataFrame, points: int = 200) -> dict[int, pd.DataFrame]:
    """Survival curves per group, thinned to about ``points`` steps for plotting."""
    out = {}
    for g in (1, 0):
        sub = df[df["exposed"] == g]
        if sub.empty:
            continue
        km = KaplanMeierFitter().fit(sub["time_days"], sub["event"])
        sf = km.survival_function_.iloc[:, 0]
        ci = km.confidence_interval_survival_function_
        curve = pd.DataFrame({"day": sf.index.to_numpy(float), "survival": sf.to_numpy(), "ci_low": ci.iloc[:, 0].to_numpy(), "ci_high": ci.iloc[:, 1].to_numpy()})
        if len(curve) > points:
            keep = np.unique(np.linspace(0, len(curve) - 1, points).astype(int))
            curve = curve.iloc[keep]
        out[g] = curve.reset_index(drop=True)
    return out
