"""The fourth scan method: one convolutional self-controlled case series per outcome, every drug
at once (veille.study.convsccs), at each drug level.

For each ICD-10 3-character outcome, the cases (scan.scan_conv_cases) and their exposure starts
(scan.scan_conv_starts) make one model holding every drug of the level (ATC7, then ATC5) with at
least ``min_events`` events within its lag window; each drug gets a lag curve, and the scan keeps
per pair the curve's average relative incidence with its bootstrap interval and p-value.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from veille.scan.settings import ScanSettings
from veille.study.convsccs import build_design, fit_conv_sccs

LEVELS = ("atc7", "atc5")
PAIR_COLUMNS = ["conv_ri", "conv_ci_low", "conv_ci_high", "conv_peak_ri", "conv_peak_lag", "conv_events",
                "conv_p"]
LAG_COLUMNS = ["drug_level", "drug_code", "outcome_code", "lag", "lag_start_day", "ri", "ci_low", "ci_high"]


def conv_scan(cases: pd.DataFrame, starts: pd.DataFrame, settings: ScanSettings,
              progress: Callable[[str], None] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """-> (one row per drug_level x drug_code x icd3 outcome with PAIR_COLUMNS, the lag curves)."""
    pairs, curves = [], []
    outcomes = sorted(cases["outcome_code"].unique())
    starts_at = {level: starts[starts["drug_level"] == level] for level in LEVELS}
    for i, outcome in enumerate(outcomes, start=1):
        if progress:
            progress(f"ConvSCCS {i}/{len(outcomes)}: {outcome}")
        these = cases[cases["outcome_code"] == outcome]
        for level in LEVELS:
            design = build_design(these, starts_at[level], lags=settings.conv_lags,
                                  bucket_days=settings.conv_bucket_days, min_events=settings.min_events,
                                  on_treatment=settings.conv_on_treatment)
            if design is None:
                continue
            fit = fit_conv_sccs(design, strength_tv=settings.conv_strength_tv,
                                replicates=settings.conv_replicates, seed=settings.seed)
            summary = fit.summary().assign(drug_level=level, outcome_level="icd3", outcome_code=outcome)
            pairs.append(summary)
            curves.append(fit.lag_table().assign(drug_level=level, outcome_code=outcome))
    if not pairs:
        empty = pd.DataFrame(columns=["drug_level", "drug_code", "outcome_level", "outcome_code", *PAIR_COLUMNS])
        return empty, pd.DataFrame(columns=LAG_COLUMNS)
    out = pd.concat(pairs, ignore_index=True)
    out["conv_peak_lag"] = out["conv_peak_lag"].astype(int)
    lags = pd.concat(curves, ignore_index=True)[LAG_COLUMNS]
    return out, lags


def lag_curves_of(signals: pd.DataFrame, lags: pd.DataFrame) -> pd.DataFrame:
    """The lag curves of the scanned pairs only (a pair below min_events for every method is not
    in the signal table, whatever its curve)."""
    keys = signals.loc[signals["outcome_level"] == "icd3", ["drug_level", "drug_code", "outcome_code"]]
    return lags.merge(keys, on=["drug_level", "drug_code", "outcome_code"], how="inner")


def finite(frame: pd.DataFrame) -> pd.DataFrame:
    """Infinite bounds (a bootstrap replicate at the bound) stored as null."""
    return frame.replace([np.inf, -np.inf], np.nan)
