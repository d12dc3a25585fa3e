"""Tree-based scan statistic, self-controlled Bernoulli variant (Kulldorff's TreeScan).

For one drug, each new outcome of a new user falls on a day exposed to the drug (a risk event)
or on another observed day of that user (a control event; scan.scan_tree_events). With no
effect, an event of patient i is exposed with probability ``p_i``, his share of exposed days
among his observed days, so that a node of the ICD-10 tree (chapter, block, 3-character code)
expects ``e = sum(p_i)`` of its ``n`` events exposed. Its log-likelihood ratio, for ``c`` risk
events, is the Bernoulli one at ``p = e / n``:

    LLR = c log(c / e) + (n - c) log((n - c) / (n - e))   when c > e, else 0.

The test statistic is the largest LLR over the drug's tree. Its null distribution comes from
Monte Carlo replicates in which every leaf's risk count is redrawn Binomial(n_leaf, e_leaf /
n_leaf) (conditioning on the leaf totals), all replicates at once as a matrix; a node's p-value
is ``(1 + #{replicate maxima above the node's LLR} + K) / (replicates + 1)``, K drawn uniformly
from 0..#{replicate maxima tied with it}: a randomized Monte Carlo test whose p-values are
exactly uniform under the null despite the discrete counts (TreeScan's own p-values, which
count every tie, are conservative), and which accounts for the many nodes scanned. A leaf's
exposed count is a sum of Bernoulli(p_i) with unequal p_i, whose variance is below the
binomial's: the replicates are, if anything, conservative.

The family-wise p-value is 1/(replicates + 1) at best and often exactly 1, so nodes are also
given their own one-sided binomial mid-p (``node_p``), which ranks within those ties.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse, stats
from scipy.special import xlogy

TIE_TOLERANCE = 1e-9


def log_likelihood_ratio(c: np.ndarray, n: np.ndarray, e: np.ndarray) -> np.ndarray:
    """One-sided Bernoulli LLR of ``c`` risk events out of ``n`` against ``e`` expected
    (0 if n = 0 or c <= e)."""
    c, n, e = (np.asarray(v, dtype=float) for v in (c, n, e))
    with np.errstate(divide="ignore", invalid="ignore"):
        llr = xlogy(c, c / e) + xlogy(n - c, (n - c) / (n - e))
    return np.where((n > 0) & (c > e), llr, 0.0)


def mid_p(c: np.ndarray, n: np.ndarray, e: np.ndarray) -> np.ndarray:
    """One-sided binomial mid-p of ``c`` or more risk events out of ``n`` at share ``e / n``."""
    c, n, e = (np.asarray(v, dtype=float) for v in (c, n, e))
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.clip(np.where(n > 0, e / n, 0.0), 0.0, 1.0)
    return np.where(n > 0, stats.binom.sf(c, n, share) + 0.5 * stats.binom.pmf(c, n, share), 1.0)


@dataclass(frozen=True)
class Tree:
    """Nodes of one drug's tree: their level and code, and which leaves each holds."""

    levels: np.ndarray  # 'icd3' | 'block' | 'chapter'
    codes: np.ndarray
    membership: sparse.csr_matrix  # nodes x leaves, 0/1: three entries per leaf at most


def build_tree(leaves: pd.DataFrame) -> Tree:
    """The tree over ``leaves`` (columns icd3, block_code (may be null), chapter_code)."""
    n_leaves = len(leaves)
    levels = ["icd3"] * n_leaves
    codes = list(leaves["icd3"].to_numpy())
    rows, cols = [np.arange(n_leaves)], [np.arange(n_leaves)]
    for column, level in (("block_code", "block"), ("chapter_code", "chapter")):
        values = leaves[column].where(leaves[column].notna(), None).to_numpy(dtype=object)
        known = np.flatnonzero(pd.notna(values))
        names, index = np.unique(values[known].astype(str), return_inverse=True)
        rows.append(len(levels) + index)
        cols.append(known)
        levels += [level] * len(names)
        codes += list(names)
    membership = sparse.csr_matrix(
        (np.ones(sum(len(r) for r in rows), dtype=np.int64), (np.concatenate(rows), np.concatenate(cols))),
        shape=(len(levels), n_leaves))
    return Tree(np.array(levels, dtype=object), np.array(codes, dtype=object), membership)


