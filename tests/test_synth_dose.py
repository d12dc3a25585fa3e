"""A dose-dependent effect in the generator (issue 26): the bundled `dose` scenario makes the
bladder-cancer hazard of pioglitazone users rise with the cumulative mg dispensed. The latent
person-time gives back each category's ratio; the scenario's validation refuses a malformed
dose block."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pytest
import yaml
from scipy.stats import norm
from test_synth_effects import poisson_fit
from veille.errors import VeilleError
from veille.synth import generate
from veille.synth.scenario import _read_bundled, load_scenario


@pytest.fixture(scope="module")
def latent(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dose")
    sc = _read_bundled("dose")
    # a higher bladder-cancer rate and more pioglitazone users, so that this small extract has
    # events in each category
    sc["outcomes"] = {"C67": {"rate": 40.0}}
    sc["classes"] = {"glitazone": {"p": 0.6, "duration": 1500}}
    (tmp / "sc.yml").write_text(yaml.safe_dump(sc), "utf-8")
    out = tmp / "extract"
    generate(out, patients=30000, years=5, start=date(2015, 1, 1), seed=8, scenario=tmp / "sc.yml")
    truth = json.loads((out / "truth.json").read_text("utf-8"))
    parts = [dict(np.load(f)) for f in sorted((out / "latent").glob("chunk_*.npz"))]
    return truth, {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def test_truth_lists_the_category_ratios(latent):
    truth, _ = latent
    pio = [e for e in truth["effects"] if e["exposure_atc"] == "A10BG03"]
    assert [e["dose"] for e in pio] == [{"thresholds_mg": [10500.0, 28000.0], "category_hazard_ratios": [1.0, 1.6, 2.5]}]
    # one figure for the readers that want one (a scan's evaluation counts it a positive): the largest
    assert [(e["hazard_ratio"], e["negative_control"]) for e in pio] == [(2.5, False)]


def test_a_dose_dependent_effect_has_no_single_injected_ratio(latent):
    from veille.study.truth import injected_hr

    truth, _ = latent
    assert injected_hr(truth, ["A10BG03"], None, "bladder_cancer_broad") is None
    assert injected_hr(truth, ["A10BH01"], ["A10BG03"], "bladder_cancer_broad") is None  # as the comparator too
    assert injected_hr(truth, ["A10BG02"], None, "heart_failure") == 1.25


def test_the_latent_person_time_gives_back_each_category_ratio(latent):
    truth, lat = latent
    spec = truth["scenario"]["outcomes"]["C67"]
    pos = np.empty(lat["patient_index"].max() + 1, np.int64)
    pos[lat["patient_index"]] = np.arange(len(lat["patient_index"]))
    p = pos[lat["pt_C67_patient"]]
    bits = lat["pt_C67_bits"].astype(np.int64)
    n_bits = int(bits.max()).bit_length()
    cols = [np.ones(len(p)), (np.maximum(lat["patient_age"][p], 0) - 70) / 10, lat["patient_male"][p].astype(float),
            lat["patient_frailty"][p]]
    cols += [lat[f"patient_cond_{c}"][p].astype(float) for c in spec["conditions"]]
    first = len(cols)
    b = [((bits >> j) & 1).astype(bool) for j in range(n_bits)]
    # pioglitazone's categories (bits 0-2: from the first dose, from 10,500 mg, from 28,000 mg,
    # nested), then the outcome's other effects
    cols += [b[0] & ~b[1], b[1] & ~b[2], b[2], *b[3:]]
    x = np.column_stack(cols).astype(float)
    keep = x.std(axis=0) > 0
    keep[0] = True
    assert keep[first:first + 3].all()
    beta, se = poisson_fit(x[:, keep], lat["pt_C67_event"].astype(float), np.log(lat["pt_C67_days"].astype(float)))
    z = norm.ppf(1 - 0.05 / 2 / 3)
    for k, hr in enumerate((1.0, 1.6, 2.5)):
        lo, hi = np.exp(beta[first + k] - z * se[first + k]), np.exp(beta[first + k] + z * se[first + k])
        assert lo <= hr <= hi, (k, np.exp(beta[first + k]), lo, hi)
    # the top category is told apart from no effect
    assert np.exp(beta[first + 2] - z * se[first + 2]) > 1


@pytest.mark.parametrize(("dose", "message"), [
    ({"thresholds_mg": [10500]}, "scenario effect #1: dose needs thresholds_mg and one more hazard_ratios than thresholds"),
    ({"thresholds_mg": [28000, 10500], "hazard_ratios": [1.0, 1.5, 2.0]},
     "scenario effect #1: dose thresholds_mg must be positive and ascending, hazard_ratios > 0"),
    ({"thresholds_mg": [10500], "hazard_ratios": [1.2, 1.5]},
     "scenario effect #1: hazard_ratio must be the first of dose.hazard_ratios"),
])
def test_a_malformed_dose_block_is_refused(tmp_path, dose, message):
    sc = _read_bundled("dose")
    sc["effects"][0]["dose"] = dose
    (tmp_path / "sc.yml").write_text(yaml.safe_dump(sc), "utf-8")
    with pytest.raises(VeilleError) as err:
        load_scenario(tmp_path / "sc.yml")
    assert str(err.value) == message
