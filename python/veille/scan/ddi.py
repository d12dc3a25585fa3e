"""The drug-drug interaction screen (`veille scan interactions`, docs/interactions.md).

Every pair of drugs taken together (scan.scan_ddi_counts) against every outcome, by two methods:

- **observed vs expected (Omega)**: the new outcomes in joint exposure against the count the
  two drugs' separate effects predict under a multiplicative model. The population's stratum
  rates (calendar year x age band x sex) give the count expected in joint time, ``e_ab_base``;
  each drug's standardised ratio in the time it is taken without the other, and that of the
  time with neither, scale it: E = e_ab_base x SIR(A, not B) x SIR(B, not A) / SIR(neither).
  Omega = log2((O + 0.5) / (E + 0.5)) shrinks small counts towards 0 (Noren et al., Stat Med
  2008). E is estimated from three other cells, not known: the Gamma(O + 0.5, E + 0.5)
  credibility interval of the single-drug IC, which takes E as known, covered a true null only
  73 % of the time in simulation (tests/test_ddi_stats.py). So the interval and the one-sided
  p-value are normal on the log ratio, with the variance of the four cells' log counts,
  sum of 1 / (count + 0.5).
- **self-controlled (ratio of ratios)**: for an object drug A and a precipitant B, the case
  series of the outcome within A's exposed time gives B's relative incidence on top of A; the
  same series in the cases never exposed to A gives B's own; their ratio is the interaction
  (Leonard et al., Clin Pharmacol Ther 2018). Each series has one binary exposure and is fitted
  by the conditional Poisson likelihood of veille.study.sccs.fit_binary_series, with a normal
  prior N(0, 4) on each log ratio so that a series whose events are all exposed stays finite.
  Both directions (A as object, B as object) are fitted; each log ratio of ratios is calibrated
  on the empirical null of its outcome (as Omega is, below), and the smaller one-sided
  calibrated p-value, doubled, is the method's (``sccs_p``; ``ror_ab_p``, ``ror_ba_p`` are the
  uncalibrated ones).

Omega's p-value is calibrated too (``omega_cal_p``): co-users of two drugs are sicker than users
of one in ways standardisation does not see, so most pairs show some excess.
The two calibrated p-values combine as the single-drug scan's do (Bonferroni min-p, then Benjamini-Hochberg
q-values); the rank follows the combined p, ties broken by Omega's lower bound.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import sqlalchemy as sa
from pydantic import Field
from scipy import stats as sps

from veille.scan import stats
from veille.scan.settings import ScanSettings
from veille.study.sccs import fit_binary_series

TRIPLE_KEY = ["drug_level", "drug_a", "drug_b", "outcome_code"]
MARTS = {"scan_ddi_counts": TRIPLE_KEY, "scan_ddi_case_days": [*TRIPLE_KEY, "patient_id"]}
ALPHA = 0.5  # Noren's shrinkage: added to observed and expected counts
SIGNAL_COLUMNS = [
    *TRIPLE_KEY, "patients_ab", "days_ab", "o_ab", "e_ab_base", "e_mult", "o_a", "e_a", "o_b", "e_b",
    "omega", "omega025", "omega975", "omega_p", "omega_cal_p",
    "ror_ab", "ror_ab_low", "ror_ab_high", "ror_ab_p", "cases_ab",
    "ror_ba", "ror_ba_low", "ror_ba_high", "ror_ba_p", "cases_ba",
    "sccs_p", "combined_p", "q_value", "is_signal", "rank",
]


class InteractionSettings(ScanSettings):
    """The scan's settings (washout, minimum events, FDR) plus the interaction screen's own."""

    ddi_min_patients: int = Field(20, ge=1, description="co-exposed patients a drug pair needs to be screened")
    ddi_prior_variance: float = Field(4.0, gt=0, description="ratio of ratios: variance of the normal prior "
                                      "on each series' log relative incidence")

    def dbt_vars(self) -> dict[str, int]:
        return super().dbt_vars() | {"scan_ddi_min_patients": self.ddi_min_patients}


def multiplicative_expected(c: pd.DataFrame) -> pd.DataFrame:
    """Each cell's observed and expected counts and the joint count expected from the two
    drugs' separate effects, from the columns of scan.scan_ddi_counts."""
    f = {k: c[k].to_numpy(float) for k in ("o_ab", "e_ab_base", "o_a", "e_a", "o_b", "e_b", "o_total")}
    cells = {
        "a_only": (f["o_a"] - f["o_ab"], f["e_a"] - f["e_ab_base"]),
        "b_only": (f["o_b"] - f["o_ab"], f["e_b"] - f["e_ab_base"]),
        "neither": (f["o_total"] - f["o_a"] - f["o_b"] + f["o_ab"],
                    f["o_total"] - f["e_a"] - f["e_b"] + f["e_ab_base"]),
    }
    sir = {k: (np.maximum(o, 0) + ALPHA) / (np.maximum(e, 0) + ALPHA) for k, (o, e) in cells.items()}
    e_mult = f["e_ab_base"] * sir["a_only"] * sir["b_only"] / sir["neither"]
    var = 1 / (f["o_ab"] + ALPHA) + sum(1 / (np.maximum(o, 0) + ALPHA) for o, _ in cells.values())
    return pd.DataFrame({"e_mult": e_mult, "log_se": np.sqrt(var)})


