"""Scan statistics: tree-scan calibration under the null, power, closed-form estimates, BH."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from veille.errors import VeilleError
from veille.scan import stats
from veille.scan.evaluate import auc, poisson_power
from veille.scan.settings import ScanSettings
from veille.scan.treescan import log_likelihood_ratio, mid_p, signal_nodes, tree_scan

RISK, CONTROL = 182, 183
P_RISK = RISK / (RISK + CONTROL)


def null_leaf_events(drugs: int, seed: int) -> pd.DataFrame:
    """Null-only data: per drug, 30 ICD-10-like leaves in 6 blocks and 2 chapters, Poisson(6)
    events per leaf, each exposed with probability risk / (risk + control)."""
    rng = np.random.default_rng(seed)
    leaves = pd.DataFrame({"icd3": [f"X{i:02d}" for i in range(30)],
                           "block_code": [f"B{i // 5}" for i in range(30)],
                           "chapter_code": [f"C{i // 15}" for i in range(30)]})
    frames = []
    for d in range(drugs):
        n = rng.poisson(6, len(leaves))
        risk = rng.binomial(n, P_RISK)
        frames.append(leaves.assign(drug_level="atc7", drug_code=f"D{d:04d}", risk_events=risk,
                                    control_events=n - risk, expected_risk=n * P_RISK))
    return pd.concat(frames, ignore_index=True)


def test_tree_scan_p_values_are_uniform_under_the_null():
    nodes = tree_scan(null_leaf_events(400, seed=5), replicates=199, seed=3)
    # the scan's test per drug: the p-value of its most likely cut (smallest over its nodes)
    p = nodes.groupby("drug_code")["tree_p"].min().to_numpy()
    assert len(p) == 400
    assert sps.kstest(p, "uniform").pvalue > 0.01
    # false positives at 5%: within the 99.9% binomial range of 400 x 0.05
    lo, hi = sps.binom.ppf([0.0005, 0.9995], 400, 0.05)
    assert lo <= (p <= 0.05).sum() <= hi


def test_tree_scan_finds_an_injected_leaf_and_its_block():
    data = null_leaf_events(1, seed=8)
    leaf = data["icd3"] == "X07"
    data.loc[leaf, ["risk_events", "control_events", "expected_risk"]] = [30, 5, 35 * P_RISK]
    nodes = tree_scan(data, replicates=999, seed=1).set_index("outcome_code")
    assert nodes.loc["X07", "tree_p"] == pytest.approx(1 / 1000)
    assert nodes.loc["B1", "tree_p"] < 0.05  # the block holding it, diluted by 4 null leaves
    assert nodes["tree_llr"].idxmax() == "X07"
    assert nodes.loc["X07", "tree_llr"] == pytest.approx(
        30 * math.log(30 / 35 / P_RISK) + 5 * math.log(5 / 35 / (1 - P_RISK)))


def test_tree_scan_is_reproducible_and_order_free():
    data = null_leaf_events(5, seed=2)
    a = tree_scan(data, replicates=99, seed=7)
    b = tree_scan(data.iloc[::-1], replicates=99, seed=7)
    key = ["drug_code", "outcome_level", "outcome_code"]
    pd.testing.assert_frame_equal(a.sort_values(key).reset_index(drop=True),
                                  b.sort_values(key).reset_index(drop=True))


def test_llr_is_zero_without_excess():
    assert log_likelihood_ratio(np.array([2, 0, 5]), np.array([4, 0, 10]), np.array([2, 0, 5.5])).tolist() == [
        0, 0, 0]


def test_the_expected_count_comes_from_each_events_own_exposed_share():
    # 4 events, each from a patient exposed 1/10 of his observed days: 0.4 expected exposed, so
    # 3 exposed events are an excess; at a fixed share of one half they would not be
    c, n, e = np.array([3]), np.array([4]), np.array([0.4])
    assert log_likelihood_ratio(c, n, e)[0] == pytest.approx(3 * math.log(3 / 0.4) + math.log(1 / 3.6))
    assert mid_p(c, n, e)[0] == pytest.approx(sps.binom.sf(3, 4, 0.1) + 0.5 * sps.binom.pmf(3, 4, 0.1))
    assert mid_p(np.array([3]), np.array([4]), np.array([2.0]))[0] == pytest.approx(3 / 16)


def test_each_signal_lives_in_the_node_with_the_largest_llr():
    # drug D: X00 and X01 (block B0) each mildly in excess, together more; X05 (block B1) strongly
    # alone; X02 and X06 at or below their expected count
    leaves = pd.DataFrame({
        "drug_level": "atc7", "drug_code": "D", "icd3": ["X00", "X01", "X02", "X05", "X06"],
        "block_code": ["B0", "B0", "B0", "B1", "B1"], "chapter_code": "C0",
        "risk_events": [8, 8, 6, 12, 1], "control_events": [4, 4, 6, 0, 11],
        "expected_risk": [6.0, 6.0, 6.0, 6.0, 6.0]})
    nodes = tree_scan(leaves, replicates=99, seed=1)
    llr = nodes.set_index("outcome_code")["tree_llr"]
    assert llr["X00"] == pytest.approx(8 * math.log(8 / 6) + 4 * math.log(4 / 6))
    assert llr["B0"] == pytest.approx(22 * math.log(22 / 18) + 14 * math.log(14 / 18))
    assert llr["C0"] == pytest.approx(35 * math.log(35 / 30) + 25 * math.log(25 / 30))
    assert llr["X00"] < llr["C0"] < llr["B0"] < llr["X05"]
    lives = signal_nodes(nodes, leaves).set_index(["outcome_level", "outcome_code"])
    where = {key: (r.tree_node_level, r.tree_node_code) for key, r in lives.iterrows()}
    assert where == {("icd3", "X00"): ("block", "B0"), ("icd3", "X01"): ("block", "B0"),
                     ("icd3", "X02"): ("block", "B0"), ("icd3", "X05"): ("icd3", "X05"),
                     ("icd3", "X06"): ("chapter", "C0"), ("block", "B0"): ("block", "B0"),
                     ("block", "B1"): ("chapter", "C0")}
    assert lives.loc[("icd3", "X00"), "tree_node_llr"] == pytest.approx(llr["B0"])


def test_sequence_symmetry_closed_form():
    out = stats.sequence_symmetry(np.array([30]), np.array([10]), np.array([10.0]), np.array([20.0]))
    r = out.iloc[0]
    assert r.ssa_csr == 3.0 and r.ssa_nsr == 1.0 and r.ssa_asr == 3.0
    # exact CI of the share 30/40, as a ratio
    lo, hi = sps.beta.ppf(0.025, 30, 11), sps.beta.ppf(0.975, 31, 10)
    assert r.ssa_ci_low == pytest.approx(lo / (1 - lo))
    assert r.ssa_ci_high == pytest.approx(hi / (1 - hi))
    assert r.ssa_p == pytest.approx(sps.binom.sf(29, 40, 0.5))
    # the trend correction: null share 2/3 (NSR 2) halves the ratio
    adj = stats.sequence_symmetry(np.array([30]), np.array([10]), np.array([20.0]), np.array([30.0]))
    assert adj.iloc[0].ssa_asr == pytest.approx(1.5)


def test_observed_expected_shrinks_rare_pairs():
    out = stats.observed_expected(np.array([1, 100]), np.array([0.01, 1.0]))
    rare, common = out.iloc[0], out.iloc[1]
    assert rare.oe_ratio == pytest.approx(100.0)
    assert rare.oe_ic == pytest.approx(math.log2(1.5 / 0.51))
    assert rare.oe_ic025 < 0 < common.oe_ic025
    assert common.oe_p == pytest.approx(sps.poisson.sf(99, 1.0))


def test_empirical_null_recovers_a_shared_bias_despite_a_few_effects():
    # 60 null drugs share a bias log(1.3) with spread 0.1 (on top of their own sampling
    # error); 6 drugs carry a real effect of x3: the fitted null stays near (log 1.3, 0.1)
    rng = np.random.default_rng(7)
    expected = rng.uniform(20, 200, 66)
    ratio = np.exp(np.log(1.3) + rng.normal(0, 0.1, 66))
    ratio[:6] *= 3
    observed = rng.poisson(expected * ratio)
    log_ratio = np.log((observed + 0.5) / (expected + 0.5))
    mu, tau = stats.empirical_null(log_ratio, 1 / np.sqrt(observed + 0.5))
    assert mu == pytest.approx(math.log(1.3), abs=0.05)
    assert 0.05 < tau < 0.2  # sampling error of a spread from 60 drugs; unweighted moments give 0.26
    p = stats.calibrated_oe_p(observed, expected, pd.Series(["I21"] * 66))
    assert (p[:6] < 1e-4).all()  # the effects stand out of the calibrated null
    assert 0.2 < np.median(p[6:]) < 0.8  # the null drugs do not (raw Poisson p: all tiny)
    raw = sps.poisson.sf(observed[6:] - 1, expected[6:])
    assert np.median(raw) < 0.05


def test_calibration_is_per_outcome_and_leaves_unexposed_pairs_undefined():
    observed = np.array([30, 60, 45, 30, 0])
    expected = np.array([30.0, 30.0, 30.0, 30.0, 0.0])
    groups = pd.Series(["A", "A", "A", "B", "B"])
    p = stats.calibrated_oe_p(observed, expected, groups)
    assert np.isnan(p[4])
    # group B has one pair with E >= 1: too few to fit, the null is N(0, 0) -> the plain z-test
    se = 1 / math.sqrt(30.5)
    assert p[3] == pytest.approx(sps.norm.sf(math.log(30.5 / 30.5) / se))


def test_poisson_power():
    # E = 10: P(X >= 16 | 10) = 0.049 <= 0.05 < P(X >= 15 | 10), so 16 events are needed
    assert poisson_power(np.array([10.0]), np.array([2.0]))[0] == pytest.approx(sps.poisson.sf(15, 20.0))
    assert poisson_power(np.array([0.0]), np.array([2.0]))[0] == 0.0
    assert poisson_power(np.array([5.6]), np.array([1.22]))[0] < 0.15  # pioglitazone at 500,000


def test_bh_and_combination():
    p = np.array([0.01, 0.04, 0.03, 0.5])
    assert stats.bh_q_values(p).tolist() == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.5])
    frame = pd.DataFrame({"a": [0.01, np.nan, np.nan], "b": [0.2, 0.3, np.nan], "c": [0.5, np.nan, np.nan]})
    assert stats.combined_p(frame).tolist() == pytest.approx([0.03, 0.3, 1.0])


def test_auc_counts_ties_half():
    assert auc(np.array([1, 2, 5]), np.array([True, True, False])) == 1.0
    assert auc(np.array([1, 5, 5]), np.array([True, False, True])) == pytest.approx(0.75)


def test_bad_settings_are_one_line_errors():
    with pytest.raises(VeilleError, match="^tree_gap_days: must be >= 0, got -5$"):
        ScanSettings(tree_gap_days=-5)
    with pytest.raises(VeilleError, match="^replicates: must be >= 19, got 5$"):
        ScanSettings(replicates=5)


def test_truth_file_errors_are_one_line(tmp_path):
    from veille.scan.evaluate import read_truth

    with pytest.raises(VeilleError, match=f"^truth file not found: {tmp_path}/truth.json$"):
        read_truth(tmp_path)
    bad = tmp_path / "t.json"
    bad.write_text('{"effects": [{"exposure_atc": "A10BG03"}]}')
    with pytest.raises(VeilleError, match="effect #1 needs exposure_atc, outcome_icd10 and a "
                                          "numeric hazard_ratio$"):
        read_truth(bad)
    bad.write_text("{")
    with pytest.raises(VeilleError, match="not valid JSON"):
        read_truth(bad)


def test_evaluate_reports_power_masks_counts_and_skips_unstored_methods(tmp_path):
    from veille.scan.evaluate import evaluate

    truth = tmp_path / "truth.json"
    truth.write_text('{"effects": ['
                     '{"exposure_atc": "A10BG03", "outcome_icd10": "C67", "hazard_ratio": 2.0},'
                     '{"exposure_atc": "N05BA", "outcome_icd10": "S72", "hazard_ratio": 1.5},'
                     '{"exposure_atc": "C10AA05", "outcome_icd10": "C67", "hazard_ratio": 1}]}')
    signals = pd.DataFrame({
        "drug_level": ["atc7", "atc7"], "drug_code": ["A10BG03", "C10AA05"],
        "outcome_level": ["icd3", "icd3"], "outcome_code": ["C67", "C67"],
        "oe_observed": [25, 4], "oe_expected": [10.0, 5.0], "rank": [1, 2],
        "ssa_p": [0.01, 0.5], "oe_p": [1e-4, 0.7], "tree_p": [0.2, 0.9],
        "oe_cal_p": [np.nan, np.nan], "oe_latent_p": [np.nan, np.nan],  # a run stored before 0008
    })
    result = evaluate(truth, signals)
    # pioglitazone outscores the statin, the unscanned benzodiazepine (worst score) does not
    assert result["auc"] == {"ssa": 0.5, "oe": 0.5, "oe_calibrated": None, "oe_latent": None,
                             "tree": 0.5, "tree_node": None, "convsccs": None, "combined": 0.5}
    pio, benzo, statin = result["effects"]
    assert (pio["rank"], pio["observed"], pio["expected"]) == (1, 25, 10.0)
    assert pio["power"] == pytest.approx(sps.poisson.sf(15, 20.0), abs=5e-4)
    assert (benzo["rank"], benzo["observed"], benzo["power"]) == (None, None, None)  # not scanned
    assert pio["tree_node"] is None  # a run stored before the tree nodes (0018)
    assert (statin["observed"], statin["power"]) == ("<10", None)  # small cell; a negative control


def test_breakdowns_hide_small_cells_and_their_complement():
    from veille.privacy import mask_breakdown

    assert mask_breakdown([3, 31, 35]) == ["<10", "\u226510", "35"]
    assert mask_breakdown([3, 4, 35]) == ["<10", "<10", "35"]
    assert mask_breakdown([12, 31]) == ["12", "31"]
    assert mask_breakdown([0]) == ["<10"]
