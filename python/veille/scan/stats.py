"""Per-pair statistics of the screen, vectorized over all pairs at once.

* sequence symmetry: crude sequence ratio a / b, null-effect sequence ratio from the marginal
  trends, adjusted ratio ASR = CSR / NSR with an exact (Clopper-Pearson) CI, one-sided binomial
  p-value of a drug-first share above the null one;
* observed vs expected: O / E, BCPNN information component IC = log2((O + 0.5) / (E + 0.5))
  with its 95% credibility interval from the Gamma(O + 0.5, E + 0.5) posterior, one-sided
  Poisson p-value P(X >= O | E);
* empirical calibration of O/E: for each outcome, the log O/E of every drug scanned against it
  are mostly null pairs, and their spread around a common bias (users of any drug are sicker
  than the population the expectation comes from) is the empirical null N(mu, tau^2); a pair's
  calibrated p-value compares its log O/E with that null, widened by its own standard error
  (Schuemie et al. 2014, with all drugs of an outcome as the negative controls);
* combination: Bonferroni min-p over the methods that have data (valid under any dependence
  between methods), then Benjamini-Hochberg q-values over every pair.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

Z_LEVEL = 0.95


def sequence_symmetry(
    drug_first: np.ndarray,
    outcome_first: np.ndarray,
    nsr_numerator: np.ndarray,
    nsr_denominator: np.ndarray,
    level: float = Z_LEVEL,
) -> pd.DataFrame:
    """CSR, NSR, ASR with its CI and one-sided p-value for each pair (NaN when undefined)."""
    a = np.asarray(drug_first, dtype=float)
    b = np.asarray(outcome_first, dtype=float)
    num = np.asarray(nsr_numerator, dtype=float)
    den = np.asarray(nsr_denominator, dtype=float)
    n = a + b
    with np.errstate(divide="ignore", invalid="ignore"):
        p_null = np.where(den > 0, num / den, np.nan)
        nsr = p_null / (1.0 - p_null)
        csr = np.where(b > 0, a / b, np.where(a > 0, np.inf, np.nan))
        asr = csr / nsr
        alpha = 1.0 - level
        lo_share = np.where(a > 0, stats.beta.ppf(alpha / 2, a, b + 1), 0.0)
        hi_share = np.where(b > 0, stats.beta.ppf(1 - alpha / 2, a + 1, b), 1.0)
        ci_low = lo_share / (1.0 - lo_share) / nsr
        ci_high = np.where(hi_share < 1.0, hi_share / (1.0 - hi_share), np.inf) / nsr
    p_value = np.where(
        (n > 0) & np.isfinite(p_null) & (p_null > 0) & (p_null < 1),
        stats.binom.sf(a - 1, n, np.clip(np.nan_to_num(p_null, nan=0.5), 1e-12, 1 - 1e-12)),
        np.nan,
    )
    undefined = n == 0
    return pd.DataFrame({
        "ssa_csr": csr,
        "ssa_nsr": nsr,
        "ssa_asr": np.where(undefined, np.nan, asr),
        "ssa_ci_low": np.where(undefined, np.nan, ci_low),
        "ssa_ci_high": np.where(undefined, np.nan, ci_high),
        "ssa_p": p_value,
    })


def observed_expected(observed: np.ndarray, expected: np.ndarray, level: float = Z_LEVEL) -> pd.DataFrame:
    """O/E, the BCPNN information component with its credibility interval, Poisson p-value."""
    o = np.asarray(observed, dtype=float)
    e = np.asarray(expected, dtype=float)
    alpha = 1.0 - level
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(e > 0, o / e, np.nan)
    shape, rate = o + 0.5, e + 0.5
    return pd.DataFrame({
        "oe_ratio": ratio,
        "oe_ic": np.log2(shape / rate),
        "oe_ic025": np.log2(stats.gamma.ppf(alpha / 2, shape, scale=1.0 / rate)),
        "oe_ic975": np.log2(stats.gamma.ppf(1 - alpha / 2, shape, scale=1.0 / rate)),
        "oe_p": np.where(e > 0, stats.poisson.sf(o - 1, e), np.nan),
    })


def empirical_null(log_ratio: np.ndarray, se: np.ndarray, iterations: int = 50) -> tuple[float, float]:
    """Centre and spread (mu, tau) of log estimates ~ N(mu, tau^2 + se^2), fitted robustly so
    that the real effects among them pull the null little: mu is a Huber-weighted mean of the
    standardized residuals, tau the value that makes the median |residual| / sqrt(tau^2 + se^2)
    equal to that of a standard normal (0.674); the two are iterated."""
    x = np.asarray(log_ratio, dtype=float)
    s2 = np.asarray(se, dtype=float) ** 2
    if len(x) < 3:
        return 0.0, 0.0
    half_normal_median = stats.norm.ppf(0.75)

    def spread(mu: float) -> float:
        resid = np.abs(x - mu)
        if np.median(resid / np.sqrt(s2)) <= half_normal_median:
            return 0.0
        lo, hi = 0.0, float(resid.max()) / half_normal_median  # at hi the median is below
        for _ in range(60):  # bisection: the median falls as tau grows
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if np.median(resid / np.sqrt(mid ** 2 + s2)) > half_normal_median else (lo, mid)
        return (lo + hi) / 2

    mu = float(np.median(x))
    tau = spread(mu)
    for _ in range(iterations):
        total = tau ** 2 + s2
        z = (x - mu) / np.sqrt(total)
        w = np.minimum(1.0, 1.5 / np.maximum(np.abs(z), 1e-12)) / total
        mu_new = float(np.sum(w * x) / np.sum(w))
        tau_new = spread(mu_new)
        if abs(mu_new - mu) < 1e-9 and abs(tau_new - tau) < 1e-9:
            break
        mu, tau = mu_new, tau_new
    return mu, tau


def calibrated_oe_p(observed: np.ndarray, expected: np.ndarray, groups: pd.Series,
                    min_expected: float = 10.0) -> np.ndarray:
    """One-sided calibrated p-value of each pair's log O/E against the empirical null of its
    group (same outcome and levels); NaN where E is 0. Pairs with E >= min_expected fit the
    null: a pair is scanned only when some method counted enough events, so among pairs with
    a small E those with O above E are over-represented, and the log of small counts is biased;
    both would push the null up."""
    o = np.asarray(observed, dtype=float)
    e = np.asarray(expected, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.log((o + 0.5) / (e + 0.5))
        se = 1.0 / np.sqrt(o + 0.5)
    p = np.full(len(o), np.nan)
    keys = pd.Series(pd.factorize(groups)[0])
    for idx in keys.groupby(keys).groups.values():
        idx = np.asarray(idx)
        fit = idx[e[idx] >= min_expected]
        mu, tau = empirical_null(log_ratio[fit], se[fit]) if len(fit) else (0.0, 0.0)
        z = (log_ratio[idx] - mu) / np.sqrt(tau ** 2 + se[idx] ** 2)
        p[idx] = np.where(e[idx] > 0, stats.norm.sf(z), np.nan)
    return p


def combined_p(p_values: pd.DataFrame) -> np.ndarray:
    """Bonferroni min-p over the non-missing p-values of each row (1 when all are missing)."""
    p = p_values.to_numpy(dtype=float)
    k = np.sum(~np.isnan(p), axis=1)
    best = np.min(np.where(np.isnan(p), 1.0, p), axis=1)
    return np.minimum(1.0, np.maximum(k, 1) * best)


def bh_q_values(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values (step-up adjusted p-values) in the input order."""
    p = np.asarray(p, dtype=float)
    m = len(p)
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    ranked = p[order] * m / np.arange(1, m + 1)
    q_sorted = np.minimum.accumulate(ranked[::-1])[::-1]
    q = np.empty(m)
    q[order] = np.minimum(q_sorted, 1.0)
    return q