def omega(c: pd.DataFrame) -> pd.DataFrame:
    """Omega with its 95 % credibility interval and one-sided p-value, per row of scan_ddi_counts."""
    m = multiplicative_expected(c)
    o = c["o_ab"].to_numpy(float)
    value = np.log2((o + ALPHA) / (m["e_mult"] + ALPHA))
    half = sps.norm.ppf(0.975) * m["log_se"] / np.log(2)
    return pd.DataFrame({"e_mult": m["e_mult"], "omega": value, "omega025": value - half,
                         "omega975": value + half, "omega_p": sps.norm.sf(value * np.log(2) / m["log_se"])})


def calibrated_p(counts: pd.DataFrame, log_ratio: np.ndarray, se: np.ndarray, fit: np.ndarray,
                 min_triples: int = 10) -> np.ndarray:
    """One-sided p-value of each log ratio against the empirical null of its outcome and drug
    level (veille.scan.stats.empirical_null: a centre and a spread fitted robustly, so that the
    few real effects among them pull it little), fitted on the rows where ``fit``; an outcome
    with fewer than ``min_triples`` such rows uses the null of all outcomes of its level."""
    p = np.full(len(counts), np.nan)
    ok = fit & np.isfinite(log_ratio) & np.isfinite(se)
    for by_level in counts.groupby("drug_level").groups.values():
        idx_level = np.asarray(by_level)
        pooled = idx_level[ok[idx_level]]
        null_level = stats.empirical_null(log_ratio[pooled], se[pooled]) if len(pooled) else (0.0, 0.0)
        for by_outcome in counts.loc[idx_level].groupby("outcome_code").groups.values():
            idx = np.asarray(by_outcome)
            own = idx[ok[idx]]
            mu, tau = stats.empirical_null(log_ratio[own], se[own]) if len(own) >= min_triples else null_level
            with np.errstate(invalid="ignore"):
                p[idx] = sps.norm.sf((log_ratio[idx] - mu) / np.sqrt(tau ** 2 + se[idx] ** 2))
    return p


def calibrated_omega_p(counts: pd.DataFrame, w: pd.DataFrame, min_expected: float = 5.0) -> np.ndarray:
    """Omega's p-value against the empirical null of its outcome: people who take two drugs are
    sicker than those who take one, in ways a multiplicative model of standardised ratios does
    not see (the generator's latent frailty, real polypharmacy), so joint time has more
    outcomes than expected for most pairs; the null is fitted on the triples with an expected
    count of at least ``min_expected``."""
    se = multiplicative_expected(counts)["log_se"].to_numpy(float)
    return calibrated_p(counts, w["omega"].to_numpy(float) * np.log(2), se, (w["e_mult"] >= min_expected).to_numpy())


