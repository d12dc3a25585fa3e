"""Estimators on simulated survival data with a known hazard ratio (numpy, fixed seeds)."""

import itertools

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from lifelines.statistics import proportional_hazard_test
from veille.privacy import mask_count, mask_frame, mask_value
from veille.study import propensity as ps
from veille.study.analysis import Settings, analyse_outcome
from veille.study.config import ANALYSES, PATIENT_COVARIATES, CumulativeDose, CumulativeExposure
from veille.study.cox import fit_cox
from veille.study.ph import ph_test
from veille.study.rates import incidence_rates, poisson_ci
from veille.study.simulate import simulate_classes, simulate_survival

ALL = tuple(a for a in ANALYSES if a != "cumulative_exposure")


def _continuous(n: int, seed: int) -> pd.DataFrame:
    """Small data without tied times (where Breslow and Efron agree exactly)."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    ex = rng.binomial(1, 0.4, n)
    t = rng.exponential(1 / np.exp(0.5 * ex + 0.3 * x1))
    c = rng.exponential(2, n)
    return pd.DataFrame({"exposed": ex, "x1": x1, "time_days": np.minimum(t, c),
                         "event": (t <= c).astype(int), "w": rng.uniform(0.5, 2, n),
                         "pair": rng.integers(0, n // 3, n)})


def test_vectorized_sandwich_equals_lifelines_robust():
    df = _continuous(300, 1)
    ref = CoxPHFitter().fit(df.drop(columns="pair"), "time_days", "event", weights_col="w", robust=True)
    mine = fit_cox(df, ["x1"], weights="w", robust=True)
    np.testing.assert_allclose(mine.summary["se"].to_numpy(), ref.standard_errors_.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(mine.summary["coef"].to_numpy(), ref.params_.to_numpy(), rtol=1e-6)


def test_cluster_sandwich_equals_lifelines_cluster():
    df = _continuous(300, 2)
    ref = CoxPHFitter().fit(df.drop(columns="w"), "time_days", "event", cluster_col="pair")
    mine = fit_cox(df, ["x1"], cluster="pair")
    np.testing.assert_allclose(mine.summary["se"].to_numpy(), ref.standard_errors_.to_numpy(), rtol=1e-6)


def test_ph_test_equals_lifelines_without_ties():
    df = _continuous(300, 3)
    fit = fit_cox(df, ["x1"])
    mine = ph_test(fit, df)
    ref = proportional_hazard_test(fit.fitter, df[["exposed", "x1", "time_days", "event"]], time_transform="rank")
    np.testing.assert_allclose(mine["statistic"].to_numpy(), np.ravel(ref.test_statistic), rtol=1e-6)


def test_exact_poisson_intervals_and_rates():
    assert poisson_ci(10) == pytest.approx((4.795389, 18.390356), rel=1e-6)
    assert poisson_ci(0) == pytest.approx((0.0, 3.688879), rel=1e-6)
    df = pd.DataFrame({"exposed": [1, 1, 0, 0], "event": [1, 0, 1, 1], "time_days": [365.25, 365.25, 730.5, 730.5]})
    rates = incidence_rates(df).set_index("exposed")
    assert rates.loc[1, "person_years"] == pytest.approx(2.0)
    assert rates.loc[1, "rate_per_1000"] == pytest.approx(500.0)
    assert rates.loc[0, "rate_per_1000"] == pytest.approx(500.0)
    assert rates.loc[0, "ci_high"] == pytest.approx(1000 * poisson_ci(2)[1] / 4)


def test_matching_pairs_are_distinct_and_within_caliper():
    rng = np.random.default_rng(4)
    logit = rng.normal(size=5000)
    exposed = rng.binomial(1, 1 / (1 + np.exp(-logit)))
    caliper = 0.2 * logit.std()
    pairs = ps.match_nearest(logit, exposed, caliper)
    # maximal: no unmatched exposed subject has an unmatched comparator within the caliper
    left_t = np.setdiff1d(np.flatnonzero(exposed == 1), pairs[:, 0])
    left_c = np.sort(logit[np.setdiff1d(np.flatnonzero(exposed == 0), pairs[:, 1])])
    j = np.clip(np.searchsorted(left_c, logit[left_t]), 1, len(left_c) - 1)
    nearest = np.minimum(np.abs(left_c[j] - logit[left_t]), np.abs(left_c[j - 1] - logit[left_t]))
    assert (nearest > caliper).all()
    assert len(pairs) == 1619
    assert (exposed[pairs[:, 0]] == 1).all() and (exposed[pairs[:, 1]] == 0).all()
    assert len(np.unique(pairs[:, 0])) == len(pairs) and len(np.unique(pairs[:, 1])) == len(pairs)
    assert np.abs(logit[pairs[:, 0]] - logit[pairs[:, 1]]).max() <= caliper


def test_logistic_matches_the_simulated_model():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(20000, 2))
    y = rng.binomial(1, 1 / (1 + np.exp(-(-0.5 + 1.0 * x[:, 0] - 0.7 * x[:, 1])))).astype(float)
    beta = ps.fit_logistic(x, y)
    np.testing.assert_allclose(beta, [-0.5, 1.0, -0.7], atol=0.06)


def test_analysis_recovers_the_hazard_ratio_and_crude_misses_it():
    df = simulate_survival(10000, 1.5, seed=3)
    res = analyse_outcome(df, Settings(ALL, PATIENT_COVARIATES), cohort_id="sim", outcome_id="o",
                          exposure="e", comparator="c", classes=simulate_classes(df, ("A10BA", "C10")))
    for a in ("cox_adjusted", "iptw", "matching"):
        e = res.estimate(a)
        assert e["status"] == "ok"
        assert e["ci_low"] <= 1.5 <= e["ci_high"], (a, e)
    crude = res.estimate("cox_crude")
    assert crude["ci_low"] > 1.5  # confounding by age and prior stays inflates the crude HR
    assert res.balance["smd_before"].abs().max() > 0.5
    assert res.balance["smd_iptw"].abs().max() < 0.1
    assert res.balance["smd_matched"].abs().max() < 0.1
    assert {d["kind"] for d in res.diagnostics} >= {"iptw_ess", "matching", "ph_test"}
    assert set(res.km) == {0, 1}


def _run(df: pd.DataFrame, **kw) -> list:
    res = analyse_outcome(df, Settings(ALL, PATIENT_COVARIATES, **kw), cohort_id="sim", outcome_id="o",
                          exposure="e", comparator="c")
    return res


def test_no_exposed_subjects_is_reported_not_raised():
    df = simulate_survival(500, 1.5, seed=6)
    res = _run(df[df["exposed"] == 0])
    assert {e["status"] for e in res.estimates} == {"not_estimable"}
    assert {e["message"] for e in res.estimates} == {"no exposed subjects: no hazard ratio"}
    assert all(e["hr"] is None for e in res.estimates)


def test_too_few_events_is_reported():
    df = simulate_survival(300, 1.5, seed=7)
    df["event"] = 0
    df.loc[df.index[:3], "event"] = 1
    res = _run(df, min_events=5)
    assert {e["message"] for e in res.estimates} == {"too few events (3 < 5): no hazard ratio"}


def test_no_events_in_one_group_is_reported():
    df = simulate_survival(2000, 1.5, seed=8)
    df.loc[df["exposed"] == 1, "event"] = 0
    res = _run(df)
    assert {e["message"] for e in res.estimates} == {"no events among the exposed: the hazard ratio is not estimable"}


def test_constant_covariates_are_dropped_with_a_message():
    df = simulate_survival(4000, 1.5, seed=9)
    df["index_year"] = 2018
    df.loc[df["exposed"] == 1, "ald_count"] = 0
    res = _run(df)
    msgs = [d["message"] for d in res.diagnostics if d["kind"] == "covariate_dropped"]
    assert "covariate index_year is constant (2018 for everyone): left out of the models" in msgs
    assert "covariate ald_count is constant among the exposed: left out of the propensity score and adjustment" in msgs
    assert res.estimate("cox_adjusted")["status"] == "ok"


def test_separation_gives_a_clear_message():
    df = simulate_survival(3000, 1.5, seed=10)
    df["n_drugs_prior_year"] = df["exposed"] * 5 + np.random.default_rng(0).uniform(0, 1, len(df))
    res = _run(df)
    assert res.estimate("iptw")["message"] == "the propensity-score model did not converge (a covariate separates the groups)"
    assert res.estimate("cox_crude")["status"] == "ok"
    for e in res.estimates:
        assert e["hr"] is None or np.isfinite(e["hr"])


def test_masking_small_cells():
    assert [mask_count(n) for n in (0, 3, 9, 10, 12345)] == ["<10", "<10", "<10", "10", "12345"]
    assert [mask_value(n) for n in (9, 10, None)] == ["<10", 10, None]
    out = mask_frame(pd.DataFrame({"events": [2, 50], "hr": [1.0, 2.0]}), ["events"])
    assert out["events"].tolist() == ["<10", 50]
    assert out["hr"].tolist() == [1.0, 2.0]


def _counting(df: pd.DataFrame, duration: CumulativeExposure) -> pd.DataFrame:
    """Split exposed follow-up at the cumulative-exposure thresholds (counting-process rows)."""
    parts, labels = [], duration.labels()
    bounds = [*duration.bounds_days(), 10**6]
    for k, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        sub = df[(df["time_days"] > lo) & ((df["exposed"] == 1) | (lo == 0))]
        stop = np.minimum(sub["time_days"], hi)
        stop = np.where(sub["exposed"] == 1, stop, sub["time_days"])
        parts.append(pd.DataFrame({
            "patient_id": sub["patient_id"], "exposed": sub["exposed"], "start_day": lo, "stop_day": stop,
            "event": ((sub["event"] == 1) & (stop == sub["time_days"])).astype(int),
            "cum_exposure_category_number": np.where(sub["exposed"] == 1, k, 0),
            "cum_exposure_category": np.where(sub["exposed"] == 1, labels[k], labels[0]),
        }))
    return pd.concat(parts, ignore_index=True)


def test_cumulative_exposure_categories():
    df = simulate_survival(4000, 1.5, seed=12)
    counting = _counting(df, CumulativeExposure())
    res = analyse_outcome(df, Settings(("cox_crude", "cumulative_exposure"), ("age_at_index", "sex")),
                          cohort_id="sim", outcome_id="o", exposure="e", comparator="c", counting=counting)
    rows = {e["term"]: e for e in res.estimates if e["analysis"] == "cumulative_exposure"}
    assert list(rows) == ["<12 months", "12-23 months", ">=24 months", "trend"]
    for term, row in rows.items():  # a constant ratio: 1.5 in every category, 1 per step
        assert row["status"] == "ok" and row["ci_low"] <= (1.0 if term == "trend" else 1.5) <= row["ci_high"], row
    counting.loc[(counting["cum_exposure_category"] == ">=24 months") & (counting["exposed"] == 1), "event"] = 0
    res = analyse_outcome(df, Settings(("cox_crude", "cumulative_exposure"), ("age_at_index", "sex")),
                          cohort_id="sim", outcome_id="o", exposure="e", comparator="c", counting=counting)
    rows = {e["term"]: e for e in res.estimates if e["analysis"] == "cumulative_exposure"}
    assert rows[">=24 months"]["message"] == "no events with >=24 months cumulative exposure: not estimable"
    assert rows["<12 months"]["status"] == "ok"


def test_cumulative_exposure_categories_come_from_the_study_file():
    """Thresholds in days or months, labelled in the study's unit (6 months: 182 days)."""
    assert CumulativeExposure(unit="months", thresholds=[6, 12, 24]).bounds_days() == [0, 182, 365, 730]
    days = CumulativeExposure(unit="days", thresholds=[90, 180])
    assert (days.bounds_days(), days.labels()) == ([0, 90, 180], ["<90 days", "90-179 days", ">=180 days"])
    df = simulate_survival(2000, 1.5, seed=14)
    res = analyse_outcome(df, Settings(("cox_crude", "cumulative_exposure"), ("age_at_index", "sex")),
                          cohort_id="sim", outcome_id="o", exposure="e", comparator="c",
                          counting=_counting(df, days), duration=days)
    assert [e["term"] for e in res.estimates if e["analysis"] == "cumulative_exposure"] == [
        "<90 days", "90-179 days", ">=180 days", "trend"]


