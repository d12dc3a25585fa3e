"""An interaction case series (``sccs.interaction`` in a study YAML, issue 25): the object drug's
episodes in fct_sccs_intervals (exact rows on the hand-written mini extract of
tests/test_dbt_models.py), the ratio of ratios on simulated intervals with a known interaction,
the study file's check, and a study run end to end on a copy of the shared synthetic warehouse."""

from __future__ import annotations

import uuid
from datetime import date

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
import yaml
from conftest import scratch_database
from test_dbt_models import MET, PIO_SCCS_INTERVALS, SCCS_COLUMNS, _dispensings, extract_statements
from veille import db
from veille.benchkit import scratch_database as copy_database
from veille.dbt import run_dbt
from veille.errors import VeilleError
from veille.study.config import load_study
from veille.study.registry import write_registry
from veille.study.run import run_study, summary_lines
from veille.study.sccs import (
    INTERACTION,
    RATIO_OF_RATIOS,
    analyse_case_series,
    analyse_interaction,
    interaction_series,
    read_intervals,
)

# ------------------------------------------------------------------ fct_sccs_intervals, exact rows

# The mini extract of test_dbt_models (its series pio_sccs: pioglitazone, with metformin as a
# ConvSCCS drug) plus a series pio_ddi asking whether pioglitazone (the precipitant, the
# exposure) interacts with metformin (the object, drug -1) on bladder cancer (dp:C67), without a
# pre-exposure window; two more metformin fills.
INTERACTION_SERIES = [
    _dispensings(1, MET, ["2019-04-20"]),  # 20 April to 19 May 2019: inside pioglitazone's episode
    _dispensings(11, MET, ["2020-12-15"]),  # runs past the end of the observation: clipped
    """insert into study.sccs_definition (sccs_id, study_id, exposure_label, exposure_atc,
           age_group_bounds, calendar_adjustment)
       values ('pio_ddi', 'pio_ddi', 'pioglitazone', '{A10BG}', '{70}', 'year')""",
    """insert into study.sccs_window (sccs_id, window_id, label, start_day, end_day) values
       ('pio_ddi', 1, 'first month', 0, 29), ('pio_ddi', 2, 'after', 30, null)""",
    "insert into study.sccs_outcome (sccs_id, outcome_id) values ('pio_ddi', 'dp:C67')",
    "insert into study.sccs_drug (sccs_id, drug_id, label, atc_prefixes) values ('pio_ddi', -1, 'metformin', '{A10BA}')",
]


def d(text: str) -> date:
    return date.fromisoformat(text)


@pytest.fixture(scope="module")
def mini(pg_server, tmp_path_factory):
    """The mini extract with both series, the case-series marts and their parents built by dbt."""
    with scratch_database("t_ddi_" + uuid.uuid4().hex[:8], migrated=True) as name:
        with db.engine().begin() as conn:
            for sql in extract_statements() + INTERACTION_SERIES:
                conn.execute(sa.text(sql))
        target = tmp_path_factory.mktemp("dbt_target")
        run_dbt(["build", "--quiet", "--select", "+fct_sccs_intervals +fct_sccs_conv_starts",
                 "--target-path", str(target)])
        yield name


def _query(sql: str) -> list[tuple]:
    with db.engine().connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql))]


