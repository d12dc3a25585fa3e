"""Trajectory clustering by a latent-class model of the monthly sequences: a finite mixture of
Poisson processes, with optional Binomial channels.

Each patient is summarised by what happens in the observed months of their sequence: the
exposure ``n`` (observed months) and counts of events of a few channels (monitoring contact
days per item, treatment interruptions, hospital admissions). Given the class ``j``, a
channel's count is Poisson with mean ``n x rate[j, channel]``; a Binomial channel is a count of
successes out of a patient's own number of trials (late refills out of refill intervals) with
probability ``p[j, channel]``. Channels are independent given the class; the classes, their
monthly rates and their probabilities are fitted by EM (several random starts, the highest
likelihood wins; every M step is closed-form: rate = sum r x / sum r n, p = sum r x / sum r
trials). Unlike a distance on the month-by-month states, the fit does not care *when*
a treatment gap or a test falls, only how often it happens, which is what tells a
non-adherent patient (frequent interruptions) from an under-monitored one (rare tests).

k is chosen by the integrated completed likelihood, ICL = BIC + 2 x the entropy of the
memberships (Biernacki, Celeux & Govaert 2000): unlike BIC, it penalises classes that overlap,
so it does not split a class because its counts are a little over-dispersed. As in CLARA, k is
chosen on a sample (``sample_size`` patients), which keeps the criterion's behaviour the same
whatever the size of the base; the chosen k is then fitted on everyone (EM is linear in the
number of patients: no distance matrix).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import gammaln, logsumexp

from veille.pathways.clustering import size_order


@dataclass
class MixtureFit:
    weights: np.ndarray  # (k,)
    rates: np.ndarray  # (k, channels): events per observed month
    log_likelihood: float
    responsibilities: np.ndarray  # (n, k)
    probabilities: np.ndarray | None = None  # (k, binomial channels): success probability

    @property
    def k(self) -> int:
        return len(self.weights)

    def n_parameters(self) -> int:
        extra = 0 if self.probabilities is None else self.probabilities.size
        return self.k - 1 + self.rates.size + extra

    def bic(self, n: int) -> float:
        return -2 * self.log_likelihood + self.n_parameters() * float(np.log(n))

    def icl(self, n: int) -> float:
        r = self.responsibilities
        entropy = -float(np.sum(r * np.log(np.clip(r, 1e-300, None))))
        return self.bic(n) + 2 * entropy


@dataclass
class Binomial:
    """Binomial channels: ``successes`` out of ``trials`` per row (both (n, channels))."""
    successes: np.ndarray
    trials: np.ndarray

    def take(self, rows: np.ndarray) -> Binomial:
        return Binomial(self.successes[rows], self.trials[rows])


def _log_terms(counts: np.ndarray, exposure: np.ndarray, weights: np.ndarray,
               rates: np.ndarray, binomial: Binomial | None = None,
               probabilities: np.ndarray | None = None) -> np.ndarray:
    """(n, k) log of weight x likelihood, without the terms that do not depend on the class
    (log(count!), count x log(exposure), log C(trials, successes); ``fit_em`` adds them once)."""
    terms = (np.log(weights)[None, :] + counts @ np.log(rates).T
             - exposure[:, None] * rates.sum(axis=1)[None, :])
    if binomial is not None and probabilities is not None:
        failures = binomial.trials - binomial.successes
        terms = terms + binomial.successes @ np.log(probabilities).T + failures @ np.log1p(-probabilities).T
    return terms


def _constant(counts: np.ndarray, exposure: np.ndarray, binomial: Binomial | None) -> float:
    """The class-free terms of the log-likelihood, so that the stored one is the full one."""
    c = float((counts * np.log(exposure)[:, None]).sum() - gammaln(counts + 1).sum())
    if binomial is not None:
        x, m = binomial.successes, binomial.trials
        c += float((gammaln(m + 1) - gammaln(x + 1) - gammaln(m - x + 1)).sum())
    return c


def fit_em(counts: np.ndarray, exposure: np.ndarray, k: int, rng: np.random.Generator,
           n_init: int = 5, max_iter: int = 1000, tol: float = 1e-9,
           binomial: Binomial | None = None) -> MixtureFit:
    """EM for a k-class Poisson mixture with exposure (and Binomial channels); the best of
    ``n_init`` random starts (memberships drawn from a flat Dirichlet). Rates are floored at
    1e-9 per month and probabilities kept in [1e-9, 1 - 1e-9] (a channel never seen in a class
    would otherwise have a log of -inf)."""
    n = len(counts)
    constant = _constant(counts, exposure, binomial)
    best: MixtureFit | None = None
    for _ in range(n_init):
        resp = rng.dirichlet(np.ones(k), n)
        previous = -np.inf
        probabilities = None
        for _ in range(max_iter):
            mass = resp.sum(axis=0)
            weights = np.clip(mass / n, 1e-12, None)
            rates = np.clip((resp.T @ counts) / np.clip(resp.T @ exposure, 1e-12, None)[:, None],
                            1e-9, None)
            if binomial is not None:
                probabilities = np.clip((resp.T @ binomial.successes)
                                        / np.clip(resp.T @ binomial.trials, 1e-12, None), 1e-9, 1 - 1e-9)
            terms = _log_terms(counts, exposure, weights, rates, binomial, probabilities)
            norm = logsumexp(terms, axis=1)
            resp = np.exp(terms - norm[:, None])
            ll = float(norm.sum()) + constant
            if abs(ll - previous) <= tol * abs(ll):
                break
            previous = ll
        fit = MixtureFit(weights, rates, ll, resp, probabilities)
        if best is None or fit.log_likelihood > best.log_likelihood:
            best = fit
    assert best is not None
    return best


@dataclass
class MixtureResult:
    k: int
    channels: list[str]
    weights: np.ndarray  # (k,) in cluster order
    rates: np.ndarray  # (k, channels) events per observed month, in cluster order
    labels: np.ndarray  # cluster of every row (0 = largest)
    probability: np.ndarray  # posterior probability of that cluster
    criteria: dict[int, dict[str, float]] = field(default_factory=dict)  # on the sample, per k
    binomial_channels: list[str] = field(default_factory=list)
    probabilities: np.ndarray | None = None  # (k, binomial channels), in cluster order


class PoissonMixture:
    """Latent classes of count profiles, in the lifelines idiom: ``PoissonMixture(...).fit(
    counts, exposure)``, then ``result_`` and ``summary``.

    ``counts``: (n, channels) non-negative event counts; ``exposure``: (n,) positive
    observation time (months); optional ``successes`` and ``trials`` (n, binomial channels),
    successes at most trials (a row with no trial adds nothing to that channel). With ``k=None``, k in ``k_range`` is chosen by the smallest ICL
    on a random sample of ``sample_size`` rows (all rows when fewer). Every row gets its most
    likely class; a class that is nobody's most likely one is dropped, so ``result_.k`` can be
    below a given k."""

    def __init__(self, k: int | None = None, k_range: tuple[int, int] = (2, 8),
                 sample_size: int = 2000, n_init: int = 5, seed: int = 0,
                 max_iter: int = 1000) -> None:
        self.k = k
        self.k_range = k_range
        self.sample_size = sample_size
        self.n_init = n_init
        self.seed = seed
        self.max_iter = max_iter
        self.result_: MixtureResult | None = None

    def fit(self, counts: np.ndarray | pd.DataFrame, exposure: np.ndarray,
            successes: np.ndarray | pd.DataFrame | None = None,
            trials: np.ndarray | None = None) -> PoissonMixture:
        channels = _names(counts, "channel")
        x = np.asarray(counts, dtype=float)
        t = np.asarray(exposure, dtype=float)
        binomial = None
        if successes is not None or trials is not None:
            binomial = Binomial(np.asarray(successes, dtype=float), np.asarray(trials, dtype=float))
            if binomial.successes.ndim != 2 or binomial.successes.shape != binomial.trials.shape \
                    or len(binomial.trials) != len(t):
                raise ValueError("successes and trials must be two (patients x channels) tables "
                                 "with one row per exposure")
            if not (np.isfinite(binomial.trials).all() and (binomial.successes >= 0).all()
                    and (binomial.successes <= binomial.trials).all()):
                raise ValueError("successes must lie between 0 and trials")
        if x.ndim != 2 or len(x) != len(t):
            raise ValueError("counts must be a (patients x channels) table with one exposure per row")
        if len(x) < 3:
            raise ValueError("clustering needs at least 3 sequences")
        if self.k is None and min(self.sample_size, len(x)) <= self.k_range[0]:
            raise ValueError(f"choosing k needs a sample of more than {self.k_range[0]} rows")
        if not np.isfinite(x).all() or (x < 0).any():
            raise ValueError("counts must be finite and non-negative")
        if not np.isfinite(t).all() or (t <= 0).any():
            raise ValueError("exposure must be positive (observed months)")
        rng = np.random.default_rng(self.seed)
        criteria: dict[int, dict[str, float]] = {}
        if self.k is None:
            lo, hi = self.k_range
            m = min(self.sample_size, len(x))
            sample = np.sort(rng.choice(len(x), size=m, replace=False))
            for k in range(lo, min(hi, m - 1) + 1):
                f = fit_em(x[sample], t[sample], k, rng, self.n_init, self.max_iter,
                           binomial=binomial.take(sample) if binomial else None)
                criteria[k] = {"log_likelihood": f.log_likelihood, "bic": f.bic(m),
                               "icl": f.icl(m)}
            k = min(criteria, key=lambda j: criteria[j]["icl"])
        else:
            k = self.k
        fit = fit_em(x, t, k, rng, self.n_init, self.max_iter, binomial=binomial)
        labels = np.argmax(fit.responsibilities, axis=1)
        order, rank = size_order(labels, k)
        # a class that is nobody's most likely one (possible with a large given k) is dropped
        order = order[np.bincount(labels, minlength=k)[order] > 0]
        self.result_ = MixtureResult(
            k=len(order),
            channels=channels,
            weights=fit.weights[order],
            rates=fit.rates[order],
            labels=rank[labels],
            probability=fit.responsibilities[np.arange(len(x)), labels],
            criteria=criteria,
            binomial_channels=_names(successes, "binomial") if binomial else [],
            probabilities=None if fit.probabilities is None else fit.probabilities[order],
        )
        return self

    @property
    def summary(self) -> pd.DataFrame:
        """One row per candidate k: log-likelihood, BIC and ICL on the sample, whether chosen."""
        r = self._fitted()
        return pd.DataFrame(
            [{"k": k, **r.criteria[k], "chosen": k == r.k} for k in sorted(r.criteria)],
            columns=["k", "log_likelihood", "bic", "icl", "chosen"],
        )

    @property
    def rates(self) -> pd.DataFrame:
        """Monthly rate of each channel in each cluster (rows = clusters)."""
        r = self._fitted()
        return pd.DataFrame(r.rates, columns=r.channels).rename_axis("cluster")

    @property
    def probabilities(self) -> pd.DataFrame:
        """Success probability of each Binomial channel in each cluster (rows = clusters)."""
        r = self._fitted()
        values = r.probabilities if r.probabilities is not None else np.empty((r.k, 0))
        return pd.DataFrame(values, columns=r.binomial_channels).rename_axis("cluster")

    def _fitted(self) -> MixtureResult:
        if self.result_ is None:
            raise ValueError("call fit() first")
        return self.result_


def _names(table, prefix: str) -> list[str]:
    return (list(map(str, table.columns)) if isinstance(table, pd.DataFrame)
            else [f"{prefix}_{j}" for j in range(np.shape(table)[1])])
