"""`veille bench coverage`: the truth of each estimate and the summary, on hand-made pairs."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from veille.study.config import find_study
from veille.study.coverage import summarise, truth_of

TRUTH = {"effects": [
    {"exposure_atc": "N05BA", "outcome_icd10": "S72", "hazard_ratio": 3.0, "window": "on_treatment",
     "latency_days": 0, "population": "age>=65"},
]}


def test_each_estimate_is_paired_with_what_it_estimates():
    sccs = find_study("benzodiazepines_hip_fracture_sccs")
    row = {"is_negative_control": False, "outcome_id": "hip_fracture", "cohort_id": sccs.id, "analysis": "sccs"}
    assert truth_of(sccs, {**row, "term": "first 30 days"}, TRUTH) == 3.0
    assert truth_of(sccs, {**row, "term": "day 30 to the end of the episode"}, TRUTH) is None
    assert truth_of(sccs, {**row, "is_negative_control": True, "outcome_id": "dp:J18", "term": "first 30 days"},
                    TRUTH) == 1.0
    # the multi-drug ConvSCCS: each drug's first lag only
    conv = {**row, "analysis": "convsccs_lag"}
    assert truth_of(sccs, {**conv, "term": "benzodiazepine anxiolytics: days 0-29"}, TRUTH) == 3.0
    assert truth_of(sccs, {**conv, "term": "benzodiazepine anxiolytics: days 30-59"}, TRUTH) is None
    assert truth_of(sccs, {**conv, "term": "Z-drugs: days 0-29"}, TRUTH) == 1.0  # N05CF: not in TRUTH
    assert truth_of(sccs, {**row, "analysis": "convsccs", "term": "Z-drugs"}, TRUTH) is None
    fall = find_study("fall_risk_hip_fracture")
    comp = next(c for c in fall.comparisons if c.id == "benzodiazepines_vs_non_users")
    cohort = {"is_negative_control": False, "outcome_id": "hip_fracture", "cohort_id": fall.cohort_id(comp),
              "analysis": "iptw"}
    assert truth_of(fall, {**cohort, "term": "exposed"}, TRUTH) == 3.0
    assert truth_of(fall, {**cohort, "term": ">=2y"}, TRUTH) is None


def test_the_summary_counts_coverage_bias_and_width():
    pairs = pd.DataFrame([
        # truth 2: covered, error log(2.5/2); not covered, error log(4/2)
        {"design": "cohort", "analysis": "iptw", "negative_control": False, "truth": 2.0, "hr": 2.5,
         "ci_low": 1.5, "ci_high": 3.0, "cal_ci_low": 1.0, "cal_ci_high": 4.0},
        {"design": "cohort", "analysis": "iptw", "negative_control": False, "truth": 2.0, "hr": 4.0,
         "ci_low": 3.0, "ci_high": 6.0, "cal_ci_low": 1.5, "cal_ci_high": 8.0},
        {"design": "cohort", "analysis": "iptw", "negative_control": True, "truth": 1.0, "hr": 1.0,
         "ci_low": 0.5, "ci_high": 2.0, "cal_ci_low": None, "cal_ci_high": None},
        {"design": "cohort", "analysis": "iptw", "negative_control": False, "truth": None, "hr": 1.2,
         "ci_low": 0.9, "ci_high": 1.6, "cal_ci_low": None, "cal_ci_high": None},
    ])
    (row,) = summarise(pairs).to_dict("records")
    assert (row["design"], row["analysis"], row["estimates"], row["negative_controls"], row["undefined_truth"]) == (
        "cohort", "iptw", 3, 1, 1)
    assert row["coverage"] == pytest.approx(2 / 3)
    assert row["calibrated_coverage"] == 1.0  # both calibrated intervals hold 2; the NC has none
    assert row["mean_log_error"] == pytest.approx((math.log(1.25) + math.log(2.0) + 0.0) / 3)
    assert row["mean_abs_log_error"] == pytest.approx(row["mean_log_error"])
    assert row["mean_log_width"] == pytest.approx((math.log(2) + math.log(2) + math.log(4)) / 3)


def test_the_supply_exposure_drops_every_grace_and_keeps_the_rest():
    from veille.study.coverage import supply_exposure

    fall, sccs = find_study("fall_risk_hip_fracture"), find_study("benzodiazepines_hip_fracture_sccs")
    assert (fall.exposure_strategy.grace, sccs.sccs.grace) == (30, 30)
    fall0, sccs0 = supply_exposure(fall), supply_exposure(sccs)
    assert (fall0.exposure_strategy.grace, fall0.exposure_strategy.kind) == (0, "as_treated")
    assert sccs0.sccs.grace == 0
    assert sccs0.sccs.risk_windows == sccs.sccs.risk_windows
    assert [c.id for c in fall0.comparisons] == [c.id for c in fall.comparisons]
    assert fall.exposure_strategy.grace == 30  # the study read from its file is left as it was
