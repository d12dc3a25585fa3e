"""Proportional-hazards check: Grambsch-Therneau test on scaled Schoenfeld residuals.

lifelines' own Schoenfeld residuals grow an array row by row (quadratic in n); here they
are computed from cumulative risk-set sums (Breslow means) and handed to
``lifelines.statistics.proportional_hazard_test`` as precomputed residuals.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from lifelines.statistics import proportional_hazard_test

from veille.study.cox import CoxResult


def schoenfeld_residuals(x: np.ndarray, time: np.ndarray, event: np.ndarray, weights: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Residuals x_i - xbar(t_i) of the event rows, ordered by time."""
    order = np.argsort(time, kind="stable")
    xs, ts, es, ws = np.asarray(x, float)[order], np.asarray(time)[order], np.asarray(event)[order], weights[order]
    eta = xs @ beta
    we = ws * np.exp(eta - eta.max())
    uniq, first = np.unique(ts, return_index=True)
    s0 = we[::-1].cumsum()[::-1][first]
    s1 = (xs * we[:, None])[::-1].cumsum(0)[::-1][first]
    k = np.searchsorted(uniq, ts)
    ev = es == 1
    return xs[ev] - (s1 / s0[:, None])[k[ev]]


def ph_test(result: CoxResult, df: pd.DataFrame, duration: str = "time_days", event: str = "event") -> pd.DataFrame:
    """Per-term chi-square statistic and p-value (rank time transform), as a tidy frame."""
    cph = result.fitter
    cols = list(cph.params_.index)
    w = np.ones(len(df))
    s = schoenfeld_residuals(df[cols].to_numpy(float), df[duration].to_numpy(), df[event].to_numpy(), w, cph.params_.values)
    scaled = pd.DataFrame(s.shape[0] * s @ cph.variance_matrix_.values, columns=cols)
    res = proportional_hazard_test(cph, df, time_transform="rank", precomputed_residuals=scaled)
    return pd.DataFrame(
        {"term": cols, "statistic": np.ravel(res.test_statistic), "p": np.ravel(res.p_value)}
    )
