"""From the counting mart to the ranked signal table: every method, the combination, the rank."""

from __future__ import annotations

import numpy as np
import pandas as pd

from veille.scan import stats
from veille.scan.settings import ScanSettings
from veille.scan.treescan import signal_nodes, tree_scan

PAIR_KEY = ["drug_level", "drug_code", "outcome_level", "outcome_code"]
# each method's p-value in the combination: the tree scan's own node p (its family-wise tree_p
# would be adjusted twice, the BH q-value of the combination adjusting for every pair)
METHOD_P = {"ssa": "ssa_p", "oe": "oe_p", "tree": "tree_node_p"}
TREE_COLUMNS = ["tree_expected", "tree_llr", "tree_p", "tree_node_p", "tree_node_level", "tree_node_code"]
CONV_COLUMNS = ["conv_ri", "conv_ci_low", "conv_ci_high", "conv_peak_ri", "conv_peak_lag", "conv_events", "conv_p"]


def rank_signals(pairs: pd.DataFrame, leaves: pd.DataFrame, settings: ScanSettings,
                 conv: pd.DataFrame | None = None) -> pd.DataFrame:
    """``pairs`` (scan.scan_pair_counts), ``leaves`` (scan.scan_tree_events) and ``conv`` (the
    ConvSCCS summary per pair, veille.scan.conv; None: not run) -> one row per pair with each
    method's estimate, the combined p-value, the BH q-value and the rank."""
    pairs = pairs.reset_index(drop=True)
    ssa = stats.sequence_symmetry(pairs["ssa_drug_first"], pairs["ssa_outcome_first"],
                                  pairs["nsr_numerator"], pairs["nsr_denominator"])
    oe = stats.observed_expected(pairs["oe_observed"], pairs["oe_expected"])
    latent = stats.observed_expected(pairs["oe_latent_observed"], pairs["oe_latent_expected"])
    latent = latent[["oe_ratio", "oe_p"]].rename(columns=lambda c: c.replace("oe_", "oe_latent_"))
    groups = pairs["drug_level"] + "|" + pairs["outcome_level"] + "|" + pairs["outcome_code"]
    oe["oe_cal_p"] = stats.calibrated_oe_p(pairs["oe_observed"], pairs["oe_expected"], groups)
    latent["oe_latent_cal_p"] = stats.calibrated_oe_p(pairs["oe_latent_observed"],
                                                      pairs["oe_latent_expected"], groups)
    nodes = tree_scan(leaves, settings.replicates, settings.seed)
    tree = (pairs[PAIR_KEY].merge(nodes[PAIR_KEY + TREE_COLUMNS[:4]], on=PAIR_KEY, how="left")
            .merge(signal_nodes(nodes, leaves)[PAIR_KEY + TREE_COLUMNS[4:]], on=PAIR_KEY, how="left"))
    if conv is None:
        conv = pd.DataFrame(columns=PAIR_KEY + CONV_COLUMNS)
    conv = pairs[PAIR_KEY].merge(conv[PAIR_KEY + CONV_COLUMNS], on=PAIR_KEY, how="left")
    conv = conv.astype({"conv_peak_lag": "Int64", "conv_events": "Int64"})
    out = pd.concat([pairs, ssa, oe, latent, tree[TREE_COLUMNS], conv[CONV_COLUMNS]], axis=1)
    no_tree = (out["tree_risk"] + out["tree_control"]) == 0
    out.loc[no_tree, TREE_COLUMNS] = None
    out["combined_p"] = stats.combined_p(out[list(METHOD_P.values())])
    out["q_value"] = stats.bh_q_values(out["combined_p"].to_numpy())
    out["is_signal"] = out["q_value"] <= settings.fdr
    tie_break = out["oe_ic025"].fillna(-np.inf)
    out = out.assign(_tie=-tie_break).sort_values(
        ["combined_p", "_tie"] + PAIR_KEY, kind="stable").drop(columns="_tie")
    out["rank"] = np.arange(1, len(out) + 1)
    return out.reset_index(drop=True)
