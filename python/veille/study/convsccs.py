"""Convolutional self-controlled case series (ConvSCCS): many drugs in one model, each with a
lagged, piecewise-constant effect after every start of exposure (Morel, Bacry et al.,
*Biostatistics* 2020).

Each case's observation is cut into buckets of ``bucket_days`` (30 by default); the log
incidence of case i in bucket k is

    log lambda_ik = offset_ik + age_ik + sum_j sum_l beta_jl x_ij(k - l),

where x_ij(s) counts the starts of drug j in bucket s and beta_jl (l = 0 .. lags - 1) is the log
relative incidence l buckets after a start: the convolution of the exposure starts with each
drug's lag curve. The last lag lasts as long as the exposure episode does (when the data give
its end), so that the years of a chronic treatment count as exposed, not as baseline. With
``on_treatment`` a start's lags also stop at the episode's end (the curve describes time since
the start while the drug is taken; afterwards is baseline), for effects known to act only under
treatment (sedation and falls); by default, as in the paper, the lags run out after a stop, so
that an effect outliving the treatment (a cancer's latency) is kept. Conditioning on each case's number of events removes every time-fixed
confounder, as in the SCCS: the likelihood is the multinomial of the case's events over its
buckets (the conditional Poisson likelihood), with log(days in the bucket) as offset and 5-year
age bands as terms.

The penalty is the paper's smoothness penalty, total variation: strength_tv x sum |beta_jl -
beta_j(l-1)|, which makes each lag curve piecewise constant. It is fitted exactly: with the
curve written as its first value plus its jumps, the jumps are split into positive and negative
parts, and the total variation becomes linear in bounded variables, which L-BFGS-B (scipy)
solves. A small ridge (strength_ridge x beta_j0^2 / 2) on each curve's first value keeps a
drug with no event in its window finite. Strengths are on the scale of the log-likelihood
(not divided by the number of cases), so their weight fades as the data grow.

Intervals come from the bootstrap over cases (resampling weights, warm-started from the fit):
percentiles of each lag's relative incidence, and of the curve's mean over the exposed time
(lags weighted by the case-buckets spent at each: the "average relative incidence" after a
start), whose bootstrap standard error gives a one-sided z-test of an excess, the score the
scan ranks by.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, sparse, stats

BUCKET_DAYS = 30
LAGS = 12
STRENGTH_TV = 2.0
STRENGTH_RIDGE = 0.5
AGE_BAND_YEARS = 5
MAX_ITER = 500
FTOL = 1e-7  # relative change of the objective at which L-BFGS-B stops


@dataclass
class ConvDesign:
    """The model's data: one row per case x bucket, sorted by case."""

    y: np.ndarray                      # events per row
    offset: np.ndarray                 # log(days in the bucket)
    starts: np.ndarray                 # first row of each case
    cases: np.ndarray                  # patient_id of each case
    exposure: sparse.csr_matrix        # rows x (drugs x lags): cumulative lag indicators
    age: np.ndarray                    # rows x age bands (the first band is the reference)
    drugs: list[str]
    lags: int
    bucket_days: int
    exposed_events: np.ndarray = field(default=None)  # events within a lag window, per drug
    lag_time: np.ndarray = field(default=None)        # drugs x lags: case-buckets at each lag
    lag_events: np.ndarray = field(default=None)      # drugs x lags: events at each lag
    exposed_cases: np.ndarray = field(default=None)   # cases with time within a drug's window

    @property
    def n_drugs(self) -> int:
        return len(self.drugs)


