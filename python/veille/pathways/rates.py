"""Rates and their intervals: directly standardized rates, binomial proportions, funnel limits."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

# European Standard Population 2013, 5-year bands 0-4 ... 85-89 and 90+ (Eurostat).
ESP2013 = {
    "0-4": 5000, "5-9": 5500, "10-14": 5500, "15-19": 5500, "20-24": 6000, "25-29": 6000,
    "30-34": 6500, "35-39": 7000, "40-44": 7000, "45-49": 7000, "50-54": 7000, "55-59": 6500,
    "60-64": 6000, "65-69": 5500, "70-74": 5000, "75-79": 4000, "80-84": 2500, "85-89": 1500,
    "90+": 1000,
}


def standardized_rate(strata: pd.DataFrame, reference: dict[str, float], alpha: float = 0.05,
                      ) -> tuple[float, float, float, float, float, float]:
    """Directly standardized rate of ``strata`` (columns age_band, events, person_years).

    Returns (events, person_years, crude rate, standardized rate, CI low, CI high) with the
    Fay-Feuer gamma interval; bands absent from ``strata`` count as zero events over zero time
    and are left out of the weights (the rate is standardized over the bands observed)."""
    s = strata[strata["person_years"] > 0]
    events = float(s["events"].sum())
    py = float(s["person_years"].sum())
    crude = events / py if py > 0 else float("nan")
    w = s["age_band"].map(reference).fillna(0.0).to_numpy(float)
    if w.sum() == 0:
        return events, py, crude, float("nan"), float("nan"), float("nan")
    w = w / w.sum()
    ev = s["events"].to_numpy(float)
    t = s["person_years"].to_numpy(float)
    dsr = float(np.sum(w * ev / t))
    var = float(np.sum((w / t) ** 2 * ev))
    wm = float(np.max(w / t))
    if dsr == 0:
        low = 0.0
        high = float(stats.gamma.ppf(1 - alpha / 2, 1.0, scale=wm))
    else:
        low = float(stats.gamma.ppf(alpha / 2, dsr**2 / var, scale=var / dsr))
        high = float(stats.gamma.ppf(1 - alpha / 2, (dsr + wm) ** 2 / (var + wm**2),
                                     scale=(var + wm**2) / (dsr + wm)))
    return events, py, crude, dsr, low, high


def wilson_interval(successes: np.ndarray, trials: np.ndarray, alpha: float = 0.05,
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of binomial proportions (vectorized)."""
    x = np.asarray(successes, float)
    n = np.asarray(trials, float)
    z = stats.norm.ppf(1 - alpha / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = x / n
        centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return centre - half, centre + half


def funnel_limits(p0: float, n: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Binomial control limits around the national proportion ``p0`` for denominators ``n``
    (Spiegelhalter's exact binomial limits with interpolation)."""
    n = np.asarray(n, float)
    a = (1 - level) / 2
    out = []
    for q in (a, 1 - a):
        r = stats.binom.ppf(q, n, p0)
        cdf = stats.binom.cdf(r, n, p0)
        cdf_prev = stats.binom.cdf(r - 1, n, p0)
        with np.errstate(invalid="ignore", divide="ignore"):
            alpha_frac = np.where(cdf > cdf_prev, (cdf - q) / (cdf - cdf_prev), 0.0)
        out.append((r - alpha_frac) / n)
    return out[0], out[1]


def funnel_position(rate: np.ndarray, n: np.ndarray, p0: float) -> np.ndarray:
    """'inside', 'below_95', 'above_95', 'below_998' or 'above_998' per unit."""
    lo95, hi95 = funnel_limits(p0, n, 0.95)
    lo998, hi998 = funnel_limits(p0, n, 0.998)
    rate = np.asarray(rate, float)
    return np.select(
        [rate < lo998, rate > hi998, rate < lo95, rate > hi95],
        ["below_998", "above_998", "below_95", "above_95"],
        "inside",
    )
