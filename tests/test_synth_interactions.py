"""Drug-drug interactions in the generator (issue 25): the bundled ``interactions`` scenario,
its validation, the short courses, and the latent person-time giving back every injected
interaction hazard ratio (and 1 for the null pairs) within its 95% family-wise interval."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy.stats import chi2
from test_synth_stress import PACK_FILES, _digest
from veille.errors import VeilleError
from veille.synth import generate
from veille.synth.catalog import DRUG_INDEX
from veille.synth.scenario import _read_bundled, load_scenario


def test_the_strong_scenario_writes_the_same_bytes_as_before_interactions(tmp_path):
    # digest after the pack strengths of issue 26; without the pack files, the digest at
    # f37a81d, before the catalog had a 31st drug (the default one is pinned in test_synth_stress)
    generate(tmp_path, 400, 2, date(2016, 3, 1), 11, scenario="strong", chunk_size=150)
    assert _digest(tmp_path) == "d205d1a2b609f924e1745dbb52130889a4a3453e9f3f0f719e210c65e0e36f0d"
    assert _digest(tmp_path, PACK_FILES) == "1c649f83496e113b86166ebaea82d28f3a5fab9c992d47aacff6fd265af03383"


def test_the_bundled_scenario_has_every_shape_nulls_and_traps():
    sc = load_scenario("interactions")
    inter = sc["interactions"]
    assert sorted(i["shape"] for i in inter if float(i["hazard_ratio"]) != 1) == ["no_main", "on_top", "short_course"]
    assert sum(float(i["hazard_ratio"]) == 1 for i in inter) == 13
    assert sc["effects"] == load_scenario("default")["effects"]


def _scenario(tmp_path: Path, **changes) -> Path:
    over = _read_bundled("interactions")
    over.update(changes)
    path = tmp_path / "sc.yml"
    path.write_text(yaml.safe_dump(over), "utf-8")
    return path


@pytest.mark.parametrize(("change", "message"), [
    ({"outcome_icd10": "K35"}, "scenario interaction #1: outcome 'K35' is not in 'outcomes'"),
    ({"precipitant_atc": "R03AC"}, "scenario interaction #1: no drug of the scenario has ATC code 'R03AC'"),
    ({"shape": "odd"}, "scenario interaction #1: shape must be one of no_main, on_top, short_course"),
    ({"object_atc": "N05BA", "precipitant_atc": "C03CA01", "outcome_icd10": "S72"},
     "scenario interaction #1: shape no_main, but N05BA has an effect on S72"),
    ({"co_start": {"share": 0.5}},
     "scenario interaction #1: co_start needs share, delay_days [min, max] and duration_days"),
    ({"precipitant_atc": "C09AA02"}, "scenario interaction #1: object 'C09AA' and precipitant 'C09AA02' overlap"),
])
def test_a_bad_interaction_is_refused_with_its_reason(tmp_path, change, message):
    inter = [dict(_read_bundled("interactions")["interactions"][0], **change)]
    with pytest.raises(VeilleError) as err:
        load_scenario(_scenario(tmp_path, interactions=inter))
    assert str(err.value) == message


def test_an_outcome_without_hospital_codes_is_refused(tmp_path):
    outcomes = dict(_read_bundled("interactions")["outcomes"], K35={"rate": 1, "age": 0, "male": 0, "frailty": 0})
    with pytest.raises(VeilleError, match=r"^scenario outcome 'K35': the generator has no hospital codes for it"):
        load_scenario(_scenario(tmp_path, outcomes=outcomes))


# rates raised so that 20,000 patients give enough events in joint exposure
RATES = {"E87": 20.0, "M62": 30.0, "S72": 10.0, "I21": 6.0, "I50": 6.0, "C67": 3.0, "J18": 8.0}


@pytest.fixture(scope="module")
def extract(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("synth_interactions")
    bundled = _read_bundled("interactions")
    outcomes = load_scenario("interactions")["outcomes"]
    bundled["outcomes"] = {o: dict(outcomes[o], rate=r) for o, r in RATES.items()}
    path = tmp / "sc.yml"
    path.write_text(yaml.safe_dump(bundled), "utf-8")
    out = tmp / "extract"
    generate(out, 20000, 4, date(2015, 1, 1), 3, scenario=path)
    truth = json.loads((out / "truth.json").read_text("utf-8"))
    parts = [dict(np.load(f)) for f in sorted((out / "latent").glob("chunk_*.npz"))]
    return out, truth, {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def test_the_antibiotic_is_a_7_day_course_with_its_own_pack(extract):
    out, truth, lat = extract
    with open(out / "IR_PHA_R.csv", encoding="utf-8") as f:
        names = [r["PHA_MED_NOM"] for r in csv.DictReader(f, delimiter=";")]
    # 47 packs of the first 30 drugs, 13 of their other strengths, one of clarithromycin
    assert "CLARITHROMYCINE VEILLE 500MG B/14" in names and len(names) == 47 + 13 + 1
    assert truth["drugs"]["J01FA09"] == "CLARITHROMYCINE"
    course = lat["exposure_drug"] == DRUG_INDEX["J01FA09"]
    length = (lat["exposure_stop"] - lat["exposure_start"])[course]
    # one pack of 14 units at 2 a day; longer when two courses overlap, shorter at the end of data
    assert course.sum() > 500 and np.mean(length == 7) > 0.95


def test_latent_person_time_gives_back_every_interaction(extract):
    """In the person-time where both drugs are current, the events over the count expected from
    the true baseline hazard and the drugs' own effects (without the interaction) estimate the
    interaction's ratio: its exact Poisson interval (Garwood, 95% family-wise) must hold it."""
    _, truth, lat = extract
    pos = np.empty(lat["patient_index"].max() + 1, np.int64)
    pos[lat["patient_index"]] = np.arange(len(lat["patient_index"]))
    alpha = 0.05 / len(truth["interactions"])
    checked = 0
    for outcome, spec in truth["scenario"]["outcomes"].items():
        inter = [e for e in truth["interactions"] if e["outcome_icd10"] == outcome]
        if not inter:
            continue
        effects = [e for e in truth["effects"] if e["outcome_icd10"] == outcome]
        p = pos[lat[f"pt_{outcome}_patient"]]
        bits = lat[f"pt_{outcome}_bits"].astype(np.int64)
        lin = (spec["age"] * (np.maximum(lat["patient_age"][p], 0) - 70) / 10 + spec["male"] * lat["patient_male"][p]
               + spec["frailty"] * lat["patient_frailty"][p])
        for c, coef in spec["conditions"].items():
            lin = lin + coef * lat[f"patient_cond_{c}"][p]
        for j, e in enumerate(effects):
            lin = lin + np.log(e["hazard_ratio"]) * ((bits >> j) & 1)
        expected = spec["rate"] / 1000 / 365.25 * np.exp(lin) * lat[f"pt_{outcome}_days"]
        y = lat[f"pt_{outcome}_event"]
        for j, e in enumerate(inter):
            joint = ((bits >> (len(effects) + j)) & 1) == 1
            others = sum(np.log(x["hazard_ratio"]) * ((bits >> (len(effects) + i)) & 1)
                         for i, x in enumerate(inter) if i != j)  # a patient on three drugs
            o, e0 = int(y[joint].sum()), (expected * np.exp(others))[joint].sum()
            if e0 == 0:  # no joint person-time in this extract (a rare pair)
                assert o == 0 and e["latent"]["person_days"] == 0, e
                checked += 1
                continue
            low = chi2.ppf(alpha / 2, 2 * o) / 2 / e0 if o else 0.0
            high = chi2.ppf(1 - alpha / 2, 2 * o + 2) / 2 / e0
            assert low <= e["hazard_ratio"] <= high, (e, o, e0)
            assert e["latent"]["events"] == o  # the latent counts of truth.json are these bits
            checked += 1
    assert checked == 16
    injected = {e["shape"]: e["latent"]["events"] for e in truth["interactions"] if not e["negative_control"]}
    assert min(injected.values()) >= 5, injected


def test_traps_are_the_null_pairs_with_a_main_effect(extract):
    _, truth, _ = extract
    traps = [(e["object_atc"], e["precipitant_atc"], e["outcome_icd10"]) for e in truth["interactions"] if e["trap"]]
    assert traps == [("N06AB", "N05BA", "S72"), ("N06AB", "N05CF", "S72"), ("N05AH", "N05BA", "S72"),
                     ("A10BG02", "A10BA02", "I50"), ("A10BG03", "A10BA02", "C67"), ("N02AX02", "N05BA", "S72"),
                     ("M05BA04", "N05CF", "S72")]
    on_top = next(e for e in truth["interactions"] if e["shape"] == "on_top")
    assert (on_top["object_hr"], on_top["precipitant_hr"]) == (1.5, 1.9)
