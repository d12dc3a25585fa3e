"""Trajectory clusters of the warehouse: sequences from fct_pathways_state_sequences, CLARA,
and a description of each cluster (size, states over time, who is in it)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa

from veille.pathways.clustering import Clara
from veille.pathways.sequences import OUT, TREATMENT_LABELS, encode, parts


@dataclass
class Trajectories:
    patient_id: np.ndarray
    codes: np.ndarray  # (n, months) int8
    people: pd.DataFrame  # patient_id, age, sex


def load(conn: sa.Connection, min_months: int = 12) -> Trajectories:
    """Sequences of patients observed at least ``min_months`` months after their index."""
    seq = pd.read_sql(
        sa.text(
            "select s.patient_id, s.states, extract(year from s.index_date)::int - p.birth_year as age, "
            "p.sex from pathways.fct_pathways_state_sequences s "
            "join claims.patient p using (patient_id) "
            "where s.months_observed >= :m order by s.patient_id"
        ),
        conn,
        params={"m": min_months},
    )
    codes = encode(seq["states"].tolist())
    return Trajectories(seq["patient_id"].to_numpy(np.int64), codes,
                        seq[["patient_id", "age", "sex"]])


def describe(traj: Trajectories, labels: np.ndarray, medoids: np.ndarray) -> list[dict]:
    """Per cluster: size, medoid sequence, shares of months by treatment level, with regular or
    complete monitoring, with complete monitoring, hospitalised, mean age, share of women."""
    out = []
    obs = traj.codes != OUT
    t, m, h = parts(traj.codes)
    for c in range(len(medoids)):
        sel = labels == c
        o = obs[sel]
        n_obs = max(int(o.sum()), 1)
        desc = {
            "cluster": c,
            "size": int(sel.sum()),
            "medoid": "".join("." if x == OUT else chr(65 + int(x)) for x in medoids[c]),
            "treatment_share": {
                TREATMENT_LABELS[lv]: float(((t[sel] == lv) & o).sum() / n_obs) for lv in range(4)
            },
            "monitored_share": float(((m[sel] >= 1) & o).sum() / n_obs),
            "complete_monitoring_share": float(((m[sel] == 2) & o).sum() / n_obs),
            "hospitalised_share": float(((h[sel] == 1) & o).sum() / n_obs),
            "mean_age": float(traj.people.loc[sel, "age"].mean()),
            "female_share": float((traj.people.loc[sel, "sex"] == 2).mean()),
        }
        out.append(desc)
    return out


def cluster(traj: Trajectories, k: int | None, sample_size: int, n_samples: int,
            seed: int) -> Clara:
    return Clara(k=k, sample_size=sample_size, n_samples=n_samples, seed=seed).fit(traj.codes)
