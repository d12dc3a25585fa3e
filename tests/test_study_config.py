"""Study files: the shipped ones validate; each kind of mistake gives one exact line."""

from pathlib import Path

import pytest
import yaml
from veille.errors import VeilleError
from veille.study.config import load_all, load_study

MINIMAL = {
    "title": "t",
    "question": "q",
    "comparisons": [
        {"id": "a_vs_b", "exposure": {"label": "a", "atc": ["N05BA"]},
         "comparator": {"kind": "non_user", "label": "non-users"}}
    ],
    "outcomes": [{"id": "hip_fracture"}],
}


def _write(tmp_path: Path, data: dict, name: str = "x") -> Path:
    p = tmp_path / f"{name}.yml"
    p.write_text(yaml.safe_dump(data))
    return p


def _error(tmp_path: Path, data: dict) -> str:
    p = _write(tmp_path, data)
    with pytest.raises(VeilleError) as exc:
        load_study(p)
    return str(exc.value).replace(str(tmp_path) + "/", "")


def test_shipped_studies_validate():
    studies = {s.id: s for s in load_all()}
    assert set(studies) == {"pioglitazone_bladder_cancer", "rosiglitazone_vs_pioglitazone", "fall_risk_hip_fracture",
                            "benzodiazepines_hip_fracture_sccs"}
    sccs = studies["benzodiazepines_hip_fracture_sccs"]
    assert (sccs.design, sccs.comparisons, sccs.atc(sccs.sccs.exposure.atc)) == ("sccs", [], ["N05BA"])
    assert [w.name for w in sccs.sccs.risk_windows] == ["first 30 days", "day 30 to the end of the episode"]
    pio = studies["pioglitazone_bladder_cancer"]
    assert pio.atc(pio.comparisons[0].exposure.atc) == ["A10BD05", "A10BD06", "A10BG03"]
    assert pio.atc(pio.base_population) == ["A10"]
    assert (pio.min_purchases.count, pio.min_purchases.window, pio.start_delay) == (2, 182, 182)
    assert (pio.age.min, pio.age.max) == (40, 79)
    assert len(studies["fall_risk_hip_fracture"].comparisons) == 5