def scan_one_drug(leaves: pd.DataFrame, replicates: int, rng: np.random.Generator) -> pd.DataFrame:
    """Every node of one drug's tree: risk and control events, expected risk events, LLR,
    Monte Carlo (family-wise) p-value and the node's own mid-p."""
    tree = build_tree(leaves)
    risk = leaves["risk_events"].to_numpy(dtype=np.int64)
    total = risk + leaves["control_events"].to_numpy(dtype=np.int64)
    expected = leaves["expected_risk"].to_numpy(dtype=float)
    c = tree.membership @ risk
    n = tree.membership @ total
    e = tree.membership @ expected
    llr = log_likelihood_ratio(c, n, e)
    share = np.clip(np.divide(expected, total, out=np.zeros(len(total)), where=total > 0), 0.0, 1.0)
    simulated = rng.binomial(total, share, size=(replicates, len(total))).astype(float)
    sim_c = np.asarray((tree.membership @ simulated.T).T)  # replicates x nodes
    sim_max = np.sort(log_likelihood_ratio(sim_c, n[None, :], e[None, :]).max(axis=1))
    above = replicates - np.searchsorted(sim_max, llr + TIE_TOLERANCE, side="right")
    ties = replicates - np.searchsorted(sim_max, llr - TIE_TOLERANCE, side="left") - above
    p_value = (1.0 + above + rng.integers(0, ties + 1)) / (replicates + 1.0)
    return pd.DataFrame({
        "outcome_level": tree.levels,
        "outcome_code": tree.codes,
        "tree_risk": c,
        "tree_control": n - c,
        "tree_expected": e,
        "tree_llr": llr,
        "tree_p": p_value,
        "tree_node_p": mid_p(c, n, e),
    })


def drug_rng(seed: int, drug_level: str, drug_code: str) -> np.random.Generator:
    """A generator that depends only on the seed and the drug (results do not depend on order)."""
    return np.random.default_rng([seed, zlib.crc32(f"{drug_level}:{drug_code}".encode())])


COLUMNS = ["drug_level", "drug_code", "outcome_level", "outcome_code", "tree_risk", "tree_control",
           "tree_expected", "tree_llr", "tree_p", "tree_node_p"]


def tree_scan(leaf_events: pd.DataFrame, replicates: int = 999, seed: int = 1) -> pd.DataFrame:
    """Node results for every drug of ``leaf_events`` (columns drug_level, drug_code, icd3,
    block_code, chapter_code, risk_events, control_events, expected_risk)."""
    parts = []
    leaf_events = leaf_events.sort_values(["drug_level", "drug_code", "icd3"], kind="stable")
    for (level, code), leaves in leaf_events.groupby(["drug_level", "drug_code"], sort=True):
        nodes = scan_one_drug(leaves.reset_index(drop=True), replicates, drug_rng(seed, str(level), str(code)))
        nodes.insert(0, "drug_code", code)
        nodes.insert(0, "drug_level", level)
        parts.append(nodes)
    if not parts:
        return pd.DataFrame(columns=COLUMNS)
    return pd.concat(parts, ignore_index=True)[COLUMNS]


def signal_nodes(nodes: pd.DataFrame, leaves: pd.DataFrame) -> pd.DataFrame:
    """For each drug and each 3-character code and block of its tree, the node where a signal
    on it lives: among the code (or block) and the nodes above it, the one with the largest
    LLR (the lowest level on ties). Columns drug_level, drug_code, outcome_level, outcome_code,
    tree_node_level, tree_node_code, tree_node_llr."""
    key = ["drug_level", "drug_code"]
    levels = [("icd3", "icd3"), ("block", "block_code"), ("chapter", "chapter_code")]
    paths = pd.concat([
        leaves[key + [outcome_column, node_column]].set_axis(key + ["outcome_code", "node_code"], axis=1).assign(
            outcome_level=outcome_level, node_level=node_level, depth=depth)
        for start, (outcome_level, outcome_column) in enumerate(levels[:2])
        for depth, (node_level, node_column) in enumerate(levels) if depth >= start
    ], ignore_index=True).dropna(subset=["outcome_code", "node_code"]).drop_duplicates()
    llr = nodes[key + ["outcome_level", "outcome_code", "tree_llr"]].set_axis(
        key + ["node_level", "node_code", "tree_node_llr"], axis=1)
    best = (paths.merge(llr, on=key + ["node_level", "node_code"], how="inner")
            .sort_values(key + ["outcome_level", "outcome_code", "tree_node_llr", "depth"],
                         ascending=[True, True, True, True, False, True], kind="stable")
            .drop_duplicates(key + ["outcome_level", "outcome_code"]))
    return best.rename(columns={"node_level": "tree_node_level", "node_code": "tree_node_code"})[
        key + ["outcome_level", "outcome_code", "tree_node_level", "tree_node_code", "tree_node_llr"]
    ].reset_index(drop=True)
