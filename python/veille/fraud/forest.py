"""Isolation-forest scores of the providers' monthly feature vectors (scikit-learn)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest

from veille.fraud.settings import SweepSettings
from veille.marts import Marts

FEATURES = [
    "n_lines", "n_patients", "lines_per_patient", "amount_per_patient", "controlled_line_share",
    "controlled_patient_share", "dead_patient_lines", "same_day_duplicates", "max_daily_lines",
    "max_daily_hours", "distant_patient_share", "shopper_patients",
]


def peer_standardized(features: pd.DataFrame) -> np.ndarray:
    """log1p features centred on the peer-group median and scaled by its MAD (1 when 0)."""
    x = np.log1p(features[FEATURES].astype(float).fillna(0.0).clip(lower=0))
    groups = features["peer_group"]
    med = x.groupby(groups).transform("median")
    mad = (x - med).abs().groupby(groups).transform("median") * 1.4826
    return ((x - med) / mad.where(mad > 0, 1.0)).to_numpy()


def forest_scores(marts: Marts, month: date, settings: SweepSettings) -> pd.DataFrame:
    """month, provider_id, peer_group, forest_score (higher = more anomalous), is_outlier."""
    features = (marts.read("fraud.fraud_provider_features", {"month": [month]})
                .sort_values("provider_id", ignore_index=True))
    cols = ["month", "provider_id", "peer_group", "forest_score", "is_outlier"]
    if len(features) < 10:
        return pd.DataFrame(columns=cols)
    forest = IsolationForest(n_estimators=100, random_state=settings.seed)
    x = peer_standardized(features)
    forest.fit(x)
    score = -forest.score_samples(x)
    cut = np.quantile(score, 1 - settings.forest_share)
    features["forest_score"] = score
    features["is_outlier"] = score >= cut
    return features[cols]