def ratio_of_ratios(cases: pd.DataFrame, group: np.ndarray, n_groups: int, obj: str, pre: str,
                    prior_variance: float) -> pd.DataFrame:
    """The precipitant ``pre``'s relative incidence within the object ``obj``'s exposed time over
    the same in the cases never exposed to ``obj`` ('a' or 'b' each), per triple."""
    days_o, days_p, ev_o, ev_p = (cases[f"days_{obj}"], cases[f"days_{pre}"], cases[f"event_{obj}"],
                                  cases[f"event_{pre}"])
    within = (ev_o == 1).to_numpy()  # the event fell in the object's time: observed over it
    s1 = fit_binary_series(group[within], cases["days_ab"][within], (days_o - cases["days_ab"])[within],
                           cases["event_ab"][within], n_groups=n_groups, prior_variance=prior_variance)
    without = (days_o == 0).to_numpy()
    s2 = fit_binary_series(group[without], days_p[without], (cases["window_days"] - days_p)[without], ev_p[without],
                           n_groups=n_groups, prior_variance=prior_variance)
    log_ror = s1["log_ratio"] - s2["log_ratio"]
    se = np.sqrt(s1["se"] ** 2 + s2["se"] ** 2)
    z = sps.norm.ppf(0.975)
    return pd.DataFrame({"ror": np.exp(log_ror), "ror_low": np.exp(log_ror - z * se),
                         "ror_high": np.exp(log_ror + z * se), "ror_p": sps.norm.sf(log_ror / se),
                         "cases": s1["cases"], "log": log_ror, "se": se})


def rank_interactions(counts: pd.DataFrame, case_days: pd.DataFrame, settings: InteractionSettings) -> pd.DataFrame:
    """One row per drug pair x outcome: both methods, the combined p, the q-value and the rank."""
    counts = counts.reset_index(drop=True)
    w = omega(counts)
    w["omega_cal_p"] = calibrated_omega_p(counts, w)
    out = pd.concat([counts, w], axis=1)
    if "triple" in case_days.columns:  # read_marts: the row of ``counts`` each case belongs to
        group = case_days["triple"].to_numpy()
    else:
        index = pd.MultiIndex.from_frame(counts[TRIPLE_KEY])
        group = index.get_indexer(pd.MultiIndex.from_frame(case_days[TRIPLE_KEY]))
    keep = group >= 0
    cases, group = case_days[keep].reset_index(drop=True), group[keep]
    for obj, pre in (("a", "b"), ("b", "a")):
        ror = ratio_of_ratios(cases, group, len(counts), obj, pre, settings.ddi_prior_variance)
        unfit = ror["cases"] == 0
        ror.loc[unfit, ["ror", "ror_low", "ror_high", "ror_p"]] = np.nan
        out = pd.concat([out, ror.rename(columns=lambda c, s=obj + pre: c.replace("ror", f"ror_{s}")
                                         if c.startswith("ror") else f"{c}_{s}")], axis=1)
    # each direction's log ratio of ratios against its outcome's empirical null: outcomes that
    # end observation (a stay ending in death) break the case series' assumptions for every
    # pair alike
    p = np.column_stack([
        calibrated_p(counts, out[f"log_{d}"].to_numpy(float), out[f"se_{d}"].to_numpy(float),
                     (out[f"se_{d}"] < 1.0).to_numpy()) for d in ("ab", "ba")])
    p[out[["ror_ab_p", "ror_ba_p"]].isna().to_numpy()] = np.nan
    best = np.nanmin(np.where(np.isnan(p), np.inf, p), axis=1)
    out["sccs_p"] = np.where(np.isfinite(best), np.minimum(1.0, 2 * best), np.nan)
    out["combined_p"] = stats.combined_p(out[["omega_cal_p", "sccs_p"]])
    out["q_value"] = stats.bh_q_values(out["combined_p"].to_numpy())
    out["is_signal"] = out["q_value"] <= settings.fdr
    out = out.assign(_tie=-out["omega025"].fillna(-np.inf)).sort_values(
        ["combined_p", "_tie", *TRIPLE_KEY], kind="stable").drop(columns="_tie")
    out["rank"] = np.arange(1, len(out) + 1)
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------- run and store


def build_marts(settings: InteractionSettings, upstream: bool = True) -> None:
    """Build the interaction marts (tag scan_ddi), with the models they read unless not ``upstream``."""
    import json

    from veille.dbt import run_dbt

    select = "+tag:scan_ddi" if upstream else "tag:scan_ddi"
    run_dbt(["build", "--select", select, "--resource-type", "model", "--resource-type", "seed", "--quiet",
             "--vars", json.dumps(settings.dbt_vars())])