def test_object_episodes_cut_the_intervals_of_an_interaction_series(mini):
    rows = _query(f"select {SCCS_COLUMNS}, object_exposed from marts.fct_sccs_intervals "
                  "where sccs_id = 'pio_ddi' order by patient_id, interval_start")
    assert rows == [
        # patient 1 (born June 1950): metformin 1 February to 1 April 2018 and 20 April to 19 May
        # 2019, pioglitazone 1 March to 30 May 2019, bladder cancer 15 May 2019: on both drugs
        (1, d("2018-01-05"), d("2018-02-01"), 27, 0, 0, 2018, 0, 0),
        (1, d("2018-02-01"), d("2018-04-02"), 60, 0, 0, 2018, 0, 1),  # metformin alone
        (1, d("2018-04-02"), d("2019-01-01"), 274, 0, 0, 2018, 0, 0),
        (1, d("2019-01-01"), d("2019-03-01"), 59, 0, 0, 2019, 0, 0),  # no pre-exposure window
        (1, d("2019-03-01"), d("2019-03-31"), 30, 1, 0, 2019, 0, 0),  # pioglitazone days 0-29
        (1, d("2019-03-31"), d("2019-04-20"), 20, 2, 0, 2019, 0, 0),
        (1, d("2019-04-20"), d("2019-05-20"), 30, 2, 0, 2019, 1, 1),  # both: the event
        (1, d("2019-05-20"), d("2019-05-31"), 11, 2, 0, 2019, 0, 0),
        (1, d("2019-05-31"), d("2020-01-01"), 215, 0, 0, 2019, 0, 0),
        (1, d("2020-01-01"), d("2020-06-01"), 152, 0, 0, 2020, 0, 0),
        (1, d("2020-06-01"), d("2021-01-01"), 214, 0, 1, 2020, 0, 0),
        # patient 6: never on metformin; bladder cancer in January 2019, pioglitazone in August
        (6, d("2018-01-05"), d("2019-01-01"), 361, 0, 0, 2018, 0, 0),
        (6, d("2019-01-01"), d("2019-08-01"), 212, 0, 0, 2019, 1, 0),
        (6, d("2019-08-01"), d("2019-08-31"), 30, 1, 0, 2019, 0, 0),
        (6, d("2019-08-31"), d("2020-01-01"), 123, 0, 0, 2019, 0, 0),
        (6, d("2020-01-01"), d("2021-01-01"), 366, 0, 1, 2020, 0, 0),
        # patient 11: never on pioglitazone; metformin from 15 December 2020, clipped at the end
        # of the observation; bladder cancer in May 2019, off metformin
        (11, d("2018-01-05"), d("2019-01-01"), 361, 0, 0, 2018, 0, 0),
        (11, d("2019-01-01"), d("2020-01-01"), 365, 0, 0, 2019, 1, 0),
        (11, d("2020-01-01"), d("2020-12-15"), 349, 0, 1, 2020, 0, 0),
        (11, d("2020-12-15"), d("2021-01-01"), 17, 0, 1, 2020, 0, 1),
    ]


def test_a_series_without_object_keeps_its_intervals_and_its_convsccs(mini):
    """pio_sccs has metformin as a ConvSCCS drug (1), not as an object: no cut, object_exposed 0.
    The interaction series has no ConvSCCS cases, and the object drug is no ConvSCCS drug."""
    rows = _query(f"select {SCCS_COLUMNS}, object_exposed from marts.fct_sccs_intervals "
                  "where sccs_id = 'pio_sccs' order by patient_id, interval_start")
    assert rows == [(*r, 0) for r in PIO_SCCS_INTERVALS]
    assert _query("select distinct sccs_id from marts.fct_sccs_conv_cases") == [("pio_sccs",)]
    assert _query("select distinct drug_id from marts.fct_sccs_conv_starts order by 1") == [(0,), (1,)]
    assert _query("select sccs_id, drug_id from staging.stg_study__sccs_drugs order by 1, 2") == [
        ("pio_ddi", -1), ("pio_sccs", 0), ("pio_sccs", 1)]


def test_the_two_series_of_the_ratio_of_ratios(mini):
    """Within metformin: patient 1's metformin time (both episodes), where its event fell;
    without: patient 6, never on metformin; patient 11 (event off metformin) in neither."""
    with db.engine().connect() as conn:
        df = read_intervals(conn, "pio_ddi")
    within, without = interaction_series(df)
    assert sorted(within[["patient_id", "window_id", "days", "events"]].itertuples(index=False, name=None)) == [
        (1, 0, 60, 0), (1, 2, 30, 1)]
    assert set(without["patient_id"]) == {6} and without["days"].sum() == 1092


# ------------------------------------------------------------------ the ratio of ratios

WINDOWS = {1: "first 30 days", 2: "after"}
OBJECT_RI = 1.5  # the object drug's own effect
AGE_RI = 1.3


