"""Trajectory clustering CLARA-style: k-medoids on a sample's full distance matrix, k chosen by
the elbow of the total distance (silhouettes reported), then every patient assigned to the
nearest medoid; the best of several samples (lowest total distance over everyone) is kept.

Distances are generalized Hamming distances between monthly state sequences: the sum over
months of a substitution cost between the two states (``sequences.substitution_costs``). With a
one-hot encoding X (n x months x states), D = (X C) . X^T: two matrix products, no Python loop
over pairs, so a 2,000-patient sample matrix takes a fraction of a second and assigning 100,000
patients to k medoids is linear in n.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.metrics import silhouette_score

from veille.pathways.sequences import N_STATES, OUT, substitution_costs


def one_hot(codes: np.ndarray) -> np.ndarray:
    n, months = codes.shape
    x = np.zeros((n, months, N_STATES), np.float32)
    x[np.arange(n)[:, None], np.arange(months)[None, :], codes] = 1.0
    return x


def distances(a: np.ndarray, b: np.ndarray, cost: np.ndarray, chunk: int = 20000) -> np.ndarray:
    """Distances between the rows of code matrices ``a`` and ``b``: the sum of the month costs
    over the months both are observed, rescaled to the full length (x months / common months);
    pairs with no common month get the largest possible distance."""
    months = a.shape[1]
    xb = one_hot(b).reshape(len(b), -1)
    ob = (b != OUT).astype(np.float32)
    c = cost.astype(np.float32)
    worst = float(cost.max()) * months
    out = np.empty((len(a), len(b)), np.float32)
    for i in range(0, len(a), chunk):
        part = a[i:i + chunk]
        xa = one_hot(part) @ c  # (m, months, states): cost of each state vs a's
        total = xa.reshape(len(xa), -1) @ xb.T
        common = (part != OUT).astype(np.float32) @ ob.T
        with np.errstate(divide="ignore", invalid="ignore"):
            out[i:i + chunk] = np.where(common > 0, total * months / np.maximum(common, 1), worst)
    return out


def _build(d: np.ndarray, k: int) -> np.ndarray:
    """PAM's greedy BUILD: the most central point, then each time the point that lowers the
    total distance to the nearest medoid the most."""
    medoids = [int(np.argmin(d.sum(axis=1)))]
    nearest = d[medoids[0]].astype(np.float64)
    for _ in range(1, k):
        gain = np.maximum(nearest[:, None] - d, 0).sum(axis=0)
        gain[medoids] = -1
        nxt = int(np.argmax(gain))
        medoids.append(nxt)
        nearest = np.minimum(nearest, d[nxt])
    return np.array(medoids)


def _plusplus(d: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    n = len(d)
    medoids = [int(rng.integers(n))]
    nearest = d[medoids[0]].astype(np.float64)
    for _ in range(1, k):
        p = nearest**2
        nxt = int(rng.choice(n, p=p / p.sum())) if p.sum() > 0 else int(rng.integers(n))
        medoids.append(nxt)
        nearest = np.minimum(nearest, d[nxt])
    return np.array(medoids)


def _alternate(d: np.ndarray, med: np.ndarray, max_iter: int) -> np.ndarray:
    k = len(med)
    for _ in range(max_iter):
        labels = np.argmin(d[:, med], axis=1)
        new = med.copy()
        for j in range(k):
            members = np.flatnonzero(labels == j)
            if len(members):
                new[j] = members[np.argmin(d[np.ix_(members, members)].sum(axis=1))]
        if np.array_equal(new, med):
            break
        med = new
    return med


def kmedoids(d: np.ndarray, k: int, rng: np.random.Generator, n_init: int = 4,
             max_iter: int = 100) -> tuple[np.ndarray, np.ndarray, float]:
    """k-medoids on a full distance matrix: PAM BUILD seeding and ``n_init - 1`` k-medoids++
    seedings, each refined by alternating assignment and medoid update until stable; the start
    with the lowest total distance wins. Returns (medoids, labels, total distance)."""
    n = len(d)
    best: tuple[np.ndarray, np.ndarray, float] | None = None
    for start in range(n_init):
        med = _build(d, k) if start == 0 else _plusplus(d, k, rng)
        med = _alternate(d, med, max_iter)
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
    costs: dict[int, float] = field(default_factory=dict)  # sample total distance per k


def size_order(labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Clusters numbered by decreasing size, for stable reports: (old number of each new
    cluster, new number of each old cluster)."""
    order = np.argsort(-np.bincount(labels, minlength=k), kind="stable")
    rank = np.empty(k, int)
    rank[order] = np.arange(k)
    return order, rank