def test_minimal_study_gets_the_defaults(tmp_path):
    s = load_study(_write(tmp_path, MINIMAL))
    assert s.id == "x"
    assert (s.washout, s.prior_observation, s.start_delay, s.max_followup) == (365, 365, 0, None)
    assert s.study_period.start is None and s.study_period.end is None
    assert s.exposure_strategy.kind == "as_treated" and s.exposure_strategy.grace == 30
    assert s.primary_analysis == "cox_adjusted"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"washot": 365}, "x.yml: unknown key 'washot' (did you mean 'washout'?)"),
        ({"age": {"min": 70, "mx": 80}}, "x.yml: age: unknown key 'mx' (did you mean 'max'?)"),
        ({"comparisons": [{"id": "a", "exposure": {"label": "a", "atc": ["N5BA"]},
                           "comparator": {"kind": "non_user", "label": "n"}}]},
         "x.yml: comparisons[0].exposure.atc: 'N5BA' is not an ATC code (a prefix such as N05BA or A10BG03)"),
        ({"age": {"min": 80, "max": 65}}, "x.yml: age: impossible age range: min 80 > max 65"),
        ({"study_period": {"start": "2019-01-01", "end": "2018-01-01"}},
         "x.yml: study_period: impossible study period: start 2019-01-01 is not before end 2018-01-01"),
        ({"min_purchases": {"count": 2, "window": 0}}, "x.yml: min_purchases: impossible window: 2 purchases within 0 days"),
        ({"start_delay": 400, "max_followup": 365},
         "x.yml: impossible window: start_delay 400 days >= max_followup 365 days"),
        ({"washout": -1}, "x.yml: washout: must be >= 0, got -1"),
        ({"washout": "a year"}, "x.yml: washout: must be a whole number, got 'a year'"),
        ({"sex": 3}, "x.yml: sex: must be 1 or 2, got 3"),
        ({"exposure_strategy": {"kind": "as_treatd"}},
         "x.yml: exposure_strategy.kind: must be 'as_treated' or 'itt', got 'as_treatd' (did you mean 'as_treated'?)"),
        ({"age": {"lower": 70}}, "x.yml: age: unknown key 'lower' (known keys: min, max)"),
        ({"title": None}, "x.yml: title: must be text, got None"),
        ({"outcomes": [{"id": "hip_fracture", "lookback": "ever"}]},
         "x.yml: outcomes[0].lookback: lookback must be a number of days >= 0 or 'all', got 'ever'"),
        ({"analyses": ["cox_crude", "iptv"]}, "x.yml: analyses: unknown analysis 'iptv' (did you mean 'iptw'?)"),
        ({"comparisons": [{"id": "a", "exposure": {"label": "a", "atc": ["N05BA"]},
                           "comparator": {"kind": "active", "label": "n"}}]},
         "x.yml: comparisons[0].comparator: an active comparator needs 'atc' codes"),
        ({"id": "other"}, "x.yml: id 'other' differs from the file name 'x'"),
        ({"outcomes": [{"id": "hip_fractur"}]},
         ("x.yml: outcomes: unknown outcome 'hip_fractur' (did you mean 'hip_fracture'?) (an algorithm of "
         "dbt_project/seeds/outcome_algorithms.csv or a code outcome like dp:J18)")),
        # cumulative categories (issue 26)
        ({"cumulative_dose": {"unit": "mg", "thresholds": [100]}, "analyses": ["cox_adjusted", "cumulative_dose"]},
         ("x.yml: cumulative_dose in mg adds the mg of one substance, but comparisons[0].exposure.atc has N05BA, "
         "a class of several: use unit: ddd")),
        ({"cumulative_dose": {"unit": "ddd", "thresholds": [30]}},
         ("x.yml: the cumulative_dose analyses need a cumulative_dose block (unit, thresholds), and the block "
         "needs cumulative_dose or cumulative_dose_continuous in analyses")),
        ({"cumulative_exposure": {"unit": "months", "thresholds": [24, 12]}},
         "x.yml: cumulative_exposure.thresholds: thresholds must be in ascending order"),
        ({"cumulative_exposure": {"unit": "days", "thresholds": [0.5, 0.7]}},
         "x.yml: cumulative_exposure thresholds [0.5, 0.7] days are not whole, distinct days"),
        ({"reference": {"citation": "c", "estimates": [
            {"comparison": "a_vs_b", "outcome": "hip_fracture", "analysis": "cumulative_exposure",
             "term": ">=2 years", "hr": 1.4, "ci_low": 1.0, "ci_high": 1.8}]},
          "analyses": ["cox_adjusted", "cumulative_exposure"]},
         ("x.yml: reference estimate term '>=2 years' is not a category of cumulative_exposure "
         "(<12 months, 12-23 months, >=24 months)")),
    ],
)
def test_mistakes_give_one_readable_line(tmp_path, change, message):
    assert _error(tmp_path, {**MINIMAL, **change}) == message


def test_not_yaml_and_missing_file(tmp_path):
    p = tmp_path / "x.yml"
    p.write_text("title: [unclosed\n")
    with pytest.raises(VeilleError, match=r"x\.yml: line 2 not valid YAML"):
        load_study(p)
    with pytest.raises(VeilleError, match="no such study file"):
        load_study(tmp_path / "nope.yml")


def test_a_misspelled_key_is_named_before_the_key_it_leaves_missing(tmp_path):
    data = {k: v for k, v in MINIMAL.items() if k != "title"} | {"titel": "t"}
    assert _error(tmp_path, data) == "x.yml: unknown key 'titel' (did you mean 'title'?)"
    data = {k: v for k, v in MINIMAL.items() if k != "title"}
    assert _error(tmp_path, data) == "x.yml: missing key 'title'"


def test_a_multi_drug_case_series_and_its_mistakes(tmp_path):
    sccs = load_all_by_id()["benzodiazepines_hip_fracture_sccs"].sccs
    assert [d.label for d in sccs.convolution.drugs] == ["hypnotic benzodiazepines", "Z-drugs", "SSRIs",
                                                         "antipsychotics"]
    assert (sccs.convolution.lags, sccs.convolution.bucket_days, sccs.convolution.on_treatment) == (12, 30, True)
    base = {k: v for k, v in MINIMAL.items() if k != "comparisons"}
    series = {"exposure": {"label": "anxiolytics", "atc": ["N05BA"]}}
    same = {"design": "sccs", "sccs": {**series, "convolution": {"drugs": [{"label": "anxiolytics", "atc": ["N05CD"]}]}}}
    assert _error(tmp_path, {**base, **same}) == (
        "x.yml: sccs.convolution.drugs: labels must differ from each other and from the exposure's")
    lags = {"design": "sccs", "sccs": {**series, "convolution": {"drugs": [{"label": "b", "atc": ["N05CD"]}], "lags": 0}}}
    assert _error(tmp_path, {**base, **lags}) == "x.yml: sccs.convolution.lags: must be >= 1, got 0"


def load_all_by_id():
    return {s.id: s for s in load_all()}
