"""Simulated survival rows shaped like `marts.fct_study_survival`, with a known hazard ratio.

Used by the tests (recovery of a known effect) and by `veille bench study` (1 M subjects).
Age and prior hospital stays raise both the chance of exposure and the hazard (confounding),
so the crude HR is biased and the adjusted ones are not.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def simulate_survival(n: int, hr: float, seed: int = 0, confounding: float = 0.6, base_rate: float = 0.02) -> pd.DataFrame:
    """``n`` subjects, exposure effect ``hr``; exponential event times, uniform censoring."""
    rng = np.random.default_rng(seed)
    age = rng.integers(40, 90, n)
    sex = rng.integers(1, 3, n)
    stays = rng.poisson(0.5, n)
    drugs = rng.poisson(4, n)
    ald = rng.binomial(1, 0.3, n)
    year = rng.integers(2015, 2020, n)
    z_age = (age - 65) / 10
    logit = -0.3 + confounding * z_age + 0.4 * stays - 0.2 * (sex == 2)
    exposed = rng.binomial(1, 1 / (1 + np.exp(-logit)))
    lin = np.log(hr) * exposed + confounding * z_age + 0.3 * stays + 0.2 * ald
    rate = base_rate / 365.25 * np.exp(lin)
    t_event = rng.exponential(1 / rate)
    t_censor = rng.uniform(30, 5 * 365.25, n)
    time = np.minimum(t_event, t_censor)
    event = (t_event <= t_censor).astype(int)
    return pd.DataFrame(
        {
            "cohort_id": "sim",
            "outcome_id": "sim_outcome",
            "patient_id": np.arange(1, n + 1, dtype=np.int64),
            "exposed": exposed,
            "time_days": np.ceil(time).astype(int),
            "event": event,
            "age_at_index": age,
            "sex": sex,
            "ald_count": ald,
            "ald_diabetes": ald * rng.binomial(1, 0.5, n),
            "n_stays_prior_year": stays,
            "n_drugs_prior_year": drugs,
            "index_year": year,
        }
    )


def simulate_classes(df: pd.DataFrame, classes: tuple[str, ...], seed: int = 0) -> pd.DataFrame:
    """Long covariate-class rows (patient_id, atc_class, used) for ``df``'s subjects."""
    rng = np.random.default_rng(seed + 1)
    parts = []
    for i, cls in enumerate(classes):
        used = rng.binomial(1, 0.1 + 0.1 * i, len(df))
        parts.append(pd.DataFrame({"patient_id": df["patient_id"], "atc_class": cls, "used": used}))
    out = pd.concat(parts, ignore_index=True)
    return out[out["used"] == 1].reset_index(drop=True)
