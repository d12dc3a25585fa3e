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
from veille.study.config import ANALYSES, PATIENT_COVARIATES
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


def _counting(df: pd.DataFrame) -> pd.DataFrame:
    """Split exposed follow-up at 1 and 2 years of cumulative exposure (counting-process rows)."""
    parts = []
    for lo, hi, cat in ((0, 365, "<1y"), (365, 730, "1-2y"), (730, 10**6, ">=2y")):
        sub = df[(df["time_days"] > lo) & ((df["exposed"] == 1) | (lo == 0))]
        stop = np.minimum(sub["time_days"], hi)
        stop = np.where(sub["exposed"] == 1, stop, sub["time_days"])
        parts.append(pd.DataFrame({
            "patient_id": sub["patient_id"], "exposed": sub["exposed"], "start_day": lo, "stop_day": stop,
            "event": ((sub["event"] == 1) & (stop == sub["time_days"])).astype(int),
            "cum_exposure_category": np.where(sub["exposed"] == 1, cat, "<1y"),
        }))
    return pd.concat(parts, ignore_index=True)


def test_cumulative_exposure_categories():
    df = simulate_survival(4000, 1.5, seed=12)
    counting = _counting(df)
    res = analyse_outcome(df, Settings(("cox_crude", "cumulative_exposure"), ("age_at_index", "sex")),
                          cohort_id="sim", outcome_id="o", exposure="e", comparator="c", counting=counting)
    rows = {e["term"]: e for e in res.estimates if e["analysis"] == "cumulative_exposure"}
    assert set(rows) == {"<1y", "1-2y", ">=2y"}
    for row in rows.values():
        assert row["status"] == "ok" and row["ci_low"] <= 1.5 <= row["ci_high"], row
    counting.loc[(counting["cum_exposure_category"] == ">=2y") & (counting["exposed"] == 1), "event"] = 0
    res = analyse_outcome(df, Settings(("cox_crude", "cumulative_exposure"), ("age_at_index", "sex")),
                          cohort_id="sim", outcome_id="o", exposure="e", comparator="c", counting=counting)
    rows = {e["term"]: e for e in res.estimates if e["analysis"] == "cumulative_exposure"}
    assert rows[">=2y"]["message"] == "no events with >=2y cumulative exposure: not estimable"
    assert rows["<1y"]["status"] == "ok"


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


def _dose_counting(n: int, seed: int, hrs=(1.0, 2.0, 4.0), cuts=(200, 500), horizon=1500):
    """Exposed subjects move through three cumulative-dose categories at days ``cuts`` with
    hazard ratios ``hrs`` against the comparator (piecewise-constant hazards, exact inversion)."""
    df = simulate_survival(n, 1.0, seed=seed)
    rng = np.random.default_rng(seed)
    rate = 1 / 1500
    e = rng.exponential(1.0, n)
    bounds = np.array([0, *cuts, np.inf])
    # cumulative hazard of an exposed subject at the start of each category
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
            "dose_category_number": np.where(sub["exposed"] == 1, c, np.nan),
            "dose_category": np.where(sub["exposed"] == 1, ["low", "mid", "high"][c], None),
            "dose_complete": True}))
    return df, pd.concat(parts, ignore_index=True)


def test_cumulative_dose_categories_and_trend_recover_the_simulated_ratios():
    df, counting = _dose_counting(4000, 21)
    res = analyse_outcome(df, Settings(("cox_crude", "cumulative_dose"), ("age_at_index", "sex")),
                          cohort_id="sim", outcome_id="o", exposure="e", comparator="c",
                          dose_counting=counting, dose_labels=["low", "mid", "high"])
    rows = {e["term"]: e for e in res.estimates if e["analysis"] == "cumulative_dose"}
    assert list(rows) == ["low", "mid", "high", "trend"]
    for term, hr in (("low", 1.0), ("mid", 2.0), ("high", 4.0), ("trend", 2.0)):
        assert rows[term]["status"] == "ok" and rows[term]["ci_low"] <= hr <= rows[term]["ci_high"], rows[term]
    # the trend row carries no counts: they would unmask a category by subtraction
    assert rows["trend"]["n_exposed"] is None and rows["trend"]["events_exposed"] is None
    assert rows["trend"]["p_value"] < 1e-6

    # a category without events gets no ratio of its own, but its person-time still informs the trend
    none_high = counting.assign(event=np.where(counting["dose_category"] == "high", 0, counting["event"]))
    res = analyse_outcome(df, Settings(("cox_crude", "cumulative_dose"), ("age_at_index", "sex")),
                          cohort_id="sim", outcome_id="o", exposure="e", comparator="c",
                          dose_counting=none_high, dose_labels=["low", "mid", "high"])
    rows = {e["term"]: e for e in res.estimates if e["analysis"] == "cumulative_dose"}
    assert rows["high"]["message"] == "no events with high cumulative dose: not estimable"
    assert rows["trend"]["status"] == "ok" and rows["trend"]["hr"] < 1.5, rows["trend"]

    # subjects with a dispensing of unknown dose are left out, and counted
    incomplete = counting["patient_id"].isin(df.loc[df["exposed"] == 1, "patient_id"].head(50))
    res = analyse_outcome(df, Settings(("cox_crude", "cumulative_dose"), ("age_at_index", "sex")),
                          cohort_id="sim", outcome_id="o", exposure="e", comparator="c",
                          dose_counting=counting.assign(dose_complete=~incomplete), dose_labels=["low", "mid", "high"])
    assert [d["message"] for d in res.diagnostics if d["kind"] == "cumulative_dose"] == [
        "exposed subjects left out, a dispensing of unknown dose: 50"]
    few = counting["patient_id"].isin(df.loc[df["exposed"] == 1, "patient_id"].head(3))
    res = analyse_outcome(df, Settings(("cox_crude", "cumulative_dose"), ("age_at_index", "sex")),
                          cohort_id="sim", outcome_id="o", exposure="e", comparator="c",
                          dose_counting=counting.assign(dose_complete=~few), dose_labels=["low", "mid", "high"])
    assert [d["message"] for d in res.diagnostics if d["kind"] == "cumulative_dose"] == [
        "exposed subjects left out, a dispensing of unknown dose: <10"]
