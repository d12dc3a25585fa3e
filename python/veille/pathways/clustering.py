"""Trajectory clustering CLARA-style: k-medoids on a sample's full distance matrix, k chosen by
the average silhouette width, then every patient assigned to the nearest medoid.

Distances are generalized Hamming distances between monthly state sequences: the sum over
months of a substitution cost between the two states (``sequences.substitution_costs``). With a
one-hot encoding X (n x months x states), D = (X C) . X^T: two matrix products, no Python loop
over pairs, so a 2,000-patient sample matrix takes a fraction of a second and assigning 100,000
patients to k medoids is linear in n.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.metrics import silhouette_score

from veille.pathways.sequences import N_STATES, substitution_costs


def one_hot(codes: np.ndarray) -> np.ndarray:
    n, months = codes.shape
    x = np.zeros((n, months, N_STATES), np.float32)
    x[np.arange(n)[:, None], np.arange(months)[None, :], codes] = 1.0
    return x


def distances(a: np.ndarray, b: np.ndarray, cost: np.ndarray, chunk: int = 20000) -> np.ndarray:
    """Generalized Hamming distances between the rows of code matrices ``a`` and ``b``."""
    xb = one_hot(b).reshape(len(b), -1)
    c = cost.astype(np.float32)
    out = np.empty((len(a), len(b)), np.float32)
    for i in range(0, len(a), chunk):
        xa = one_hot(a[i:i + chunk]) @ c  # (m, months, states): cost of each state vs a's
        out[i:i + chunk] = xa.reshape(len(xa), -1) @ xb.T
    return out


def kmedoids(d: np.ndarray, k: int, rng: np.random.Generator, n_init: int = 4,
             max_iter: int = 100) -> tuple[np.ndarray, np.ndarray, float]:
    """k-medoids on a full distance matrix (k-medoids++ seeding, then alternating assignment
    and medoid update until stable); best of ``n_init`` starts. Returns (medoids, labels, cost)."""
    n = len(d)
    best: tuple[np.ndarray, np.ndarray, float] | None = None
    for _ in range(n_init):
        medoids = [int(rng.integers(n))]
        nearest = d[medoids[0]].astype(np.float64)
        for _ in range(1, k):
            p = nearest**2
            nxt = int(rng.choice(n, p=p / p.sum())) if p.sum() > 0 else int(rng.integers(n))
            medoids.append(nxt)
            nearest = np.minimum(nearest, d[nxt])
        med = np.array(medoids)
        for _ in range(max_iter):
            labels = np.argmin(d[:, med], axis=1)
            new = med.copy()
            for j in range(k):
                members = np.flatnonzero(labels == j)
                if len(members):
                    new[j] = members[np.argmin(d[np.ix_(members, members)].sum(axis=1))]
            if np.array_equal(np.sort(new), np.sort(med)):
                med = new
                break
            med = new
        labels = np.argmin(d[:, med], axis=1)
        cost = float(d[np.arange(n), med[labels]].sum())
        if best is None or cost < best[2]:
            best = (med, labels, cost)
    assert best is not None
    return best


@dataclass
class ClaraResult:
    k: int
    medoids: np.ndarray  # codes of the medoid sequences (k, months)
    medoid_index: np.ndarray  # row index of each medoid in the input
    labels: np.ndarray  # cluster of every input row
    distance: np.ndarray  # distance of every row to its medoid
    silhouettes: dict[int, float] = field(default_factory=dict)


class Clara:
    """CLARA with silhouette choice of k, in the lifelines idiom: ``Clara(...).fit(codes)``."""

    def __init__(self, k: int | None = None, k_range: tuple[int, int] = (2, 8),
                 sample_size: int = 2000, n_samples: int = 5, seed: int = 0,
                 cost: np.ndarray | None = None) -> None:
        self.k = k
        self.k_range = k_range
        self.sample_size = sample_size
        self.n_samples = n_samples
        self.seed = seed
        self.cost = substitution_costs() if cost is None else cost
        self.result_: ClaraResult | None = None

    def _sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.sort(rng.choice(n, size=min(self.sample_size, n), replace=False))

    def fit(self, codes: np.ndarray) -> Clara:
        n = len(codes)
        if n < 3:
            raise ValueError("clustering needs at least 3 sequences")
        rng = np.random.default_rng(self.seed)
        sample = self._sample(rng, n)
        d = distances(codes[sample], codes[sample], self.cost)
        silhouettes: dict[int, float] = {}
        if self.k is None:
            lo, hi = self.k_range
            for k in range(lo, min(hi, len(sample) - 1) + 1):
                _, labels, _ = kmedoids(d, k, rng)
                if len(np.unique(labels)) < 2:
                    continue
                silhouettes[k] = float(silhouette_score(d, labels, metric="precomputed"))
            k = max(silhouettes, key=lambda kk: (round(silhouettes[kk], 6), -kk))
        else:
            k = self.k
        best: tuple[float, np.ndarray] | None = None
        for s in range(self.n_samples):
            if s > 0:
                sample = self._sample(rng, n)
                d = distances(codes[sample], codes[sample], self.cost)
            med, _, _ = kmedoids(d, k, rng)
            medoid_rows = sample[med]
            total = float(distances(codes, codes[medoid_rows], self.cost).min(axis=1).sum())
            if best is None or total < best[0]:
                best = (total, medoid_rows)
        assert best is not None
        medoid_rows = best[1]
        dm = distances(codes, codes[medoid_rows], self.cost)
        labels = np.argmin(dm, axis=1)
        # clusters numbered by decreasing size, for stable reports
        order = np.argsort(-np.bincount(labels, minlength=k), kind="stable")
        rank = np.empty(k, int)
        rank[order] = np.arange(k)
        self.result_ = ClaraResult(
            k=k,
            medoids=codes[medoid_rows[order]],
            medoid_index=medoid_rows[order],
            labels=rank[labels],
            distance=dm[np.arange(n), labels],
            silhouettes=silhouettes,
        )
        return self

    @property
    def summary(self) -> pd.DataFrame:
        """One row per candidate k: its average silhouette width and whether it was chosen."""
        r = self._fitted()
        return pd.DataFrame(
            [{"k": k, "silhouette": s, "chosen": k == r.k} for k, s in sorted(r.silhouettes.items())],
            columns=["k", "silhouette", "chosen"],
        )

    def _fitted(self) -> ClaraResult:
        if self.result_ is None:
            raise ValueError("call fit() first")
        return self.result_
