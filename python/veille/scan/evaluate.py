"""`veille scan evaluate`: how well each method separates injected effects from negative controls.

The truth (``truth.json`` of `veille synth`) lists effects: an exposure ATC code (ATC7, ATC5 or
a shorter class prefix), an ICD-10 3-character outcome and a hazard ratio (1 = negative control).
Each is matched to the scanned pairs at the outcome's 3-character code and the exposure's level
(ATC7 for a 7-character code, ATC5 otherwise: the best-scoring ATC5 pair under a shorter
prefix). A truth pair that was not scanned (too few events) gets the worst score. The AUC is the
probability that a positive outscores a negative, ties counted one half; the average precision
summarises precision over recall (both from :mod:`veille.evaluation`).

Each injected effect also gets the power the O/E test had to find it at this size: with E the
expected count of the pair, the one-sided Poisson test at level 0.05 needs c events, and the
power is P(X >= c) for X ~ Poisson(E x HR) (an upper bound: an effect limited to older patients
or to long-term use raises fewer of the expected events). An effect with little power cannot
rank well whatever the method; the evaluation says so rather than leaving it to the AUC.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from veille import evaluation
from veille.privacy import mask_value

# the tree scan is rated twice: by its family-wise Monte Carlo p-value (TreeScan's own, its many
# ties broken by the LLR: tree_order) and by each node's own mid-p
METHOD_SCORES = {"ssa": "ssa_p", "oe": "oe_p", "oe_calibrated": "oe_cal_p", "oe_latent": "oe_latent_p",
                 "tree": "tree_order", "tree_node": "tree_node_p", "convsccs": "conv_p", "combined": "rank"}
POWER_ALPHA = 0.05


def read_truth(path: str | Path) -> pd.DataFrame:
    """The effects of a truth file: exposure_atc, outcome_icd10 (3 characters), hazard_ratio,
    is_positive; protective effects (HR < 1) left out."""
    rows = [(e.exposure_atc, e.outcome_icd10[:3], e.hazard_ratio) for e in evaluation.read_effects(path)]
    frame = pd.DataFrame(rows, columns=["exposure_atc", "outcome_icd10", "hazard_ratio"])
    frame["is_positive"] = frame["hazard_ratio"] > 1.0
    return frame[frame["hazard_ratio"] >= 1.0].reset_index(drop=True)


def match_truth(truth: pd.DataFrame, signals: pd.DataFrame) -> pd.DataFrame:
    """One row per truth effect with each method's score (lower = stronger signal)."""
    icd3 = signals[signals["outcome_level"] == "icd3"]
    worst = {col: np.inf for col in METHOD_SCORES.values()}
    rows = []
    for eff in truth.itertuples(index=False):
        level = "atc7" if len(eff.exposure_atc) == 7 else "atc5"
        hit = icd3[(icd3["drug_level"] == level)
                   & icd3["drug_code"].str.startswith(eff.exposure_atc)
                   & (icd3["outcome_code"] == eff.outcome_icd10)]
        scores = {col: (hit[col].astype(float).fillna(np.inf).min()
                        if len(hit) and col in icd3.columns else worst[col]) for col in worst}
        best = hit.sort_values("rank").head(1)
        node = None
        if len(hit) and "tree_node_code" in best.columns and isinstance(best["tree_node_code"].iloc[0], str):
            node = f"{best['tree_node_code'].iloc[0]} ({best['tree_node_level'].iloc[0]})"
        counts = {"drug_code": best["drug_code"].iloc[0] if len(hit) else None, "tree_node": node,
                  "observed": int(best["oe_observed"].iloc[0]) if len(hit) else 0,
                  "expected": float(best["oe_expected"].iloc[0]) if len(hit) else 0.0}
        rows.append({**eff._asdict(), "scanned": bool(len(hit)), **counts, **scores})
    return pd.DataFrame(rows)


def with_tree_order(signals: pd.DataFrame) -> pd.DataFrame:
    """``signals`` with tree_order: 1 for the pair with the lowest tree_p (the largest tree_llr
    among equal p-values), 2 for the next...; null where the tree scan gave no p-value."""
    if "tree_p" not in signals.columns:
        return signals
    scored = signals["tree_p"].notna()
    llr = signals["tree_llr"].astype(float) if "tree_llr" in signals.columns else 0.0
    order = signals.loc[scored].assign(_llr=-llr).sort_values(
        ["tree_p", "_llr"], kind="stable").index
    tree_order = pd.Series(np.nan, index=signals.index)
    tree_order.loc[order] = np.arange(1, len(order) + 1)
    return signals.assign(tree_order=tree_order)


def poisson_power(expected: np.ndarray, ratio: np.ndarray, alpha: float = POWER_ALPHA) -> np.ndarray:
    """Power of the one-sided Poisson test of O against E when the true mean is E x ratio."""
    e = np.asarray(expected, dtype=float)
    critical = stats.poisson.isf(alpha, e) + 1  # smallest c with P(X >= c | E) <= alpha
    return np.where(e > 0, stats.poisson.sf(critical - 1, e * np.asarray(ratio, dtype=float)), 0.0)


def auc(scores: np.ndarray, positive: np.ndarray) -> float | None:
    """P(score of a positive < score of a negative) + P(tie) / 2: a lower score (a p-value, a
    rank) is a stronger signal. None without both positives and negatives."""
    return evaluation.auc(scores, positive, higher_is_stronger=False)


def evaluate(truth_path: str | Path, signals: pd.DataFrame) -> dict:
    """{"auc": {method: value, "combined": value}, "positives": n, "negatives": n, ...}."""
    truth = read_truth(truth_path)
    signals = with_tree_order(signals)
    matched = match_truth(truth, signals)
    y = matched["is_positive"].to_numpy()
    matched["power"] = poisson_power(matched["expected"], matched["hazard_ratio"])
    # a method with no score at all (e.g. a run stored before its column existed) is not rated
    stored = {col: col in signals.columns and signals[col].notna().any() for col in METHOD_SCORES.values()}
    result = {
        "auc": {m: auc(matched[col].to_numpy(), y) if stored[col] else None
                for m, col in METHOD_SCORES.items()},
        "average_precision": {
            m: evaluation.average_precision(matched[col].to_numpy(), y, higher_is_stronger=False)
            if stored[col] else None for m, col in METHOD_SCORES.items()},
        "positives": int(y.sum()),
        "negatives": int((~y).sum()),
        "scanned": {"positives": int(matched.loc[y, "scanned"].sum()),
                    "negatives": int(matched.loc[~y, "scanned"].sum())},
        "effects": [
            {"exposure_atc": r.exposure_atc, "outcome_icd10": r.outcome_icd10,
             "hazard_ratio": r.hazard_ratio, "drug_code": r.drug_code,
             "rank": None if not np.isfinite(r.rank) else int(r.rank),
             "observed": mask_value(r.observed) if r.scanned else None,
             "expected": round(r.expected, 2) if r.scanned else None,
             "power": round(float(r.power), 3) if r.is_positive and r.scanned else None,
             "tree_node": r.tree_node}
            for r in matched.itertuples(index=False)
        ],
    }
    return result
