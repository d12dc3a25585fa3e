"""The convolutional self-controlled case series: the design it builds (exact), and the lag
curves it recovers on simulated case series with known effects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from veille.study.convsccs import build_design, fit_conv_sccs

LAGS = 12


def test_design_rows_are_exact():
    # one case, 100 days in 30-day buckets (30, 30, 30, 10), its event on day 65 (bucket 2);
    # drug X started 20 days before day 0 and ran to day 79 (last bucket 2): lags 1, 2 and the
    # last lag (2) lasting to the end of the episode; drug Y started on day 40 for 5 days:
    # lags 0, 1, 2 in buckets 1, 2, 3 (the lag window outlives a short episode)
    cases = pd.DataFrame({"patient_id": [7], "n_days": [100], "event_day": [65], "age_start": [70.0]})
    starts = pd.DataFrame({"patient_id": [7, 7, 8], "drug_code": ["X", "Y", "X"],
                           "start_day": [-20, 40, 0], "end_day": [80, 45, 30]})
    d = build_design(cases, starts, lags=3, bucket_days=30, min_events=1)
    assert d.drugs == ["X", "Y"]
    assert d.y.tolist() == [0, 0, 1, 0]
    assert np.exp(d.offset).round().tolist() == [30, 30, 30, 10]
    # cumulative columns (X0, X1, X2, Y0, Y1, Y2): column m is 1 at every lag >= m
    assert d.exposure.toarray().tolist() == [
        [1, 1, 0, 0, 0, 0],
        [1, 1, 1, 1, 0, 0],
        [1, 1, 1, 1, 1, 0],
        [0, 0, 0, 1, 1, 1],
    ]
    assert d.lag_time.tolist() == [[0, 1, 2], [1, 1, 1]]
    assert d.exposed_events.tolist() == [1, 1]
    assert d.lag_events.tolist() == [[0, 0, 1], [0, 1, 0]]
    assert d.exposed_cases.tolist() == [1, 1]
    # a drug needs min_events events within its window to get columns
    assert build_design(cases, starts, lags=3, bucket_days=30, min_events=2) is None


def simulate(n: int = 40000, days: int = 1440, seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Patients with 10 drugs, each started once by 15% of them (some before day 0). Drug D0
    triples the incidence for 6 months after a start; D1 doubles it from month 3 to month 12;
    the others do nothing. First events only, as the warehouse's outcomes."""
    rng = np.random.default_rng(seed)
    buckets = days // 30
    curves = np.zeros((10, LAGS))
    curves[0, :6] = np.log(3.0)
    curves[1, 3:] = np.log(2.0)
    log_rate = np.full((n, buckets), np.log(0.0015))
    rows = []
    for j in range(10):
        takes = rng.random(n) < 0.15
        start = rng.integers(-200, days, n)
        for lag in range(LAGS):
            k = start // 30 + lag
            ok = takes & (k >= 0) & (k < buckets)
            log_rate[np.flatnonzero(ok), k[ok]] += curves[j, lag]
        rows.append(pd.DataFrame({"patient_id": np.flatnonzero(takes), "drug_code": f"D{j}",
                                  "start_day": start[takes]}))
    events = rng.poisson(np.exp(log_rate))
    case = events.sum(axis=1) > 0
    first = events[case].argmax(axis=1)
    cases = pd.DataFrame({"patient_id": np.flatnonzero(case), "n_days": days,
                          "event_day": first * 30 + rng.integers(0, 30, case.sum()), "age_start": 60.0})
    return cases, pd.concat(rows, ignore_index=True)


@pytest.fixture(scope="module")
def simulated():
    cases, starts = simulate()
    return build_design(cases, starts, lags=LAGS, bucket_days=30, min_events=3)


def test_recovers_the_lag_curves_of_two_drugs(simulated):
    fit = fit_conv_sccs(simulated)
    assert fit.converged
    lags = fit.lag_table().set_index(["drug_code", "lag"])
    d0, d1 = lags.loc["D0"], lags.loc["D1"]
    # D0: relative incidence 3 for six months, then 1
    assert np.exp(np.log(d0.loc[0:5, "ri"]).mean()) == pytest.approx(3.0, rel=0.25)
    assert np.exp(np.log(d0.loc[6:11, "ri"]).mean()) == pytest.approx(1.0, abs=0.25)
    # D1: 1 for three months, then 2
    assert np.exp(np.log(d1.loc[0:2, "ri"]).mean()) == pytest.approx(1.0, abs=0.35)
    assert np.exp(np.log(d1.loc[3:11, "ri"]).mean()) == pytest.approx(2.0, rel=0.25)
    # the per-lag intervals cover the truth at most lags
    truth = np.r_[[3.0] * 6, [1.0] * 6, [1.0] * 3, [2.0] * 9]
    both = pd.concat([d0, d1])
    covered = (both["ci_low"].to_numpy() <= truth) & (truth <= both["ci_high"].to_numpy())
    assert covered.mean() >= 0.75, both
    summary = fit.summary().set_index("drug_code")
    assert summary.loc["D0", "conv_p"] < 1e-6 and summary.loc["D1", "conv_p"] < 1e-3
    nulls = summary.drop(index=["D0", "D1"])
    # the eight null drugs: average relative incidence near 1, no strong signal
    assert nulls["conv_ri"].between(0.75, 1.3).all(), nulls
    assert (nulls["conv_p"] > 0.001).all(), nulls
    assert ((nulls["conv_ci_low"] <= 1) & (1 <= nulls["conv_ci_high"])).mean() >= 0.75


def test_bootstrap_intervals_surround_the_estimate(simulated):
    fit = fit_conv_sccs(simulated, replicates=8, seed=5)
    assert fit.boot.shape == (8, len(simulated.drugs), LAGS)
    summary = fit.summary()
    assert (summary["conv_ci_low"] < summary["conv_ri"]).all()
    assert (summary["conv_ri"] < summary["conv_ci_high"]).all()
    d0 = summary.set_index("drug_code").loc["D0"]
    assert d0["conv_ci_low"] > 1.2 and d0["conv_p"] < 1e-3
    # the same seed, the same replicates
    again = fit_conv_sccs(simulated, replicates=8, seed=5)
    assert np.array_equal(again.boot, fit.boot)


def test_the_penalty_makes_curves_piecewise_constant(simulated):
    smooth = fit_conv_sccs(simulated, strength_tv=50.0)
    rough = fit_conv_sccs(simulated, strength_tv=0.0)

    def jumps(fit):
        return int((np.abs(np.diff(fit.beta, axis=1)) > 1e-6).sum())

    assert jumps(smooth) < jumps(rough)
    assert jumps(rough) > len(simulated.drugs) * (LAGS - 1) // 2
