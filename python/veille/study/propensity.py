"""Propensity scores: logistic model, stabilized truncated IPTW, caliper matching, balance."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

from veille.study.cox import NotEstimable


def _deviance(z: np.ndarray, y: np.ndarray, beta: np.ndarray) -> float:
    eta = z @ beta
    return float(2 * np.sum(np.logaddexp(0, eta) - y * eta))


def fit_logistic(x: np.ndarray, y: np.ndarray, max_iter: int = 50, tol: float = 1e-10) -> np.ndarray:
    """Maximum-likelihood logistic coefficients (intercept first): Newton with step halving."""
    x = np.asarray(x, dtype=float)
    mean, sd = x.mean(0), x.std(0)
    sd[sd == 0] = 1.0
    z = np.column_stack([np.ones(len(x)), (x - mean) / sd])
    beta = np.zeros(z.shape[1])
    beta[0] = np.log(y.mean() / (1 - y.mean()))
    dev = _deviance(z, y, beta)
    for _ in range(max_iter):
        p = expit(z @ beta)
        grad = z.T @ (y - p)
        hess = (z * (p * (1 - p))[:, None]).T @ z
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            raise NotEstimable("the propensity-score model is singular (collinear covariates)") from None
        for _ in range(40):
            new_dev = _deviance(z, y, beta + step)
            if new_dev <= dev + 1e-12 * abs(dev):
                break
            step /= 2
        beta = beta + step
        done = abs(dev - new_dev) < tol * (abs(new_dev) + 1)
        dev = new_dev
        if done:
            break
    else:
        raise NotEstimable("the propensity-score model did not converge (a covariate separates the groups)")
    if not np.all(np.isfinite(beta)) or np.max(np.abs(beta[1:])) > 15:
        raise NotEstimable("the propensity-score model did not converge (a covariate separates the groups)")
    out = beta.copy()
    out[1:] = beta[1:] / sd
    out[0] = beta[0] - np.sum(beta[1:] * mean / sd)
    return out


def propensity_logit(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The fitted linear predictor (logit of the propensity score) for each subject."""
    beta = fit_logistic(x, y)
    return beta[0] + np.asarray(x, float) @ beta[1:]


def iptw_weights(ps: np.ndarray, exposed: np.ndarray, truncate: float = 0.01) -> np.ndarray:
    """Stabilized inverse-probability weights truncated at the 1st and 99th percentiles."""
    p1 = exposed.mean()
    w = np.where(exposed == 1, p1 / ps, (1 - p1) / (1 - ps))
    lo, hi = np.quantile(w, [truncate, 1 - truncate])
    return np.clip(w, lo, hi)


def effective_sample_size(w: np.ndarray) -> float:
    return float(w.sum() ** 2 / np.sum(w**2))


def match_nearest(logit: np.ndarray, exposed: np.ndarray, caliper: float, max_rounds: int = 200) -> np.ndarray:
    """1:1 nearest-neighbour matching on the logit without replacement, within ``caliper``.

    Returns an (m, 2) array of (exposed row, comparator row) positions. Set-based: in each
    round every unmatched exposed subject claims its nearest available comparator, a
    comparator claimed twice goes to the closest claimant (ties: lowest row), and the
    losers try again next round. An exposed subject with nobody left within the caliper
    stays unmatched (the available set only shrinks).
    """
    treated = np.flatnonzero(exposed == 1)
    controls = np.flatnonzero(exposed == 0)
    controls = controls[np.argsort(logit[controls], kind="stable")]
    cvals = logit[controls]
    available = np.ones(len(controls), bool)
    todo = treated
    pairs_t: list[np.ndarray] = []
    pairs_c: list[np.ndarray] = []
    for _ in range(max_rounds):
        pos = np.flatnonzero(available)
        if todo.size == 0 or pos.size == 0:
            break
        av = cvals[pos]
        v = logit[todo]
        j = np.searchsorted(av, v)
        left, right = np.clip(j - 1, 0, pos.size - 1), np.clip(j, 0, pos.size - 1)
        dl, dr = np.abs(v - av[left]), np.abs(av[right] - v)
        best = np.where(dr < dl, right, left)
        dist = np.minimum(dl, dr)
        ok = dist <= caliper
        cand_t, cand_c, cand_d = todo[ok], best[ok], dist[ok]
        if cand_t.size == 0:
            break
        order = np.lexsort((cand_t, cand_d, cand_c))
        sc = cand_c[order]
        first = np.r_[True, sc[1:] != sc[:-1]]
        win = order[first]
        pairs_t.append(cand_t[win])
        pairs_c.append(controls[pos[cand_c[win]]])
        available[pos[cand_c[win]]] = False
        lost = np.ones(cand_t.size, bool)
        lost[win] = False
        todo = cand_t[lost]
    if not pairs_t:
        return np.empty((0, 2), dtype=int)
    return np.column_stack([np.concatenate(pairs_t), np.concatenate(pairs_c)])


def smd(x: pd.DataFrame, exposed: np.ndarray, weights: np.ndarray | None = None) -> pd.Series:
    """Standardized mean differences (exposed - comparator) / pooled SD, optionally weighted."""
    w = np.ones(len(x)) if weights is None else weights
    out = {}
    for col in x.columns:
        v = x[col].to_numpy(float)
        stats = []
        for g in (1, 0):
            m = exposed == g
            mean = np.average(v[m], weights=w[m])
            var = np.average((v[m] - mean) ** 2, weights=w[m])
            stats.append((mean, var))
        (m1, v1), (m0, v0) = stats
        pooled = np.sqrt((v1 + v0) / 2)
        out[col] = 0.0 if pooled == 0 else (m1 - m0) / pooled
    return pd.Series(out, name="smd", dtype=float)