CASE_COLUMNS = ["patient_id", "window_days", "days_a", "days_b", "days_ab", "event_a", "event_b", "event_ab"]


def _copy_read(conn, sql: str) -> pd.DataFrame:
    """The rows of ``sql`` through COPY ... TO STDOUT as CSV: a few bytes a value in transit,
    where pandas' read_sql holds every row as Python objects first (10 GB for the case series
    of 1,000,000 patients)."""
    import io

    buf = io.BytesIO()
    with conn.connection.driver_connection.cursor() as cur, cur.copy(
            f"copy ({sql}) to stdout with (format csv, header)") as cp:
        for block in cp:
            buf.write(block)
    buf.seek(0)
    return pd.read_csv(buf, dtype={k: str for k in TRIPLE_KEY})


def read_marts() -> dict[str, pd.DataFrame]:
    """The two interaction marts: the counts sorted by their key, and the case series with, in
    place of the key's four text columns, ``triple``, the row of the counts it belongs to."""
    from veille import db
    from veille.errors import VeilleError

    keys = ", ".join(TRIPLE_KEY)
    with db.engine(db.ENGINEER).connect() as conn:
        for name in MARTS:
            if conn.execute(sa.text("select to_regclass(:t)"), {"t": f"scan.{name}"}).scalar() is None:
                raise VeilleError(f"mart scan.{name} is missing: build the dbt project first (veille dbt build); "
                                  "or run `veille scan interactions` without --no-build")
        counts = _copy_read(conn, f"select * from scan.scan_ddi_counts order by {keys}")
        cases = _copy_read(conn, f"""
            select triples.triple, {', '.join('cases.' + c for c in CASE_COLUMNS)}
            from scan.scan_ddi_case_days as cases
            inner join (select {keys}, row_number() over (order by {keys}) - 1 as triple
                        from scan.scan_ddi_counts) as triples using ({keys})
            order by triples.triple, cases.patient_id""")
    return {"scan_ddi_counts": counts, "scan_ddi_case_days": cases}


def store_run(signals: pd.DataFrame, settings: InteractionSettings, started, seconds: dict[str, float]) -> int:
    """results.interaction_run and results.interaction_signal in one transaction; the run id."""
    import json
    from datetime import UTC, datetime

    from veille import db
    from veille.errors import VeilleError
    from veille.scan.run import _copy

    with db.raw_connection(role=db.ENGINEER) as conn:
        if not conn.execute("select to_regclass('results.interaction_signal') is not null").fetchone()[0]:
            raise VeilleError("table results.interaction_signal is missing: run `veille migrate` first")
        run_id = conn.execute(
            "insert into results.interaction_run (started_at, finished_at, status, settings, n_triples, "
            "n_signals, seconds) values (%s, %s, 'done', %s, %s, %s, %s) returning run_id",
            (started, datetime.now(UTC), json.dumps(settings.as_dict()), len(signals),
             int(signals["is_signal"].sum()), json.dumps(seconds)),
        ).fetchone()[0]
        _copy(conn, run_id, "results.interaction_signal", signals[SIGNAL_COLUMNS])
        conn.commit()
    return int(run_id)


def run_interactions(settings: InteractionSettings | None = None, build: bool = True, upstream: bool = True,
                     progress=None) -> tuple[int, dict[str, float]]:
    """The whole interaction screen: marts, both methods, stored run; the run id and step seconds."""
    from datetime import UTC, datetime

    from veille.errors import VeilleError
    from veille.scan.run import timed_steps

    settings = settings or InteractionSettings()
    started = datetime.now(UTC)
    seconds: dict[str, float] = {}
    step = timed_steps(seconds, progress)

    if build:
        step("count (dbt)", lambda: build_marts(settings, upstream))
    marts = step("read marts", read_marts)
    if marts["scan_ddi_counts"].empty:
        raise VeilleError(f"no drug pair taken together by {settings.ddi_min_patients} or more patients has "
                          f"{settings.min_events} or more outcomes in joint exposure: nothing to screen")
    signals = step("statistics", lambda: rank_interactions(marts["scan_ddi_counts"], marts["scan_ddi_case_days"],
                                                           settings))
    run_id = step("store", lambda: store_run(signals, settings, started, seconds))
    return run_id, seconds


