"""Trajectory clusters of the warehouse: sequences from fct_pathways_state_sequences, their
monthly event counts, the clustering (the latent-class mixture by default, CLARA on request),
and a description of each cluster (size, states over time, who is in it)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from veille.marts import Marts
from veille.pathways.clustering import Clara
from veille.pathways.mixture import PoissonMixture
from veille.pathways.sequences import OUT, TREATMENT_LABELS, encode, parts

METHODS = ("mixture", "clara")


@dataclass
class Trajectories:
    patient_id: np.ndarray
    codes: np.ndarray  # (n, months) int8
    people: pd.DataFrame  # patient_id, age, sex
    contacts: pd.DataFrame  # (n, items) monitoring contact days over the observed months


def load(marts: Marts, min_months: int = 12) -> Trajectories:
    """Sequences of patients observed at least ``min_months`` months after their index, with
    their monitoring contact days per item (agg_pathways_patient_contacts)."""
    seq = marts.read("pathways.fct_pathways_state_sequences",
                     columns=["patient_id", "states", "age", "sex", "months_observed"])
    seq = seq[seq["months_observed"] >= min_months].sort_values("patient_id", ignore_index=True)
    contacts = marts.read("pathways.agg_pathways_patient_contacts")
    contacts = contacts[contacts["patient_id"].isin(seq["patient_id"])]
    wide = (contacts.pivot(index="patient_id", columns="item", values="contact_days")
            .reindex(seq["patient_id"]).fillna(0).astype(int))
    wide = wide[sorted(wide.columns)]
    codes = encode(seq["states"].tolist())
    return Trajectories(seq["patient_id"].to_numpy(np.int64), codes,
                        seq[["patient_id", "age", "sex"]], wide.reset_index(drop=True))


def event_counts(traj: Trajectories) -> tuple[pd.DataFrame, np.ndarray]:
    """The channels of the mixture model and the exposure (observed months) of each patient:
    monitoring contact days per item, treatment interruptions (a treated month followed by an
    observed untreated one) and hospital admissions (a hospitalised month not preceded by one;
    a stay that spans an unobserved month counts twice, a rare case)."""
    codes = traj.codes
    obs = codes != OUT
    t, _, h = parts(codes)
    treated = (t > 0) & obs
    hosp = (h == 1) & obs
    both = obs[:, 1:] & obs[:, :-1]
    stops = (treated[:, :-1] & ~treated[:, 1:] & both).sum(axis=1)
    admissions = hosp[:, 0].astype(int) + (hosp[:, 1:] & ~hosp[:, :-1]).sum(axis=1)
    counts = traj.contacts.copy()
    counts["treatment_stops"] = stops
    counts["hospital_admissions"] = admissions
    return counts, obs.sum(axis=1)


@dataclass
class Clustering:
    k: int
    labels: np.ndarray  # cluster of every patient, 0 = largest
    representatives: np.ndarray  # (k, months) codes: the medoids, or each cluster's most typical member
    distance: np.ndarray | None  # distance to the medoid (clara)
    probability: np.ndarray | None  # posterior probability of the cluster (mixture)
    choice: pd.DataFrame  # one row per candidate k
    rates: pd.DataFrame | None  # (k, channels) events per observed month (mixture)


def cluster(traj: Trajectories, method: str = "mixture", k: int | None = None,
            sample_size: int = 2000, n_samples: int = 5, seed: int = 0) -> Clustering:
    if method == "clara":
        model = Clara(k=k, sample_size=sample_size, n_samples=n_samples, seed=seed).fit(traj.codes)
        r = model.result_
        assert r is not None
        return Clustering(r.k, r.labels, r.medoids, r.distance, None, model.summary, None)
    if method != "mixture":
        raise ValueError(f"clustering method must be one of {', '.join(METHODS)}, got {method}")
    counts, exposure = event_counts(traj)
    mix = PoissonMixture(k=k, sample_size=sample_size, seed=seed).fit(counts, exposure)
    r = mix.result_
    assert r is not None
    reps = []
    for c in range(r.k):
        members = np.flatnonzero(r.labels == c)
        # the most certain member, the longest observed among equals
        best = members[np.lexsort((-exposure[members], -r.probability[members]))[0]]
        reps.append(traj.codes[best])
    return Clustering(r.k, r.labels, np.array(reps), None, r.probability,
                      mix.summary, mix.rates)


def describe(traj: Trajectories, clustering: Clustering) -> list[dict]:
    """Per cluster: size, representative sequence, shares of months by treatment level, with
    regular or complete monitoring, with complete monitoring, hospitalised, mean age, share of
    women, and (mixture) the yearly rate of each channel."""
    out = []
    obs = traj.codes != OUT
    t, m, h = parts(traj.codes)
    labels = clustering.labels
    for c in range(clustering.k):
        sel = labels == c
        o = obs[sel]
        n_obs = max(int(o.sum()), 1)
        desc = {
            "cluster": c,
            "size": int(sel.sum()),
            "medoid": "".join("." if x == OUT else chr(65 + int(x))
                              for x in clustering.representatives[c]),
            "treatment_share": {
                TREATMENT_LABELS[lv]: float(((t[sel] == lv) & o).sum() / n_obs) for lv in range(4)
            },
            "monitored_share": float(((m[sel] >= 1) & o).sum() / n_obs),
            "complete_monitoring_share": float(((m[sel] == 2) & o).sum() / n_obs),
            "hospitalised_share": float(((h[sel] == 1) & o).sum() / n_obs),
            "mean_age": float(traj.people.loc[sel, "age"].mean()),
            "female_share": float((traj.people.loc[sel, "sex"] == 2).mean()),
        }
        if clustering.rates is not None:
            desc["per_year"] = {ch: float(v) * 12 for ch, v in clustering.rates.iloc[c].items()}
        out.append(desc)
    return out