def test_too_few_events_per_covariate_gives_a_penalised_adjusted_model():
    """Not a refusal: the covariates are shrunk (ridge), the exposure is not, and the estimate
    says so; the HR still covers the simulated 1.5."""
    df = simulate_survival(300, 1.5, seed=13, base_rate=0.01)
    res = _run(df)
    n = int(df["event"].sum())
    assert n < 35
    adjusted = res.estimate("cox_adjusted")
    assert adjusted["status"] == "ok" and adjusted["message"] == (
        f"penalised Cox (ridge 0.1 on the covariates, not on exposure): {n} events for 7 covariates, "
        "fewer than 5 per covariate"
    )
    assert adjusted["ci_low"] <= 1.5 <= adjusted["ci_high"], adjusted
    assert [d["kind"] for d in res.diagnostics].count("penalised") == 1
    assert res.estimate("cox_crude")["status"] == "ok" and res.estimate("cox_crude")["message"] is None


def _piecewise(n: int, seed: int, bounds: list[float], hrs: list[float], horizon: int = 1500):
    """Survival rows where an exposed subject's hazard ratio against the comparator is ``hrs[k]``
    on days [bounds[k], bounds[k + 1]) (piecewise-constant hazards, exact inversion), and their
    counting-process rows split at ``bounds`` (column ``piece``: k, NaN for the comparator)."""
    df = simulate_survival(n, 1.0, seed=seed)
    rng = np.random.default_rng(seed)
    rate = 1 / 1500
    e = rng.exponential(1.0, n)
    bounds = np.array([*bounds, np.inf])
    # cumulative hazard of an exposed subject at the start of each piece
    at = np.concatenate([[0.0], np.cumsum(np.diff(bounds[:-1]) * np.array(hrs[:-1]) * rate)])
    k = np.searchsorted(at, e, side="right") - 1
    t_exposed = bounds[k] + (e - at[k]) / (np.array(hrs)[k] * rate)
    t = np.where(df["exposed"] == 1, t_exposed, e / rate)
    df = df.assign(time_days=np.ceil(np.minimum(t, horizon)), event=(t < horizon).astype(int))
    parts = []
    for c, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        sub = df[(df["time_days"] > lo) & ((df["exposed"] == 1) | (lo == 0))]
        stop = np.where(sub["exposed"] == 1, np.minimum(sub["time_days"], hi), sub["time_days"])
        parts.append(pd.DataFrame({
            "patient_id": sub["patient_id"], "exposed": sub["exposed"], "start_day": lo, "stop_day": stop,
            "event": ((sub["event"] == 1) & (stop == sub["time_days"])).astype(int),
            "piece": np.where(sub["exposed"] == 1, c, np.nan)}))
    return df, pd.concat(parts, ignore_index=True)


