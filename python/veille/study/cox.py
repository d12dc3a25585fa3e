"""Cox models: lifelines for the fit, a vectorized sandwich variance for robust errors.

lifelines computes score residuals with a Python loop over subjects that is quadratic in n
(lifelines issue 1067: weights + ``robust=True`` on 1 M rows never finishes). Here the score
residuals come from cumulative sums over the distinct event times (Breslow risk sets, every
subject with time >= t at risk), O(n x p); on data without ties they equal lifelines' own.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter
from lifelines.exceptions import ConvergenceError, ConvergenceWarning
from scipy import stats

Z95 = stats.norm.ppf(0.975)


class NotEstimable(Exception):
    """The data cannot support this estimate; the message says why (shown to the user)."""


@dataclass
class CoxResult:
    """The exposure term of a Cox model (and the whole coefficient table in ``summary``)."""

    hr: float
    ci_low: float
    ci_high: float
    se_log_hr: float
    p_value: float
    summary: pd.DataFrame
    robust: bool
    fitter: CoxPHFitter | None = field(default=None, repr=False)


def score_residuals(
    x: np.ndarray, time: np.ndarray, event: np.ndarray, weights: np.ndarray, beta: np.ndarray
) -> np.ndarray:
    """Weighted Cox score residuals (n x p), in the order of the input rows."""
    x = np.asarray(x, dtype=float)
    order = np.argsort(time, kind="stable")
    xs, ts, es, ws = x[order], np.asarray(time)[order], np.asarray(event, float)[order], weights[order]
    eta = xs @ beta
    e = np.exp(eta - eta.max())
    we = ws * e
    uniq, first = np.unique(ts, return_index=True)
    s0 = we[::-1].cumsum()[::-1][first]
    s1 = (xs * we[:, None])[::-1].cumsum(0)[::-1][first]
    d = np.add.reduceat(ws * es, first)
    xbar = s1 / s0[:, None]
    dl = d / s0
    cum_a = dl.cumsum()
    cum_b = (xbar * dl[:, None]).cumsum(0)
    k = np.searchsorted(uniq, ts)
    u = es[:, None] * (xs - xbar[k]) - e[:, None] * (xs * cum_a[k][:, None] - cum_b[k])
    u *= ws[:, None]
    out = np.empty_like(u)
    out[order] = u
    return out


def sandwich_variance(
    scores: np.ndarray, naive_variance: np.ndarray, clusters: np.ndarray | None = None
) -> np.ndarray:
    """Robust (Lin-Wei) variance V (sum of D_i' D_i) with D = U V; D summed by cluster first."""
    delta = scores @ naive_variance
    if clusters is not None:
        codes, _ = pd.factorize(clusters)
        summed = np.zeros((codes.max() + 1, delta.shape[1]))
        np.add.at(summed, codes, delta)
        delta = summed
    return delta.T @ delta


def fit_cox(
    df: pd.DataFrame,
    covariates: list[str],
    *,
    term: str = "exposed",
    weights: str | None = None,
    robust: bool = False,
    cluster: str | None = None,
    duration: str = "time_days",
    event: str = "event",
    penalizer: float = 0.0,
) -> CoxResult:
    """Fit ``exposed + covariates``; with ``robust`` the sandwich variance replaces the naive one.
    ``penalizer`` > 0 shrinks the covariates' coefficients (a ridge penalty, lifelines'
    ``penalizer`` on its standardised scale), never the exposure's."""
    cols = [term, *[c for c in covariates if c != term]]
    data = df[cols + [duration, event] + ([weights] if weights else [])]
    if penalizer > 0 and len(cols) > 1:
        cph = CoxPHFitter(penalizer=np.array([0.0] + [penalizer] * (len(cols) - 1)), l1_ratio=0.0)
    else:
        cph = CoxPHFitter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            cph.fit(data, duration_col=duration, event_col=event, weights_col=weights, batch_mode=True)
        except (ConvergenceError, np.linalg.LinAlgError) as exc:
            raise NotEstimable(f"the Cox model did not converge ({_first_line(exc)})") from None
    for w in caught:
        text = str(w.message)
        if issubclass(w.category, ConvergenceWarning) and ("failed to converge" in text or "norm(delta) is still high" in text):
            raise NotEstimable("the Cox model did not converge (Newton-Raphson step limit)")
    params = cph.params_.values
    naive = cph.variance_matrix_.values
    if robust or cluster:
        w = data[weights].to_numpy(float) if weights else np.ones(len(data))
        u = score_residuals(data[cols].to_numpy(float), data[duration].to_numpy(), data[event].to_numpy(), w, params)
        var = sandwich_variance(u, naive, df[cluster].to_numpy() if cluster else None)
    else:
        var = naive
    se = np.sqrt(np.diag(var))
    if not np.all(np.isfinite(params)) or not np.all(np.isfinite(se)) or abs(params[0]) > 15:
        raise NotEstimable("the Cox model did not converge (infinite or undefined hazard ratio)")
    z = params / se
    summary = pd.DataFrame(
        {
            "coef": params,
            "se": se,
            "hr": np.exp(params),
            "ci_low": np.exp(params - Z95 * se),
            "ci_high": np.exp(params + Z95 * se),
            "p": 2 * stats.norm.sf(np.abs(z)),
        },
        index=pd.Index(cols, name="term"),
    )
    row = summary.loc[term]
    return CoxResult(
        hr=float(row.hr),
        ci_low=float(row.ci_low),
        ci_high=float(row.ci_high),
        se_log_hr=float(row.se),
        p_value=float(row.p),
        summary=summary,
        robust=bool(robust or cluster),
        fitter=cph,
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().split(". ")[0].splitlines()
    return text[0][:120] if text else type(exc).__name__