def simulate(cases: int, ri_within: float, ri_without: float, seed: int) -> pd.DataFrame:
    """Intervals as read_intervals gives them: ``cases`` cases exposed to the object at some
    time, as many never exposed. Each case has baseline time at two ages and the precipitant's
    window 1 (and a short window 2, relative incidence 1); the object's own time multiplies the
    rate by OBJECT_RI and the precipitant's window within it by ``ri_within``, against
    ``ri_without`` off the object. One event per case, drawn with probability proportional to
    rate x days."""
    rng = np.random.default_rng(seed)
    # window, age group, object_exposed, days, rate
    on = [(0, 0, 0, 300, 1.0), (1, 0, 0, 40, ri_without), (2, 0, 0, 20, 1.0), (0, 1, 0, 200, AGE_RI),
          (0, 0, 1, 250, OBJECT_RI), (1, 0, 1, 40, OBJECT_RI * ri_within), (2, 0, 1, 20, OBJECT_RI)]
    off = [(0, 0, 0, 400, 1.0), (1, 0, 0, 40, ri_without), (2, 0, 0, 20, 1.0), (0, 1, 0, 200, AGE_RI)]
    rows = []
    for kind, layout in ((0, on), (1, off)):
        weights = np.array([days * rate for *_, days, rate in layout])
        which = rng.choice(len(layout), size=cases, p=weights / weights.sum())
        for c in range(cases):
            pid = kind * cases + c
            rows += [{"outcome_id": "o", "patient_id": pid, "window_id": w, "age_group": a, "calendar_year": 0,
                      "object_exposed": o, "days": days, "events": int(which[c] == j)}
                     for j, (w, a, o, days, _) in enumerate(layout)]
    return pd.DataFrame(rows)


def _interaction(df: pd.DataFrame, min_events: int = 5) -> dict[str, dict]:
    res = analyse_case_series(df, sccs_id="s", outcome_id="o", exposure="P", windows=WINDOWS,
                              negative_control=False, min_events=min_events)
    analyse_interaction(res, df, precipitant="P", obj="O", windows=WINDOWS, min_events=min_events)
    rows = [e for e in res.estimates if e["analysis"] == INTERACTION]
    assert [e["term"] for e in rows] == ["P within O", "P without O", RATIO_OF_RATIOS]
    assert [d["kind"] for d in res.diagnostics][-1] == INTERACTION
    return {e["term"]: e for e in rows}


def test_an_injected_interaction_is_recovered():
    """Precipitant RI 3 within the object, 1 without: the ratio of ratios, 3, is inside its
    95% CI and 1 is not; each series' RI covers its own truth."""
    est = _interaction(simulate(3000, ri_within=3.0, ri_without=1.0, seed=7))
    for term, truth in (("P within O", 3.0), ("P without O", 1.0), (RATIO_OF_RATIOS, 3.0)):
        e = est[term]
        assert e["status"] == "ok" and e["ci_low"] <= truth <= e["ci_high"], e
    ror, within, without = est[RATIO_OF_RATIOS], est["P within O"], est["P without O"]
    assert ror["ci_low"] > 1 and ror["p_value"] < 1e-6
    assert ror["hr"] == pytest.approx(within["hr"] / without["hr"])
    assert ror["se_log_hr"] == pytest.approx(np.hypot(within["se_log_hr"], without["se_log_hr"]))
    # the two series: disjoint cases; the ratio carries no count (a sum would unmask a series)
    assert without["n_comparator"] == 3000 and within["n_comparator"] < 3000
    for k in ("n_exposed", "n_comparator", "events_exposed", "events_comparator"):
        assert ror[k] is None, k


def test_no_interaction_covers_one():
    """The precipitant's own effect (RI 2) within and without the object: no interaction."""
    est = _interaction(simulate(3000, ri_within=2.0, ri_without=2.0, seed=8))
    assert est["P within O"]["ci_low"] > 1 and est["P without O"]["ci_low"] > 1
    ror = est[RATIO_OF_RATIOS]
    assert ror["status"] == "ok" and ror["ci_low"] <= 1 <= ror["ci_high"], ror


def test_too_few_events_or_cases_say_why():
    df = simulate(40, ri_within=1.0, ri_without=1.0, seed=3)
    est = _interaction(df)
    within = est["P within O"]
    n = within["events_exposed"]
    assert n < 5 and within["status"] == "not_estimable"
    assert within["message"] == f"too few events in the window ({n} < 5)"
    ror = est[RATIO_OF_RATIOS]
    assert ror["status"] == "not_estimable" and ror["hr"] is None
    assert ror["message"].startswith(f"the series within O: too few events in the window ({n} < 5)")
    never = _interaction(df[df["object_exposed"] == 0])  # no object time at all: no case within it
    assert never["P within O"]["message"] == "too few cases (0 < 2)"
    assert never[RATIO_OF_RATIOS]["message"] == "the series within O: too few cases (0 < 2)"


# ------------------------------------------------------------------ the study file