def build_design(cases: pd.DataFrame, exposures: pd.DataFrame, *, lags: int = LAGS,
                 bucket_days: int = BUCKET_DAYS, min_events: int = 1,
                 on_treatment: bool = False) -> ConvDesign | None:
    """``cases``: patient_id, n_days (observation length), event_day (0-based, < n_days),
    age_start (age in years on the first day); ``exposures``: patient_id, drug_code, start_day
    (day of an exposure start relative to the case's first day; negative = before it) and,
    optionally, end_day (the episode's first unexposed day): the last lag then lasts until it,
    and with ``on_treatment`` the curve stops there (time after the episode is baseline, for
    effects that act only while the drug is taken) instead of running its lags out.

    Drugs keep their columns when at least ``min_events`` events fall within ``lags`` buckets
    after one of their starts. None when no drug does."""
    cases = cases.sort_values("patient_id").reset_index(drop=True)
    n_buckets = -(-cases["n_days"].to_numpy(np.int64) // bucket_days)
    starts = np.concatenate([[0], np.cumsum(n_buckets)[:-1]]).astype(np.int64)
    rows = int(n_buckets.sum())
    case_of_row = np.repeat(np.arange(len(cases)), n_buckets)
    bucket = np.arange(rows) - starts[case_of_row]
    days = np.minimum(bucket_days, cases["n_days"].to_numpy()[case_of_row] - bucket * bucket_days)
    y = np.zeros(rows)
    np.add.at(y, starts + cases["event_day"].to_numpy(np.int64) // bucket_days, 1.0)

    # exposure starts of the cases, as (case, drug, start bucket)
    pos = pd.Series(np.arange(len(cases)), index=cases["patient_id"].to_numpy())
    ex = exposures[exposures["patient_id"].isin(pos.index)]
    case_idx = pos.loc[ex["patient_id"].to_numpy()].to_numpy()
    start_bucket = np.floor_divide(ex["start_day"].to_numpy(np.int64), bucket_days)
    n_case = n_buckets[case_idx]
    # the buckets each start reaches inside the case's observation: lags 0 .. lags - 1 after it,
    # the last lag lasting while the episode does (end_day: its first unexposed day), so that
    # long use is not baseline time, and a start before day 0 reaching in
    last_step = np.full(len(ex), lags - 1, dtype=np.int64)
    if "end_day" in ex.columns:
        last_bucket = np.floor_divide(ex["end_day"].to_numpy(np.int64) - 1, bucket_days)
        last_step = (np.maximum(last_bucket - start_bucket, 0) if on_treatment
                     else np.maximum(last_step, last_bucket - start_bucket))
    last_step = np.minimum(last_step, n_case - 1 - start_bucket)
    first_step = np.maximum(0, -start_bucket)
    per_start = np.maximum(last_step - first_step + 1, 0)
    offset = np.repeat(np.cumsum(per_start) - per_start, per_start)
    step = np.arange(per_start.sum()) - offset + np.repeat(first_step, per_start)
    lag = np.minimum(step, lags - 1)
    s_case = np.repeat(case_idx, per_start)
    s_bucket = np.repeat(start_bucket, per_start) + step
    s_drug = np.repeat(ex["drug_code"].to_numpy(), per_start)
    inside = (s_bucket >= 0) & (s_bucket < n_buckets[s_case])
    lag, s_case, s_bucket, s_drug = lag[inside], s_case[inside], s_bucket[inside], s_drug[inside]
    row = starts[s_case] + s_bucket

    # events in a lag window, per drug (each case event once per drug)
    hit = pd.DataFrame({"drug": s_drug, "case": s_case, "event": y[row] > 0})
    hit = hit[hit["event"]].drop_duplicates(["drug", "case"])
    per_drug = hit.groupby("drug").size()
    drugs = sorted(per_drug[per_drug >= min_events].index)
    if not drugs:
        return None
    code = pd.Series(np.arange(len(drugs)), index=drugs)
    sel = np.isin(s_drug, drugs)
    lag, row, j = lag[sel], row[sel], code.loc[s_drug[sel]].to_numpy()
    lag_time = np.bincount(j * lags + lag, minlength=len(drugs) * lags).reshape(len(drugs), lags)
    lag_events = np.bincount(j * lags + lag, weights=y[row], minlength=len(drugs) * lags).reshape(len(drugs), lags)
    exposed = pd.DataFrame({"j": j, "case": case_of_row[row]}).drop_duplicates().groupby("j").size()
    # cumulative columns: (j, m) is 1 for every lag l >= m, so beta_jl = sum_{m <= l} delta_jm
    m_count = lag + 1
    rep_row = np.repeat(row, m_count)
    rep_col = np.repeat(j * lags, m_count) + (np.arange(m_count.sum()) - np.repeat(np.cumsum(m_count) - m_count,
                                                                                   m_count))
    exposure = sparse.csr_matrix((np.ones(len(rep_row)), (rep_row, rep_col)), shape=(rows, len(drugs) * lags))

    age_years = cases["age_start"].to_numpy(float)[case_of_row] + bucket * bucket_days / 365.25
    band = np.floor(age_years / AGE_BAND_YEARS).astype(int)
    levels = np.unique(band)
    age = (band[:, None] == levels[None, 1:]).astype(float)
    age = age[:, age.std(axis=0) > 0] if age.size else age.reshape(rows, 0)
    return ConvDesign(y=y, offset=np.log(days.astype(float)), starts=starts,
                      cases=cases["patient_id"].to_numpy(), exposure=exposure, age=age, drugs=drugs,
                      lags=lags, bucket_days=bucket_days, exposed_events=per_drug.loc[drugs].to_numpy(),
                      lag_time=lag_time.astype(float), lag_events=lag_events,
                      exposed_cases=exposed.reindex(range(len(drugs)), fill_value=0).to_numpy())


class _Objective:
    """Penalised negative conditional log-likelihood and its gradient, in the split variables
    x = [first values (J), positive jumps (J x (L-1)), negative jumps (J x (L-1)), age (A)]."""

    def __init__(self, d: ConvDesign, strength_tv: float, strength_ridge: float):
        self.d = d
        self.tv, self.ridge = strength_tv, strength_ridge
        J, L = d.n_drugs, d.lags
        self.first = np.arange(J) * L
        self.jumps = (np.arange(J)[:, None] * L + np.arange(1, L)[None, :]).ravel()
        self.n_jumps = len(self.jumps)
        self.case_of_row = np.repeat(np.arange(len(d.starts)), np.diff(np.append(d.starts, len(d.y))))
        self.events = np.add.reduceat(d.y, d.starts)
        self.weights = np.ones(len(d.starts))

    def delta(self, x: np.ndarray) -> np.ndarray:
        J, L = self.d.n_drugs, self.d.lags
        out = np.zeros(J * L)
        out[self.first] = x[:J]
        out[self.jumps] = x[J:J + self.n_jumps] - x[J + self.n_jumps:J + 2 * self.n_jumps]
        return out

    def probabilities(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The linear predictor of each row, each row's share of its case's rate (the
        multinomial probability of the event falling in it), and each case's log total rate."""
        d, J = self.d, self.d.n_drugs
        a = x[J + 2 * self.n_jumps:]
        eta = d.offset + d.exposure @ self.delta(x) + (d.age @ a if a.size else 0.0)
        top = np.maximum.reduceat(eta, d.starts)
        e = np.exp(eta - top[self.case_of_row])
        total = np.add.reduceat(e, d.starts)
        return eta, e / total[self.case_of_row], top + np.log(total)

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        d, J = self.d, self.d.n_drugs
        eta, p, log_norm = self.probabilities(x)
        w = self.weights
        loglik = float(np.sum(w[self.case_of_row] * d.y * eta) - np.sum(w * self.events * log_norm))
        resid = w[self.case_of_row] * (d.y - self.events[self.case_of_row] * p)
        a = x[J + 2 * self.n_jumps:]
        g_delta = -(d.exposure.T @ resid)
        pos, neg = x[J:J + self.n_jumps], x[J + self.n_jumps:J + 2 * self.n_jumps]
        value = -loglik + self.tv * float(pos.sum() + neg.sum()) + 0.5 * self.ridge * float(x[:J] @ x[:J])
        grad = np.concatenate([g_delta[self.first] + self.ridge * x[:J],
                               g_delta[self.jumps] + self.tv, -g_delta[self.jumps] + self.tv,
                               -(d.age.T @ resid) if a.size else np.zeros(0)])
        return value, grad

    def bounds(self) -> list[tuple[float | None, float | None]]:
        J = self.d.n_drugs
        return ([(None, None)] * J + [(0.0, None)] * (2 * self.n_jumps)
                + [(None, None)] * self.d.age.shape[1])

    def minimise(self, x0: np.ndarray) -> tuple[np.ndarray, bool]:
        res = optimize.minimize(self, x0, jac=True, method="L-BFGS-B", bounds=self.bounds(),
                                options={"maxiter": MAX_ITER, "ftol": FTOL})
        return res.x, bool(res.success)

    def covariance(self, x: np.ndarray) -> np.ndarray:
        """Covariance of beta (drugs x lags, flattened) given the fitted segments: each curve is
        constant between the jumps the penalty kept, the segment levels (and age terms) get the
        inverse of the conditional log-likelihood's information plus the ridge, and each lag
        takes its segment's variance. It ignores the uncertainty of where the jumps are (the
        bootstrap does not): fast, a little narrow."""
        d, J, L = self.d, self.d.n_drugs, self.d.lags
        jump = np.zeros(J * L, dtype=bool)
        jump[self.first] = True
        jump[self.jumps] = np.abs(self.delta(x)[self.jumps]) > 1e-8
        segment = np.cumsum(jump) - 1                       # lag (j, l) -> its segment
        to_segment = sparse.csr_matrix((np.ones(J * L), (np.arange(J * L), segment)))
        # beta-space design: lag indicator = cumulative column minus the next one
        diff = sparse.eye(J * L, format="csr")
        nxt = np.flatnonzero((np.arange(J * L) % L) < L - 1)
        diff = diff - sparse.csr_matrix((np.ones(len(nxt)), (nxt + 1, nxt)), shape=(J * L, J * L))
        xs = sparse.hstack([d.exposure @ diff @ to_segment, sparse.csr_matrix(d.age)]).tocsr()
        p = self.probabilities(x)[1]
        n = self.events
        group = sparse.csr_matrix((p, (self.case_of_row, np.arange(len(p)))), shape=(len(n), len(p)))
        v = (group @ xs).toarray()
        info = (xs.T @ sparse.diags(n[self.case_of_row] * p) @ xs).toarray() - v.T @ (n[:, None] * v)
        k = to_segment.shape[1]
        info[np.arange(k)[np.isin(np.arange(k), segment[self.first])],
             np.arange(k)[np.isin(np.arange(k), segment[self.first])]] += self.ridge
        cov_segments = np.linalg.pinv(info)[:k, :k]
        return (to_segment @ cov_segments @ to_segment.T.toarray())

    def curves(self, x: np.ndarray) -> np.ndarray:
        """beta (J x L): each drug's log relative incidence per lag."""
        return np.cumsum(self.delta(x).reshape(self.d.n_drugs, self.d.lags), axis=1)


@dataclass
class ConvFit:
    """Lag curves (log relative incidence, drugs x lags), bootstrap replicates of them."""

    design: ConvDesign
    beta: np.ndarray
    converged: bool
    boot: np.ndarray | None = None     # replicates x drugs x lags
    cov: np.ndarray | None = None      # (drugs x lags) squared: analytic covariance of beta

    def lag_table(self, level: float = 0.95) -> pd.DataFrame:
        """One row per drug x lag: ri, ci_low, ci_high and se (of the log; bootstrap percentiles
        and spread, else analytic), events at the lag, lag start day."""
        d, (J, L) = self.design, self.beta.shape
        out = pd.DataFrame({"drug_code": np.repeat(d.drugs, L), "lag": np.tile(np.arange(L), J),
                            "ri": np.exp(self.beta.ravel())})
        out["lag_start_day"] = out["lag"] * d.bucket_days
        out["events"] = d.lag_events.ravel().astype(int)
        if self.boot is not None and len(self.boot) > 1:
            q = np.quantile(self.boot, [(1 - level) / 2, (1 + level) / 2], axis=0)
            out["ci_low"], out["ci_high"] = np.exp(q[0].ravel()), np.exp(q[1].ravel())
            out["se"] = self.boot.std(axis=0, ddof=1).ravel()
        elif self.cov is not None:
            z = stats.norm.isf((1 - level) / 2)
            se = np.sqrt(np.clip(np.diag(self.cov), 0, None))
            with np.errstate(over="ignore"):  # a lag without information: an infinite bound
                out["ci_low"], out["ci_high"] = np.exp(self.beta.ravel() - z * se), np.exp(self.beta.ravel() + z * se)
            out["se"] = se
        else:
            out["ci_low"] = out["ci_high"] = out["se"] = np.nan
        return out

    def average(self, beta: np.ndarray) -> np.ndarray:
        """Each curve's mean over the drug's exposed time (lags weighted by the case-buckets
        spent at each lag): the log relative incidence of the time after a start."""
        w = self.design.lag_time
        return (beta * w).sum(axis=-1) / w.sum(axis=1)

    def summary(self, level: float = 0.95) -> pd.DataFrame:
        """One row per drug: the average relative incidence over the exposed time (exp of the
        curve's time-weighted mean), its bootstrap interval and the one-sided z-test p of an
        excess, the peak lag."""
        d = self.design
        mean = self.average(self.beta)
        out = pd.DataFrame({"drug_code": d.drugs, "conv_ri": np.exp(mean),
                            "conv_peak_ri": np.exp(self.beta.max(axis=1)),
                            "conv_peak_lag": self.beta.argmax(axis=1),
                            "conv_events": d.exposed_events})
        if self.boot is not None and len(self.boot) > 1:
            bm = self.average(self.boot)
            q = np.quantile(bm, [(1 - level) / 2, (1 + level) / 2], axis=0)
            se = bm.std(axis=0, ddof=1)
            out["conv_ci_low"], out["conv_ci_high"] = np.exp(q[0]), np.exp(q[1])
        elif self.cov is not None:
            J, L = self.beta.shape
            w = self.design.lag_time / self.design.lag_time.sum(axis=1, keepdims=True)
            weights = np.zeros((J, J * L))
            weights[np.repeat(np.arange(J), L), np.arange(J * L)] = w.ravel()
            se = np.sqrt(np.clip(np.einsum("ik,kl,il->i", weights, self.cov, weights), 0, None))
            z = stats.norm.isf((1 - level) / 2)
            with np.errstate(over="ignore"):
                out["conv_ci_low"], out["conv_ci_high"] = np.exp(mean - z * se), np.exp(mean + z * se)
        else:
            out["conv_ci_low"] = out["conv_ci_high"] = out["conv_p"] = out["conv_se"] = np.nan
            return out
        with np.errstate(divide="ignore", invalid="ignore"):
            zs = np.where(se > 0, mean / se, np.where(mean > 0, np.inf, 0.0))
        out["conv_p"] = stats.norm.sf(zs)
        out["conv_se"] = se
        return out


def fit_conv_sccs(design: ConvDesign, *, strength_tv: float = STRENGTH_TV,
                  strength_ridge: float = STRENGTH_RIDGE, replicates: int = 0, seed: int = 1) -> ConvFit:
    """The penalised fit and, with ``replicates`` > 0, the bootstrap over cases."""
    obj = _Objective(design, strength_tv, strength_ridge)
    x0 = np.zeros(design.n_drugs + 2 * obj.n_jumps + design.age.shape[1])
    x, converged = obj.minimise(x0)
    fit = ConvFit(design, obj.curves(x), converged, cov=obj.covariance(x))
    if replicates > 0:
        rng = np.random.default_rng(seed)
        n = len(design.starts)
        boot = []
        for _ in range(replicates):
            obj.weights = rng.multinomial(n, np.full(n, 1.0 / n)).astype(float)
            xb, _ = obj.minimise(x)
            boot.append(obj.curves(xb))
        obj.weights = np.ones(n)
        fit.boot = np.stack(boot)
    return fit
