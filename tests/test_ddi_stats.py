"""The interaction screen's statistics (veille.scan.ddi, veille.study.sccs.fit_binary_series) on
hand counts and simulated data: exact values, the MLE equal to statsmodels' conditional Poisson,
coverage of the multiplicative null and recovery of an injected ratio of ratios."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from veille.scan.ddi import InteractionSettings, multiplicative_expected, omega, rank_interactions
from veille.study.sccs import fit_binary_series, fit_sccs


def _series(rng, n_cases: int, log_ri: float, exposed_share=(0.05, 0.5)):
    """Cases with one event each, a window of 1000 days, d1 exposed days, event exposed with the
    conditional probability of the SCCS."""
    d1 = np.round(rng.uniform(*exposed_share, n_cases) * 1000)
    d0 = 1000 - d1
    p = d1 * np.exp(log_ri) / (d1 * np.exp(log_ri) + d0)
    return d1, d0, (rng.random(n_cases) < p).astype(int)


def test_the_binary_series_fit_is_the_conditional_poisson_mle():
    rng = np.random.default_rng(3)
    d1, d0, y = _series(rng, 300, np.log(2.0))
    ours = fit_binary_series(np.zeros(300, int), d1, d0, y)
    rows = pd.DataFrame({"patient_id": np.repeat(np.arange(300), 2), "window_id": np.tile([1, 0], 300),
                         "days": np.c_[d1, d0].ravel(), "events": np.c_[y, 1 - y].ravel(),
                         "age_group": 0, "calendar_year": 2016})
    theirs = fit_sccs(rows, {1: "exposed"})
    assert ours["log_ratio"][0] == pytest.approx(theirs.params["exposed"], abs=1e-6)
    assert ours["se"][0] == pytest.approx(theirs.bse["exposed"], abs=1e-6)
    assert (ours["cases"][0], ours["exposed_events"][0]) == (300, y.sum())


def test_many_series_in_one_pass_and_a_prior_keeps_an_all_exposed_series_finite():
    rng = np.random.default_rng(4)
    parts = [_series(rng, 400, np.log(r)) for r in (1.0, 3.0)]
    group = np.repeat([0, 1], 400)
    d1, d0, y = (np.concatenate([p[i] for p in parts]) for i in range(3))
    fit = fit_binary_series(group, d1, d0, y)
    for g, ratio in ((0, 1.0), (1, 3.0)):
        lo, hi = np.exp(fit["log_ratio"][g] + np.array([-1.96, 1.96]) * fit["se"][g])
        assert lo <= ratio <= hi
    # every event exposed: no finite MLE, a finite penalised estimate; uninformative cases dropped
    one = fit_binary_series(np.zeros(4, int), [10, 20, 30, 0], [990, 980, 970, 1000], [1, 1, 1, 0],
                            prior_variance=4.0)
    assert np.isfinite(one["log_ratio"][0]) and one["log_ratio"][0] > 2 and one["cases"][0] == 3


def _counts(o_ab, e_base, o_a, e_a, o_b, e_b, o_total):
    return pd.DataFrame({"o_ab": [o_ab], "e_ab_base": [e_base], "o_a": [o_a], "e_a": [e_a], "o_b": [o_b],
                         "e_b": [e_b], "o_total": [o_total]})


def test_the_multiplicative_expectation_by_hand():
    # A alone: 40 - 10 = 30 observed, 24 - 4 = 20 expected, SIR 30.5 / 20.5; B alone: 20 observed,
    # 14 - 4 = 10 expected, SIR 20.5 / 10.5; neither: 1000 - 40 - 30 + 10 = 940 observed,
    # 1000 - 24 - 14 + 4 = 966 expected, SIR 940.5 / 966.5
    m = multiplicative_expected(_counts(10, 4.0, 40, 24.0, 30, 14.0, 1000))
    assert m["e_mult"][0] == pytest.approx(4.0 * (30.5 / 20.5) * (20.5 / 10.5) / (940.5 / 966.5))
    assert m["log_se"][0] == pytest.approx(np.sqrt(1 / 10.5 + 1 / 30.5 + 1 / 20.5 + 1 / 940.5))
    w = omega(_counts(10, 4.0, 40, 24.0, 30, 14.0, 1000))
    assert w["omega"][0] == pytest.approx(np.log2(10.5 / (m["e_mult"][0] + 0.5)))
    assert w["omega025"][0] < w["omega"][0] < w["omega975"][0]


def test_main_effects_alone_do_not_make_an_interaction():
    """Four-cell Poisson counts with a ratio of 2 for each drug and none for the pair: Omega's
    interval covers 0 in about 95 % of replicates (a Gamma interval taking E as known: 73 %),
    its p-value falls below 0.025 about 2.5 % of the time, and an additive baseline would
    mostly see an interaction."""
    rng = np.random.default_rng(5)
    covered, rejected, additive_above = 0, 0, 0
    n = 300
    for _ in range(n):
        pt = {"ab": 30.0, "a": 60.0, "b": 60.0, "none": 800.0}  # expected at population rates
        mean = {"ab": pt["ab"] * 4, "a": pt["a"] * 2, "b": pt["b"] * 2, "none": pt["none"]}
        o = {k: rng.poisson(v) for k, v in mean.items()}
        total_e = sum(pt.values())
        total_o = sum(o.values())
        scale = total_o / total_e  # the population rates come from the data themselves
        c = _counts(o["ab"], pt["ab"] * scale, o["ab"] + o["a"], (pt["ab"] + pt["a"]) * scale, o["ab"] + o["b"],
                    (pt["ab"] + pt["b"]) * scale, total_o)
        w = omega(c)
        covered += w["omega025"][0] <= 0 <= w["omega975"][0]
        rejected += w["omega_p"][0] <= 0.025
        e_add = pt["ab"] * scale * ((o["a"] + 0.5) / (pt["a"] * scale + 0.5) + (o["b"] + 0.5) / (pt["b"] * scale + 0.5) - 1)
        additive_above += o["ab"] > e_add * 1.2
    assert covered / n >= 0.92 and rejected / n <= 0.05
    assert additive_above / n > 0.5


def test_the_ratio_of_ratios_is_recovered_and_ranked_first():
    """Two triples: an interaction (B's ratio 3 within A, 1 without) and a trap (B's ratio 2
    within A and without): the ratio of ratios is 3 and 1, within their intervals."""
    rng = np.random.default_rng(6)
    rows = []
    for triple, (within, without) in enumerate(((3.0, 1.0), (2.0, 2.0))):
        d1, _, y = _series(rng, 1500, np.log(within), (0.1, 0.5))
        # within A: window 1000 days, all of it on A, joint days d1
        for i in range(1500):
            rows.append((triple, 100000 + i, 1000, 1000, int(d1[i]), int(d1[i]), 1, int(y[i]), int(y[i])))
        d1, _, y = _series(rng, 1500, np.log(without), (0.1, 0.5))
        for i in range(1500):
            rows.append((triple, 200000 + i, 1000, 0, int(d1[i]), 0, 0, int(y[i]), 0))
    cd = pd.DataFrame(rows, columns=["t", "patient_id", "window_days", "days_a", "days_b", "days_ab", "event_a",
                                     "event_b", "event_ab"])
    cd["drug_level"], cd["drug_a"], cd["drug_b"] = "atc5", cd["t"].map({0: "C10AA", 1: "N06AB"}), "ZZZZZ"
    cd["outcome_code"] = "M62"
    counts = pd.DataFrame({"drug_level": "atc5", "drug_a": ["C10AA", "N06AB"], "drug_b": "ZZZZZ",
                           "outcome_code": "M62", "patients_ab": 100, "days_ab": 1000, "o_ab": [20, 20],
                           "e_ab_base": [20.0, 20.0], "o_a": [500, 500], "e_a": [500.0, 500.0], "o_b": [300, 300],
                           "e_b": [300.0, 300.0], "o_total": [5000, 5000]})
    out = rank_interactions(counts, cd.drop(columns="t"), InteractionSettings())
    first = out.iloc[0]
    assert first["drug_a"] == "C10AA" and first["rank"] == 1
    assert first["ror_ab_low"] <= 3.0 <= first["ror_ab_high"] and first["ror_ab_low"] > 1.5
    trap = out.iloc[1]
    assert trap["ror_ab_low"] <= 1.0 <= trap["ror_ab_high"]
    assert list(out["rank"]) == [1, 2]
