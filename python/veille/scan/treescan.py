"""Tree-based scan statistic, self-controlled Bernoulli variant (Kulldorff's TreeScan).

For one drug, each outcome event of a new user falls in the risk window (probability
``p = risk_days / (risk_days + control_days)`` under the null of no effect) or in the control
window. A node of the ICD-10 tree (chapter, block, 3-character code) holds the events of the
leaves under it; its log-likelihood ratio, for ``c`` risk events out of ``n``, is

    LLR = c log(c / (n p)) + (n - c) log((n - c) / (n (1 - p)))   when c / n > p, else 0.

The test statistic is the largest LLR over the drug's tree. Its null distribution comes from
Monte Carlo replicates in which every leaf's risk count is redrawn Binomial(n_leaf, p)
(conditioning on the leaf totals), all replicates at once as a matrix; a node's p-value is
``(1 + #{replicate maxima above the node's LLR} + K) / (replicates + 1)``, K drawn uniformly
from 0..#{replicate maxima tied with it}: a randomized Monte Carlo test whose p-values are
exactly uniform under the null despite the discrete counts (TreeScan's own p-values, which
count every tie, are conservative), and which accounts for the many nodes scanned.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import xlogy

TIE_TOLERANCE = 1e-9


def log_likelihood_ratio(c: np.ndarray, n: np.ndarray, p: float) -> np.ndarray:
    """One-sided Bernoulli LLR of ``c`` risk events out of ``n`` against share ``p`` (0 if n = 0)."""
    c = np.asarray(c, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        llr = (xlogy(c, c / (n * p)) + xlogy(n - c, (n - c) / (n * (1.0 - p))))
    return np.where((n > 0) & (c > n * p), llr, 0.0)


@dataclass(frozen=True)
class Tree:
    """Nodes of one drug's tree: their level and code, and which leaves each holds."""

    levels: np.ndarray  # 'icd3' | 'block' | 'chapter'
    codes: np.ndarray
    membership: np.ndarray  # nodes x leaves, 0/1


def build_tree(leaves: pd.DataFrame) -> Tree:
    """The tree over ``leaves`` (columns icd3, block_code (may be null), chapter_code)."""
    n_leaves = len(leaves)
    levels, codes, rows = [], [], []
    eye = np.eye(n_leaves, dtype=np.int8)
    for i, code in enumerate(leaves["icd3"].to_numpy()):
        levels.append("icd3")
        codes.append(code)
        rows.append(eye[i])
    for column, level in (("block_code", "block"), ("chapter_code", "chapter")):
        values = leaves[column].where(leaves[column].notna(), None).to_numpy(dtype=object)
        for code in sorted({v for v in values if v is not None}):
            levels.append(level)
            codes.append(code)
            rows.append((values == code).astype(np.int8))
    membership = np.vstack(rows) if rows else np.zeros((0, n_leaves), np.int8)
    return Tree(np.array(levels, dtype=object), np.array(codes, dtype=object), membership)


def scan_one_drug(
    leaves: pd.DataFrame, p: float, replicates: int, rng: np.random.Generator
) -> pd.DataFrame:
    """Every node of one drug's tree: risk and control events, LLR and Monte Carlo p-value."""
    tree = build_tree(leaves)
    risk = leaves["risk_events"].to_numpy(dtype=np.int64)
    total = risk + leaves["control_events"].to_numpy(dtype=np.int64)
    c = tree.membership @ risk
    n = tree.membership @ total
    llr = log_likelihood_ratio(c, n, p)
    simulated = rng.binomial(total, p, size=(replicates, len(total))).astype(float)
    sim_c = simulated @ tree.membership.T.astype(float)  # replicates x nodes
    sim_max = np.sort(log_likelihood_ratio(sim_c, n[None, :].astype(float), p).max(axis=1))
    above = replicates - np.searchsorted(sim_max, llr + TIE_TOLERANCE, side="right")
    ties = replicates - np.searchsorted(sim_max, llr - TIE_TOLERANCE, side="left") - above
    p_value = (1.0 + above + rng.integers(0, ties + 1)) / (replicates + 1.0)
    return pd.DataFrame({
        "outcome_level": tree.levels,
        "outcome_code": tree.codes,
        "tree_risk": c,
        "tree_control": n - c,
        "tree_llr": llr,
        "tree_p": p_value,
    })


def drug_rng(seed: int, drug_level: str, drug_code: str) -> np.random.Generator:
    """A generator that depends only on the seed and the drug (results do not depend on order)."""
    return np.random.default_rng([seed, zlib.crc32(f"{drug_level}:{drug_code}".encode())])


def tree_scan(
    leaf_events: pd.DataFrame, risk_days: int, control_days: int, replicates: int = 999,
    seed: int = 1,
) -> pd.DataFrame:
    """Node results for every drug of ``leaf_events`` (columns drug_level, drug_code, icd3,
    block_code, chapter_code, risk_events, control_events)."""
    p = risk_days / (risk_days + control_days)
    columns = ["drug_level", "drug_code", "outcome_level", "outcome_code", "tree_risk",
               "tree_control", "tree_llr", "tree_p"]
    parts = []
    leaf_events = leaf_events.sort_values(["drug_level", "drug_code", "icd3"], kind="stable")
    for (level, code), leaves in leaf_events.groupby(["drug_level", "drug_code"], sort=True):
        nodes = scan_one_drug(leaves.reset_index(drop=True), p, replicates,
                              drug_rng(seed, str(level), str(code)))
        nodes.insert(0, "drug_code", code)
        nodes.insert(0, "drug_level", level)
        parts.append(nodes)
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)[columns]