def read_signals(run_id: int | None = None) -> pd.DataFrame:
    """The ranked interaction signals of a run (the latest by default)."""
    import sqlalchemy as sa

    from veille import db
    from veille.errors import VeilleError

    with db.engine(db.ANALYST).connect() as conn:
        if run_id is None:
            run_id = conn.execute(sa.text(
                "select max(run_id) from results.interaction_run where status = 'done'")).scalar()
            if run_id is None:
                raise VeilleError("no interaction screen yet: run `veille scan interactions` first")
        frame = pd.read_sql(sa.text("select * from results.interaction_signal where run_id = :r order by rank"),
                            conn, params={"r": run_id})
    if frame.empty:
        raise VeilleError(f"interaction run {run_id} does not exist or has no signal")
    return frame


# --------------------------------------------------------------------------- evaluation


def _under(drug: str, code: str) -> bool:
    return drug.startswith(code) or code.startswith(drug)

METHOD_SCORES = {"omega": "omega_p", "omega_calibrated": "omega_cal_p", "sccs": "sccs_p", "combined": "rank"}


def evaluate_interactions(doc: dict, signals: pd.DataFrame) -> dict:
    """AUC and average precision of each method: injected interactions against the null pairs
    of truth ``doc``; each truth pair matched (unordered) at the outcome's 3-character code to
    the best-ranked screened pair, at either level, whose two codes each fall under or above
    the truth's (C09AA x C03CA01: C09AA05 x C03CA01 or C03CA x C09AA); a pair not screened
    scores worst. Also where the traps rank."""
    from veille import evaluation
    from veille.privacy import mask_value

    rows = []
    for e in doc.get("interactions") or []:
        codes = [str(e["object_atc"]), str(e["precipitant_atc"])]
        sel = signals[signals["outcome_code"] == str(e["outcome_icd10"])[:3]]
        fits = [sel[col].map(lambda d, c=c: _under(d, c)) for col in ("drug_a", "drug_b") for c in codes]
        hit = sel[(fits[0] & fits[3]) | (fits[1] & fits[2])].sort_values("rank").head(1)
        scores = {m: float(hit[col].astype(float).fillna(np.inf).iloc[0]) if len(hit) else np.inf
                  for m, col in METHOD_SCORES.items()}
        rows.append({"object_atc": e["object_atc"], "precipitant_atc": e["precipitant_atc"],
                     "outcome_icd10": e["outcome_icd10"], "hazard_ratio": float(e["hazard_ratio"]),
                     "shape": e.get("shape"), "trap": bool(e.get("trap")),
                     "is_positive": float(e["hazard_ratio"]) > 1, "screened": bool(len(hit)),
                     "rank": int(hit["rank"].iloc[0]) if len(hit) else None,
                     "o_ab": mask_value(hit["o_ab"].iloc[0]) if len(hit) else None,
                     "e_mult": round(float(hit["e_mult"].iloc[0]), 2) if len(hit) else None,
                     "omega": round(float(hit["omega"].iloc[0]), 3) if len(hit) else None,
                     "ror": round(float(hit["ror_ab"].iloc[0] if _under(hit["drug_a"].iloc[0], codes[0])
                                        else hit["ror_ba"].iloc[0]), 3) if len(hit) else None,
                     **{f"score_{m}": v for m, v in scores.items()}})
    matched = pd.DataFrame(rows)
    if matched.empty:
        return {}
    y = matched["is_positive"].to_numpy()
    traps = matched[matched["trap"]]
    return {
        "auc": {m: evaluation.auc(matched[f"score_{m}"].to_numpy(), y, higher_is_stronger=False)
                for m in METHOD_SCORES},
        "average_precision": {m: evaluation.average_precision(matched[f"score_{m}"].to_numpy(), y,
                                                              higher_is_stronger=False) for m in METHOD_SCORES},
        "positives": int(y.sum()), "negatives": int((~y).sum()), "traps": len(traps),
        "screened": {"positives": int(matched.loc[y, "screened"].sum()),
                     "negatives": int(matched.loc[~y, "screened"].sum())},
        "traps_in_top5": int((traps["rank"].dropna() <= 5).sum()),
        "triples_screened": len(signals),
        "pairs": [{k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()
                   if not k.startswith("score_") and k != "is_positive"} for r in rows],
    }
