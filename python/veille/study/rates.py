"""Incidence rates per 1,000 person-years with exact (Poisson, Garwood) confidence intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

DAYS_PER_YEAR = 365.25


def poisson_ci(events: int, alpha: float = 0.05) -> tuple[float, float]:
    """Exact CI for a Poisson count (chi-square form of the Garwood interval)."""
    low = 0.0 if events == 0 else stats.chi2.ppf(alpha / 2, 2 * events) / 2
    high = stats.chi2.ppf(1 - alpha / 2, 2 * events + 2) / 2
    return float(low), float(high)


def incidence_rates(df: pd.DataFrame) -> pd.DataFrame:
    """One row per group (exposed 1, 0): subjects, events, person-years, rate and CI per 1,000 PY."""
    rows = []
    for g in (1, 0):
        sub = df[df["exposed"] == g]
        events = int(sub["event"].sum())
        py = float(sub["time_days"].sum()) / DAYS_PER_YEAR
        low, high = poisson_ci(events)
        scale = 1000 / py if py > 0 else np.nan
        rows.append(
            {
                "exposed": g,
                "subjects": len(sub),
                "events": events,
                "person_years": py,
                "rate_per_1000": events * scale if py > 0 else None,
                "ci_low": low * scale if py > 0 else None,
                "ci_high": high * scale if py > 0 else None,
            }
        )
    return pd.DataFrame(rows)
