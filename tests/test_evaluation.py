"""The evaluation base: the truth file read and checked, ranking metrics exact on hand-made pairs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from veille.errors import VeilleError
from veille.evaluation import (
    Effect,
    TopK,
    auc,
    average_precision,
    read_effects,
    top_k,
    truth_effects,
    truth_section,
)


def test_auc_and_average_precision():
    scores, y = [0.9, 0.8, 0.7, 0.1], [True, False, True, False]
    # positives beat 2 and 1 of the 2 negatives; precision 1/1 at the first positive, 2/3 at the second
    assert auc(scores, y) == 0.75
    assert average_precision(scores, y) == pytest.approx(5 / 6)
    # lower is stronger (p-values), infinite scores allowed, a tie counts one half
    assert auc([1, 5, np.inf], [True, False, True], higher_is_stronger=False) == 0.5
    assert auc([1, 5, 5], [True, False, True], higher_is_stronger=False) == 0.75
    assert average_precision([1, 2, np.inf], [True, True, False], higher_is_stronger=False) == 1.0
    assert auc([1, 2], [True, True]) is None and average_precision([1, 2], [False, False]) is None


def test_top_k():
    ranked = [True, False, True, False, False]
    assert top_k(ranked, 2, true=4) == TopK(k=2, ranked=2, found=1, true=4)
    assert (top_k(ranked, 2, true=4).recall, top_k(ranked, 2, true=4).precision) == (0.25, 0.5)
    at10 = top_k(ranked, 10)  # the ranking is shorter than k: precision over what it lists
    assert (at10.ranked, at10.found, at10.recall, at10.precision) == (5, 2, 1.0, 0.4)
    assert (top_k([], 3, true=0).recall, top_k([], 3, true=0).precision) == (None, None)


def test_truth_sections_and_effects(tmp_path):
    (tmp_path / "truth.json").write_text(json.dumps({
        "effects": [{"exposure_atc": "a10bg03", "outcome_icd10": "C67", "hazard_ratio": 2},
                    {"exposure_atc": "A10BG02", "outcome_icd10": "I50", "hazard_ratio": 1.0,
                     "comparator_atc": "A10BG03"}],
        "pathways": {}, "fraud": {"P1": {"kind": "phantom_pharmacy"}}}))
    assert read_effects(tmp_path) == [Effect("A10BG03", "C67", 2.0), Effect("A10BG02", "I50", 1.0, "A10BG03")]
    assert truth_section(tmp_path, "fraud", "actor -> kind")[1] == {"P1": {"kind": "phantom_pharmacy"}}
    with pytest.raises(VeilleError, match=r"^truth.json has no 'pathways' section \(patient -> archetype\)$"):
        truth_section(tmp_path / "truth.json", "pathways", "patient -> archetype")
    with pytest.raises(VeilleError, match=r"^t.json: effect #1 needs exposure_atc, outcome_icd10 and a numeric "
                                          r"hazard_ratio$"):
        truth_effects({"effects": [{"exposure_atc": "N05BA", "outcome_icd10": "S72", "hazard_ratio": "high"}]},
                      "t.json")
    with pytest.raises(VeilleError, match=r"^t.json has no 'effects' section \(a list of injected effects\)$"):
        truth_effects({"effects": []}, "t.json")
    assert truth_effects({"effects": []}, required=False) == []


def test_fraud_alerts_against_a_hand_made_truth():
    from veille.fraud.evaluate import evaluate

    truth = {"P1": {"kind": "phantom_pharmacy"}, "P2": {"kind": "phantom_pharmacy"},
             "NIR9": {"kind": "doctor_shopping"}}
    scores = pd.DataFrame({
        "entity_kind": ["provider"] * 4 + ["patient"] * 3,
        "entity_id": ["P1", "P2", "P3", "P4", "NIR9", "NIR1", "NIR2"],
        "score": [0.9, 0.0, 0.95, 0.0, 0.5, 0.0, 0.2],
        "alerted": [True, False, True, False, True, False, True],
    })
    # alerted, best first: P3 (no actor), P1, NIR9, NIR2 (no actor); k = 2 x 3 actors = 6
    assert evaluate(truth, scores) == {
        "actors": 3, "alerted_entities": 4, "k": 6, "true_in_top_k": 2,
        "precision_at_k": 0.5, "recall_at_k": 2 / 3, "precision_at_n": 2 / 3,
        "kinds": {
            # among providers: P1 beats P4, loses to P3; P2 ties P4 (0, never alerted): 1.5 / 4
            "phantom_pharmacy": {"actors": 2, "found_in_top_k": 1, "alerted": 1, "recall_at_k": 0.5,
                                 "auc": 0.375, "average_precision": 0.5},
            "doctor_shopping": {"actors": 1, "found_in_top_k": 1, "alerted": 1, "recall_at_k": 1.0,
                                "auc": 1.0, "average_precision": 1.0},
        },
    }


def test_injected_hr_reads_the_effects():
    from veille.study.truth import injected_hr

    truth = {"effects": [
        {"exposure_atc": "A10BG02", "outcome_icd10": "I50", "hazard_ratio": 3.0},
        {"exposure_atc": "A10BG03", "outcome_icd10": "I50", "hazard_ratio": 1.5},
        {"exposure_atc": "N05BA", "outcome_icd10": "S72", "hazard_ratio": 2.0},
    ]}
    assert injected_hr(truth, ["A10BG02"], ["A10BG03"], "heart_failure") == 2.0
    assert injected_hr(truth, ["N05BA01"], None, "hip_fracture") == 2.0
    assert injected_hr(truth, ["N05BA01"], None, "dp:C67") == 1.0
    assert injected_hr(truth, ["A10BG"], None, "heart_failure") is None  # two effects: ambiguous
    assert injected_hr({"effects": []}, ["N05BA"], None, "hip_fracture") == 1.0
