"""The case-series fit (veille.study.sccs) on simulated intervals with a known relative incidence."""

from __future__ import annotations

import numpy as np
import pandas as pd
from veille.study.sccs import analyse_case_series

WINDOWS = {1: "first 30 days", 2: "after"}


def simulate(cases: int, ri: tuple[float, float], age_ri: float, seed: int) -> pd.DataFrame:
    """Each case: 2 years in 4 intervals (baseline, window 1, window 2, baseline at an older age);
    one event drawn among them with probability proportional to rate x days."""
    rng = np.random.default_rng(seed)
    days = np.array([300, 30, 120, 280])
    window = np.array([0, 1, 2, 0])
    age = np.array([0, 0, 0, 1])
    rate = np.array([1.0, ri[0], ri[1], age_ri]) * days
    which = rng.choice(4, size=cases, p=rate / rate.sum())
    rows = [{"outcome_id": "o", "patient_id": c, "window_id": int(window[j]), "age_group": int(age[j]),
             "calendar_year": 0, "days": int(days[j]), "events": int(which[c] == j)}
            for c in range(cases) for j in range(4)]
    return pd.DataFrame(rows)


def test_the_relative_incidence_of_each_window_is_recovered():
    df = simulate(4000, (3.0, 1.5), 1.3, seed=5)
    res = analyse_case_series(df, sccs_id="s", outcome_id="o", exposure="drug", windows=WINDOWS,
                              negative_control=False, min_events=5)
    est = {e["term"]: e for e in res.estimates}
    for term, truth in (("first 30 days", 3.0), ("after", 1.5)):
        e = est[term]
        assert e["status"] == "ok" and e["ci_low"] <= truth <= e["ci_high"], e
        assert abs(np.log(e["hr"]) - np.log(truth)) < 0.15, e
    assert (est["after"]["n_comparator"], est["after"]["n_exposed"]) == (4000, 4000)
    assert res.incidence["exposed"].tolist() == [1, 0]


def test_a_window_with_too_few_events_says_so():
    df = simulate(60, (1.0, 1.0), 1.0, seed=2)
    res = analyse_case_series(df, sccs_id="s", outcome_id="o", exposure="drug", windows=WINDOWS,
                              negative_control=False, min_events=5)
    first = next(e for e in res.estimates if e["term"] == "first 30 days")
    n = first["events_exposed"]
    assert n < 5 and first["status"] == "not_estimable"
    assert first["message"] == f"too few events in the window ({n} < 5)"


def test_no_exposed_case_is_not_estimable():
    df = simulate(50, (1.0, 1.0), 1.0, seed=3)
    df = df[df["window_id"] == 0]
    res = analyse_case_series(df, sccs_id="s", outcome_id="o", exposure="drug", windows=WINDOWS,
                              negative_control=True, min_events=5)
    assert [(e["status"], e["message"]) for e in res.estimates] == [("not_estimable", "no case was exposed")] * 2
