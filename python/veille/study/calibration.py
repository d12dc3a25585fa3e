"""Empirical calibration on negative controls (Schuemie et al., Stat Med 2014; PNAS 2018).

A negative control is an outcome the exposure does not cause: its true hazard ratio is 1, so
the spread of its estimates around 1 beyond their own sampling error is the design's systematic
error (residual confounding, misclassification, selection). Per comparison x analysis x term,
the estimable negative controls' log estimates b_i with standard errors s_i fit the empirical
null

    b_i ~ Normal(mu, sigma^2 + s_i^2)

by maximum likelihood (scipy.optimize, sigma on the log scale so that it stays positive).
An estimate (b, s) then gets

* a calibrated p-value: 2 Phi(-|b - mu| / sqrt(sigma^2 + s^2)) (Schuemie 2014);
* a calibrated 95% interval: exp(b - mu -+ 1.96 sqrt(sigma^2 + s^2)) (Schuemie 2018, with the
  systematic error taken as the same whatever the true effect: this project has negative
  controls only, no positive controls to fit how the error grows with the effect size).

With fewer than :data:`MIN_CONTROLS` estimable negative controls the null is not fitted, and
the reason is stored and shown: nothing is calibrated silently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

from veille.study.cox import Z95

MIN_CONTROLS = 5


@dataclass(frozen=True)
class Null:
    """The fitted systematic-error distribution of one comparison x analysis x term."""

    mu: float | None
    sigma: float | None
    n_controls: int
    message: str | None = None

    @property
    def fitted(self) -> bool:
        return self.mu is not None


def fit_null(log_estimates: np.ndarray, se: np.ndarray, min_controls: int = MIN_CONTROLS) -> Null:
    """Maximum-likelihood empirical null from the negative controls' log estimates and SEs."""
    b, s = np.asarray(log_estimates, float), np.asarray(se, float)
    ok = np.isfinite(b) & np.isfinite(s) & (s > 0)
    b, s = b[ok], s[ok]
    if len(b) < min_controls:
        return Null(None, None, len(b), f"{len(b)} estimable negative controls, at least {min_controls} needed: "
                                        "not calibrated")

    def nll(theta: np.ndarray) -> float:
        mu, log_sigma = theta
        return -float(stats.norm.logpdf(b, mu, np.sqrt(math.exp(2 * log_sigma) + s**2)).sum())

    start = np.array([float(np.mean(b)), math.log(max(float(np.std(b)), 0.01))])
    res = optimize.minimize(nll, start, method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 4000})
    mu, log_sigma = res.x
    sigma = math.exp(log_sigma)
    return Null(float(mu), float(sigma if sigma > 1e-6 else 0.0), len(b))


def calibrate(log_hr: float, se: float, null: Null) -> tuple[float, float, float]:
    """(calibrated p, calibrated CI low, calibrated CI high) of one estimate under ``null``."""
    sd = math.sqrt(null.sigma**2 + se**2)
    shifted = log_hr - null.mu
    p = float(2 * stats.norm.sf(abs(shifted) / sd))
    return p, math.exp(shifted - Z95 * sd), math.exp(shifted + Z95 * sd)


def calibrate_estimates(estimates: list[dict], min_controls: int = MIN_CONTROLS) -> dict[tuple, Null]:
    """Add ``calibrated_p``, ``calibrated_ci_low``, ``calibrated_ci_high`` (None when not
    calibrated) to each estimate dict, grouped by cohort_id x analysis x term; return the nulls."""
    groups: dict[tuple, list[dict]] = {}
    for e in estimates:
        groups.setdefault((e["cohort_id"], e["analysis"], e["term"]), []).append(e)
    nulls = {}
    for key, rows in groups.items():
        controls = [e for e in rows if e["is_negative_control"] and e["status"] == "ok" and e.get("se_log_hr")]
        null = fit_null(np.log([e["hr"] for e in controls]), np.array([e["se_log_hr"] for e in controls]),
                        min_controls)
        nulls[key] = null
        for e in rows:
            e["calibrated_p"] = e["calibrated_ci_low"] = e["calibrated_ci_high"] = None
            if null.fitted and e["status"] == "ok" and e.get("se_log_hr"):
                e["calibrated_p"], e["calibrated_ci_low"], e["calibrated_ci_high"] = calibrate(
                    math.log(e["hr"]), e["se_log_hr"], null)
    return nulls