SERIES = {
    "title": "t", "question": "q", "design": "sccs",
    "sccs": {"exposure": {"label": "benzodiazepine anxiolytics", "atc": ["N05BA"]},
             "interaction": {"object": {"label": "statins", "atc": ["C10AA"]}}},
    "outcomes": [{"id": "hip_fracture"}],
}


def _load(tmp_path, data: dict):
    p = tmp_path / "x.yml"
    p.write_text(yaml.safe_dump(data))
    return load_study(p)


def test_an_interaction_series_parses(tmp_path):
    study = _load(tmp_path, SERIES)
    assert (study.sccs.interaction.object.label, study.atc(study.sccs.interaction.object.atc)) == ("statins", ["C10AA"])


@pytest.mark.parametrize(("obj", "message"), [
    ({"label": "sedatives", "atc": ["N05"]},
     "x.yml: sccs.interaction.object.atc: N05 overlaps the exposure's N05BA (the precipitant)"),
    ({"label": "oxazepam", "atc": ["benzos"]},  # a concept set, expanded
     "x.yml: sccs.interaction.object.atc: N05BA04 overlaps the exposure's N05BA (the precipitant)"),
    ({"label": "benzodiazepine anxiolytics", "atc": ["C10AA"]},
     "x.yml: sccs.interaction.object.label: 'benzodiazepine anxiolytics' is the exposure's label too"),
    ({"label": "statins"}, "x.yml: sccs.interaction.object: missing key 'atc'"),
])
def test_an_object_drug_sharing_the_exposure_s_codes_is_one_line(tmp_path, obj, message):
    data = {**SERIES, "concept_sets": {"benzos": ["N05BA04"]},
            "sccs": {**SERIES["sccs"], "interaction": {"object": obj}}}
    with pytest.raises(VeilleError) as exc:
        _load(tmp_path, data)
    assert str(exc.value).replace(str(tmp_path) + "/", "") == message


# ------------------------------------------------------------------ end to end

def test_an_interaction_study_runs_end_to_end(synthetic_warehouse, tmp_path):
    """Benzodiazepine anxiolytics (the precipitant; HR 3 on hip fracture after 65 in the strong
    scenario) within and without statins (no effect, no injected interaction), on a copy of the
    shared warehouse: the registry row of the object, the three estimates, their ratio's CI
    covering 1, the report and the command output with counts masked."""
    study = _load(tmp_path, {
        **SERIES, "age": {"min": 65}, "negative_controls": [{"id": "dp:J18"}],
        "sccs": {**SERIES["sccs"], "risk_windows": [{"label": "on treatment", "start": 0}],
                 "age_groups": [70, 75, 80, 85, 90]},
    })
    db.reset_cache()  # no pooled connection left on the template
    with copy_database("t_ddi_study", template=synthetic_warehouse["database"]):
        with db.engine(db.ENGINEER).begin() as conn:
            write_registry(conn, study)
            drugs = conn.execute(sa.text("select drug_id, label, atc_prefixes from study.sccs_drug "
                                         "where sccs_id = 'x'")).all()
        assert [tuple(r) for r in drugs] == [(-1, "statins", ["C10AA"])]
        run_dbt(["run", "--quiet", "--select",
                 "int_sccs_cases int_sccs_drug_cips int_sccs_drug_episodes fct_sccs_intervals"])
        run = run_study(study, build=False, report_dir=tmp_path / "reports")
    found = {(o.outcome_id, e["term"]): e for o in run.outcomes for e in o.estimates
             if e["analysis"] == INTERACTION}
    terms = ["benzodiazepine anxiolytics within statins", "benzodiazepine anxiolytics without statins",
             RATIO_OF_RATIOS]
    assert sorted(found) == sorted((o, t) for o in ("hip_fracture", "dp:J18") for t in terms)
    ror = found[("hip_fracture", RATIO_OF_RATIOS)]
    assert ror["status"] == "ok" and ror["ci_low"] <= 1 <= ror["ci_high"], ror
    assert found[("hip_fracture", terms[1])]["ci_low"] > 1  # the precipitant's own effect
    html = (tmp_path / "reports" / "x" / "index.html").read_text()
    assert "Interaction: benzodiazepine anxiolytics within and without statins" in html
    assert all(t in html for t in terms)
    lines = [line for line in summary_lines(run) if RATIO_OF_RATIOS in line]
    assert len(lines) == 1 and " RoR " in lines[0]