DOSE = CumulativeDose(unit="mg", thresholds=[200, 500])  # 1 mg a day: the categories change on days 200 and 500


def _dose_counting(n: int, seed: int, hrs=(1.0, 2.0, 4.0)):
    """Exposed subjects move through DOSE's three categories with hazard ratios ``hrs``; each
    category is split in two (as the mart splits at each dispensing)."""
    df, cp = _piecewise(n, seed, [0, 100, 200, 350, 500, 1000], [hrs[0], hrs[0], hrs[1], hrs[1], hrs[2], hrs[2]])
    cat = (cp["piece"] // 2).to_numpy()
    exposed = cp["exposed"] == 1
    return df, cp.assign(dose_category_number=np.where(exposed, cat, np.nan),
                         dose_category=[DOSE.labels()[int(c)] if x else None for c, x in zip(cat, exposed, strict=True)],
                         cum_dose=np.where(exposed, cp["start_day"], np.nan), dose_complete=True, dose_substances=1)


def test_cumulative_dose_categories_and_trend_recover_the_simulated_ratios():
    df, counting = _dose_counting(4000, 21)
    res = analyse_outcome(df, Settings(("cox_crude", "cumulative_dose"), ("age_at_index", "sex")),
                          cohort_id="sim", outcome_id="o", exposure="e", comparator="c",
                          dose_counting=counting, dose=DOSE)
    rows = {e["term"]: e for e in res.estimates if e["analysis"] == "cumulative_dose"}
    assert list(rows) == ["<200 mg", "200-499 mg", ">=500 mg", "trend"]
    for term, hr in (("<200 mg", 1.0), ("200-499 mg", 2.0), (">=500 mg", 4.0), ("trend", 2.0)):
        assert rows[term]["status"] == "ok" and rows[term]["ci_low"] <= hr <= rows[term]["ci_high"], rows[term]
    # the trend row carries no counts: they would unmask a category by subtraction
    assert rows["trend"]["n_exposed"] is None and rows["trend"]["events_exposed"] is None
    assert rows["trend"]["p_value"] < 1e-6

    # a category without events gets no ratio of its own, but its person-time still informs the trend
    none_high = counting.assign(event=np.where(counting["dose_category"] == ">=500 mg", 0, counting["event"]))
    res = analyse_outcome(df, Settings(("cox_crude", "cumulative_dose"), ("age_at_index", "sex")),
                          cohort_id="sim", outcome_id="o", exposure="e", comparator="c",
                          dose_counting=none_high, dose=DOSE)
    rows = {e["term"]: e for e in res.estimates if e["analysis"] == "cumulative_dose"}
    assert rows[">=500 mg"]["message"] == "no events with >=500 mg cumulative dose: not estimable"
    assert rows["trend"]["status"] == "ok" and rows["trend"]["hr"] < 1.5, rows["trend"]

    # subjects with a dispensing of unknown dose are left out, and counted
    incomplete = counting["patient_id"].isin(df.loc[df["exposed"] == 1, "patient_id"].head(50))
    res = analyse_outcome(df, Settings(("cox_crude", "cumulative_dose"), ("age_at_index", "sex")),
                          cohort_id="sim", outcome_id="o", exposure="e", comparator="c",
                          dose_counting=counting.assign(dose_complete=~incomplete), dose=DOSE)
    assert [d["message"] for d in res.diagnostics if d["kind"] == "cumulative_dose"] == [
        "exposed subjects left out, a dispensing of unknown dose (see int_drug_pack_doses.dose_status): 50"]
    few = counting["patient_id"].isin(df.loc[df["exposed"] == 1, "patient_id"].head(3))
    res = analyse_outcome(df, Settings(("cox_crude", "cumulative_dose"), ("age_at_index", "sex")),
                          cohort_id="sim", outcome_id="o", exposure="e", comparator="c",
                          dose_counting=counting.assign(dose_complete=~few), dose=DOSE)
    assert [d["message"] for d in res.diagnostics if d["kind"] == "cumulative_dose"] == [
        "exposed subjects left out, a dispensing of unknown dose (see int_drug_pack_doses.dose_status): <10"]

    # mg of two substances are not added up: every dose analysis says why
    res = analyse_outcome(df, Settings(("cox_crude", "cumulative_dose", "cumulative_dose_continuous"), ("sex",)),
                          cohort_id="sim", outcome_id="o", exposure="e", comparator="c",
                          dose_counting=counting.assign(dose_substances=2), dose=DOSE)
    assert [(e["analysis"], e["term"], e["message"]) for e in res.estimates if e["analysis"] != "cox_crude"] == [
        (a, "all", "the exposure's doses are of 2 substances (ATC7 codes): their mg cannot be added up, use unit: ddd")
        for a in ("cumulative_dose", "cumulative_dose_continuous")]


def test_continuous_cumulative_dose_recovers_the_ratio_per_step():
    """The hazard ratio grows by 1.1 per 100 DDDs (one DDD a day, a dispensing every 100
    days); the exposure alone has none: the continuous model gives 1.1 per 100 DDDs back."""
    step = 100
    df, cp = _piecewise(4000, 23, list(range(0, 1500, step)), [1.1 ** k for k in range(15)])
    exposed = cp["exposed"] == 1
    cp = cp.assign(cum_dose=np.where(exposed, cp["start_day"], np.nan), dose_category_number=np.nan,
                   dose_category=None, dose_complete=True, dose_substances=2)
    res = analyse_outcome(df, Settings(("cox_crude", "cumulative_dose_continuous"), ("age_at_index", "sex")),
                          cohort_id="sim", outcome_id="o", exposure="e", comparator="c", dose_counting=cp,
                          dose=CumulativeDose(unit="ddd", thresholds=[365], per=step))
    [row] = [e for e in res.estimates if e["analysis"] == "cumulative_dose_continuous"]
    assert (row["term"], row["exposure"], row["n_exposed"]) == ("per 100 ddd", "e (per 100 ddd cumulative dose)", None)
    assert row["status"] == "ok" and row["ci_low"] <= 1.1 <= row["ci_high"] and row["ci_high"] < 1.2, row