def elbow(costs: dict[int, float], min_gain: float) -> int:
    """The smallest k after which one more cluster lowers the total distance to the medoids
    by less than ``min_gain`` (a share); the largest k tried when every step gains more."""
    ks = sorted(costs)
    for k, nxt in itertools.pairwise(ks):
        if costs[k] <= 0 or (costs[k] - costs[nxt]) / costs[k] < min_gain:
            return k
    return ks[-1]


class Clara:
    """CLARA in the lifelines idiom: ``Clara(...).fit(codes)``, then ``result_`` and ``summary``.

    k (when not given) is chosen on the first sample by the elbow of the total distance to the
    medoids: the smallest k after which one more cluster gains less than ``min_gain`` (5 %).
    The average silhouette width of each k is reported alongside (it favours small k when
    clusters nest, e.g. two monitoring levels inside one treatment pattern). Samples (and so
    medoids) are drawn among the sequences observed at least ``min_observed`` of their months;
    everyone is assigned."""

    def __init__(self, k: int | None = None, k_range: tuple[int, int] = (2, 8),
                 sample_size: int = 2000, n_samples: int = 5, seed: int = 0,
                 cost: np.ndarray | None = None, min_gain: float = 0.05,
                 min_observed: float = 0.75) -> None:
        self.k = k
        self.min_observed = min_observed
        self.min_gain = min_gain
        self.k_range = k_range
        self.sample_size = sample_size
        self.n_samples = n_samples
        self.seed = seed
        self.cost = substitution_costs() if cost is None else cost
        self.result_: ClaraResult | None = None

    def _sample(self, rng: np.random.Generator, pool: np.ndarray) -> np.ndarray:
        return np.sort(rng.choice(pool, size=min(self.sample_size, len(pool)), replace=False))

    def fit(self, codes: np.ndarray) -> Clara:
        n = len(codes)
        if n < 3:
            raise ValueError("clustering needs at least 3 sequences")
        rng = np.random.default_rng(self.seed)
        # medoids are searched among well-observed sequences: a short sequence is close to
        # everything over its few months and would make a poor representative
        observed = (codes != OUT).sum(axis=1)
        pool = np.flatnonzero(observed >= self.min_observed * codes.shape[1])
        if len(pool) < 3:
            pool = np.arange(n)
        sample = self._sample(rng, pool)
        d = distances(codes[sample], codes[sample], self.cost)
        silhouettes: dict[int, float] = {}
        costs: dict[int, float] = {}
        if self.k is None:
            lo, hi = self.k_range
            for k in range(lo, min(hi, len(sample) - 1) + 1):
                _, labels, cost = kmedoids(d, k, rng)
                costs[k] = cost
                silhouettes[k] = (float(silhouette_score(d, labels, metric="precomputed"))
                                  if len(np.unique(labels)) > 1 else float("nan"))
            k = elbow(costs, self.min_gain)
        else:
            k = self.k
        best: tuple[float, np.ndarray] | None = None
        for s in range(self.n_samples):
            if s > 0:
                sample = self._sample(rng, pool)
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
        order, rank = size_order(labels, k)
        self.result_ = ClaraResult(
            k=k,
            medoids=codes[medoid_rows[order]],
            medoid_index=medoid_rows[order],
            labels=rank[labels],
            distance=dm[np.arange(n), labels],
            silhouettes=silhouettes,
            costs=costs,
        )
        return self

    @property
    def summary(self) -> pd.DataFrame:
        """One row per candidate k: the sample's total distance to the medoids, the average
        silhouette width, whether it was chosen."""
        r = self._fitted()
        return pd.DataFrame(
            [{"k": k, "total_distance": r.costs[k], "silhouette": r.silhouettes[k],
              "chosen": k == r.k} for k in sorted(r.costs)],
            columns=["k", "total_distance", "silhouette", "chosen"],
        )

    def _fitted(self) -> ClaraResult:
        if self.result_ is None:
            raise ValueError("call fit() first")
        return self.result_
