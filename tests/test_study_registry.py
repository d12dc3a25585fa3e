"""Registry rows, the results schema and `veille study results` against a real PostgreSQL."""

import json

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner
from veille import db
from veille.study import store
from veille.study.analysis import Settings, analyse_outcome
from veille.study.cli import study_app
from veille.study.config import find_study
from veille.study.registry import write_registry
from veille.study.simulate import simulate_survival


def test_registry_rows_are_exact(migrated_db):
    study = find_study("pioglitazone_bladder_cancer")
    with db.engine().begin() as conn:
        assert write_registry(conn, study) == ["pioglitazone_bladder_cancer__pioglitazone_vs_non_users"]
        write_registry(conn, study)  # rewriting replaces, never duplicates
        rows = conn.execute(sa.text("select * from study.cohort_definition")).mappings().all()
        outcomes = conn.execute(sa.text(
            "select outcome_id, lookback_days, is_negative_control from study.cohort_outcome order by outcome_id"
        )).all()
        categories = conn.execute(sa.text(
            "select measure, category_number, lower_bound::float, unit, label from study.cohort_exposure_category "
            "order by 1, 2")).all()
    # the study's published categories: dose in its file, duration by default (12 and 24 months)
    assert categories == [
        ("dose", 0, 0.0, "mg", "<10,500 mg"), ("dose", 1, 10500.0, "mg", "10,500-27,999 mg"),
        ("dose", 2, 28000.0, "mg", ">=28,000 mg"),
        ("duration", 0, 0.0, "days", "<12 months"), ("duration", 1, 365.0, "days", "12-23 months"),
        ("duration", 2, 730.0, "days", ">=24 months"),
    ]
    assert len(rows) == 1
    row = dict(rows[0])
    row.pop("updated_at")
    assert row == {
        "cohort_id": "pioglitazone_bladder_cancer__pioglitazone_vs_non_users",
        "study_id": "pioglitazone_bladder_cancer",
        "exposure_label": "pioglitazone",
        "exposure_atc": ["A10BD05", "A10BD06", "A10BG03"],
        "comparator_kind": "non_user",
        "comparator_label": "other glucose-lowering drugs",
        "comparator_atc": None,
        "comparator_exclude_atc": None,
        "base_atc": ["A10"],
        "washout_days": 365,
        "min_prior_observation_days": 365,
        "age_min": 40,
        "age_max": 79,
        "sex": None,
        "study_start": None,
        "study_end": None,
        "min_purchases": 2,
        "purchase_window_days": 182,
        "strategy": "as_treated",
        "grace_days": 90,
        "end_delay_days": 0,
        "start_delay_days": 182,
        "max_followup_days": None,
        "covariate_atc": ["A10A", "A10BA", "A10BB", "A10BH"],
    }
    assert outcomes == [
        ("bladder_cancer_broad", 36525, False),
        ("dp:H25", 36525, True),
        ("dp:I25", 36525, True),
        ("dp:J18", 36525, True),
        ("dp:J44", 36525, True),
        ("dp:K29", 36525, True),
        ("dp:K80", 36525, True),
        ("dp:M17", 36525, True),
        ("dp:N17", 36525, True),
        ("dp:N39", 36525, True),
        ("hip_fracture", 36525, True),
        ("myocardial_infarction", 36525, True),
    ]


def test_results_are_stored_and_exported_masked(migrated_db, exports):
    study = find_study("rosiglitazone_vs_pioglitazone")
    df = simulate_survival(3000, 2.0, seed=1)
    small = simulate_survival(60, 2.0, seed=2)
    with db.engine().begin() as conn:
        run_id = store.start_run(conn, study)
        for outcome, rows in (("heart_failure", df), ("myocardial_infarction", small)):
            res = analyse_outcome(rows, Settings(("incidence", "cox_crude", "cox_adjusted"), ("age_at_index", "sex")),
                                  cohort_id="c1", outcome_id=outcome, exposure="rosiglitazone", comparator="pioglitazone")
            store.save_outcome(conn, run_id, res)
        store.finish_run(conn, run_id, "done")
        run = conn.execute(sa.text("select study_id, status, software ->> 'lifelines', settings ->> 'washout' "
                                   "from results.run where run_id = :r"), {"r": run_id}).one()
    assert tuple(run) == ("rosiglitazone_vs_pioglitazone", "done", "0.30.3", "365")
    out = CliRunner().invoke(study_app, ["results", "rosiglitazone_vs_pioglitazone", "--format", "json"])
    assert out.exit_code == 0, out.output
    records = json.loads(out.output)
    assert [(r["outcome"], r["analysis"]) for r in records] == [
        ("heart_failure", "cox_adjusted"), ("heart_failure", "cox_crude"),
        ("myocardial_infarction", "cox_adjusted"), ("myocardial_infarction", "cox_crude"),
    ]
    hf = records[0]
    assert {"study", "analysis", "outcome", "exposure", "comparator", "hr", "ci_low", "ci_high",
            "events_exposed", "events_comparator"} <= set(hf)
    assert hf["ci_low"] < 2.0 < hf["ci_high"]
    assert isinstance(hf["events_exposed"], int) and hf["events_exposed"] >= 10
    mi = records[2]
    assert mi["events_exposed"] == "<10" or mi["events_comparator"] == "<10"
    csv_out = CliRunner().invoke(study_app, ["results", "rosiglitazone_vs_pioglitazone", "--format", "csv"])
    assert csv_out.output.splitlines()[0].startswith("study,run_id,cohort_id,analysis,term,outcome")
    (exports / "registry").mkdir(exist_ok=True)  # audited by tests/test_audit.py
    (exports / "registry" / "results.json").write_text(out.output)
    (exports / "registry" / "results.csv").write_text(csv_out.output)


def test_results_of_a_study_never_run_is_one_line(migrated_db):
    from veille.errors import VeilleError

    with db.engine().connect() as conn, pytest.raises(VeilleError) as exc:
        store.latest_run(conn, "fall_risk_hip_fracture")
    assert str(exc.value) == (
        "study 'fall_risk_hip_fracture' has no finished run: run `veille study run fall_risk_hip_fracture` first"
    )
