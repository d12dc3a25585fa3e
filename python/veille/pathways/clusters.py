"""Trajectory clusters of the warehouse: sequences from fct_pathways_state_sequences, their
monthly event counts, the clustering (the latent-class mixture by default, CLARA on request),
and a description of each cluster (size, states over time, who is in it)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from veille.marts import Marts
from veille.pathways.clustering import Clara, distances
from veille.pathways.mixture import PoissonMixture
from veille.pathways.sequences import OUT, TREATMENT_LABELS, encode, parts, substitution_costs

METHODS = ("mixture", "clara")


@dataclass
class Trajectories:
    patient_id: np.ndarray
    codes: np.ndarray  # (n, months) int8
    people: pd.DataFrame  # patient_id, age, sex
    contacts: pd.DataFrame  # (n, items) monitoring contact days over the observed months
    refills: pd.DataFrame  # (n, 2) refill_intervals, late_refills over the observed months


def load(marts: Marts, min_months: int = 12) -> Trajectories:
    """Sequences of patients observed at least ``min_months`` months after their index, with
    their monitoring contact days per item (agg_pathways_patient_contacts) and their refill
    intervals, late or not (agg_pathways_patient_refills)."""
    seq = marts.read("pathways.fct_pathways_state_sequences",
                     columns=["patient_id", "states", "age", "sex", "months_observed"])
    seq = seq[seq["months_observed"] >= min_months].sort_values("patient_id", ignore_index=True)
    contacts = marts.read("pathways.agg_pathways_patient_contacts")
    contacts = contacts[contacts["patient_id"].isin(seq["patient_id"])]
    wide = (contacts.pivot(index="patient_id", columns="item", values="contact_days")
            .reindex(seq["patient_id"]).fillna(0).astype(int))
    wide = wide[sorted(wide.columns)]
    refills = (marts.read("pathways.agg_pathways_patient_refills",
                          columns=["patient_id", "refill_intervals", "late_refills"])
               .set_index("patient_id").reindex(seq["patient_id"]).fillna(0).astype(int))
    codes = encode(seq["states"].tolist())
    return Trajectories(seq["patient_id"].to_numpy(np.int64), codes,
                        seq[["patient_id", "age", "sex"]], wide.reset_index(drop=True),
                        refills.reset_index(drop=True))


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


def refill_channel(traj: Trajectories) -> tuple[pd.DataFrame, np.ndarray]:
    """The Binomial channel of the mixture model: late refills out of refill intervals."""
    return traj.refills[["late_refills"]], traj.refills[["refill_intervals"]].to_numpy()


@dataclass
class Clustering:
    k: int
    labels: np.ndarray  # cluster of every patient, 0 = largest
    representatives: np.ndarray  # (k, months) codes: the medoids, or each cluster's most typical member
    distance: np.ndarray | None  # distance to the medoid (clara)
    probability: np.ndarray | None  # posterior probability of the cluster (mixture)
    choice: pd.DataFrame  # one row per candidate k
    rates: pd.DataFrame | None  # (k, channels) events per observed month (mixture)
    probabilities: pd.DataFrame | None = None  # (k, binomial channels): late-refill share (mixture)
    central: list[np.ndarray] = field(default_factory=list)  # per cluster, its most central sequences


def central_sequences(codes: np.ndarray, labels: np.ndarray, k: int, n: int = 3,
                      sample_size: int = 500, seed: int = 0,
                      min_observed: float = 0.75) -> list[np.ndarray]:
    """Per cluster, its ``n`` most central sequences: among the members of a random sample of
    at most ``sample_size`` of them, those with the smallest summed distance (generalized
    Hamming, ``clustering.distances``) to the whole sample. The first is the cluster's medoid
    (of the sample): the typical trajectory a clinician can name the cluster by. Candidates are
    the members observed at least ``min_observed`` of the months, as for CLARA's medoids: a
    short sequence is close to everything over its few months (all members when none is)."""
    rng = np.random.default_rng(seed)
    cost = substitution_costs()
    observed = (codes != OUT).sum(axis=1)
    out = []
    for c in range(k):
        members = np.flatnonzero(labels == c)
        if len(members) == 0:
            out.append(codes[:0])
            continue
        if len(members) > sample_size:
            members = np.sort(rng.choice(members, size=sample_size, replace=False))
        long = observed[members] >= min_observed * codes.shape[1]
        candidates = members[long] if long.any() else members
        total = distances(codes[candidates], codes[members], cost).sum(axis=1, dtype=np.float64)
        out.append(codes[candidates[np.argsort(total, kind="stable")[:n]]])
    return out


def cluster(traj: Trajectories, method: str = "mixture", k: int | None = None,
            sample_size: int = 2000, n_samples: int = 5, seed: int = 0) -> Clustering:
    if method == "clara":
        model = Clara(k=k, sample_size=sample_size, n_samples=n_samples, seed=seed).fit(traj.codes)
        r = model.result_
        assert r is not None
        # CLARA's own medoid first, then the most central others
        central = [np.vstack([m, *[x for x in c if not np.array_equal(x, m)][:2]])
                   for m, c in zip(r.medoids, central_sequences(traj.codes, r.labels, r.k, seed=seed),
                                   strict=True)]
        return Clustering(r.k, r.labels, r.medoids, r.distance, None, model.summary, None,
                          central=central)
    if method != "mixture":
        raise ValueError(f"clustering method must be one of {', '.join(METHODS)}, got {method}")
    counts, exposure = event_counts(traj)
    late, intervals = refill_channel(traj)
    mix = PoissonMixture(k=k, sample_size=sample_size, seed=seed).fit(counts, exposure, late, intervals)
    r = mix.result_
    assert r is not None
    central = central_sequences(traj.codes, r.labels, r.k, seed=seed)
    return Clustering(r.k, r.labels, np.array([c[0] for c in central]), None, r.probability,
                      mix.summary, mix.rates, mix.probabilities, central)


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
            "medoid": _letters(clustering.representatives[c]),
            "central": [_letters(x) for x in clustering.central[c]] if clustering.central else [],
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
        if clustering.probabilities is not None:
            desc["share"] = {ch: float(v) for ch, v in clustering.probabilities.iloc[c].items()}
        out.append(desc)
    return out


def _letters(codes: np.ndarray) -> str:
    return "".join("." if x == OUT else chr(65 + int(x)) for x in codes)
