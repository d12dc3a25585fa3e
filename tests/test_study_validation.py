"""The shipped studies on the shared `strong` synthetic warehouse, end to end.

The warehouse is cloned (PostgreSQL template copy) so that writing the registry and rebuilding
the study marts leaves the shared database untouched. Truth: the generator's truth.json.
"""

import json
import math
import os

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner
from veille import db
from veille.study.cli import study_app
from veille.study.config import load_all
from veille.study.run import run_studies
from veille.study.truth import injected_hr

CLONE = "study_validation"


def _admin() -> sa.Engine:
    s = db.settings()
    return sa.create_engine(
        sa.engine.URL.create("postgresql+psycopg", username=s.user, database="postgres",
                             query={"host": s.host, "port": str(s.port)}),
        isolation_level="AUTOCOMMIT",
    )


@pytest.fixture(scope="module")
def runs(synthetic_warehouse, tmp_path_factory):
    os.environ["VEILLE_DATABASE"] = synthetic_warehouse["database"]
    db.reset_cache()
    admin = _admin()
    with admin.connect() as conn:
        conn.execute(sa.text(f'drop database if exists "{CLONE}" with (force)'))
        conn.execute(sa.text(f'create database "{CLONE}" template "{synthetic_warehouse["database"]}"'))
    os.environ["VEILLE_DATABASE"] = CLONE
    db.reset_cache()
    reports = tmp_path_factory.mktemp("reports")
    lines: list[str] = []
    studies = run_studies(load_all(), build=True, report_dir=reports, echo=lines.append)
    yield {"runs": studies, "lines": lines, "reports": reports, "truth": synthetic_warehouse["truth"]}
    db.reset_cache()
    os.environ["VEILLE_DATABASE"] = synthetic_warehouse["database"]
    db.reset_cache()
    with admin.connect() as conn:
        conn.execute(sa.text(f'drop database if exists "{CLONE}" with (force)'))
    admin.dispose()


def _estimates(runs, negative: bool):
    """(study, comparison, outcome, estimate of the primary analysis, injected HR) tuples."""
    out = []
    for run in runs["runs"]:
        s = run.study
        for comp in s.comparisons:
            truth = {}
            for o in run.outcomes:
                if o.cohort_id != s.cohort_id(comp) or o.negative_control != negative:
                    continue
                truth = injected_hr(runs["truth"], s.atc(comp.exposure.atc), s.atc(comp.comparator.atc) or None, o.outcome_id)
                out.append((s.id, comp.id, o.outcome_id, o.estimate(s.primary_analysis), o.estimate("cox_crude"), truth))
    return out


def test_every_estimate_is_a_number_or_a_reason(runs):
    for run in runs["runs"]:
        assert run.outcomes, run.study.id
        for o in run.outcomes:
            for e in o.estimates:
                if e["status"] == "ok":
                    assert all(math.isfinite(e[k]) and e[k] > 0 for k in ("hr", "ci_low", "ci_high")), e
                else:
                    assert e["hr"] is None and e["message"], e


def test_adjusted_hr_covers_the_injected_truth(runs):
    checked = []
    for study, comp, outcome, est, _, truth in _estimates(runs, negative=False):
        assert truth is not None, (study, comp, outcome)
        if est["status"] == "ok":
            checked.append((study, comp, outcome))
            assert est["ci_low"] <= truth <= est["ci_high"], (study, comp, outcome, est, truth)
    # the fall-risk comparisons vs non-users have enough events at 4,000 patients
    assert {("fall_risk_hip_fracture", c, "hip_fracture") for c in (
        "benzodiazepines_vs_non_users", "z_drugs_vs_non_users", "ssri_vs_non_users")} <= set(checked)


def test_negative_controls_cover_one(runs):
    ests = [e for *_, e, _, truth in _estimates(runs, negative=True) if e["status"] == "ok"]
    assert len(ests) >= 10
    covering = sum(e["ci_low"] <= 1 <= e["ci_high"] for e in ests)
    assert covering >= 0.9 * len(ests), f"{covering} of {len(ests)}"


def test_reports_and_results_command(runs):
    reports = runs["reports"]
    assert (reports / "index.html").is_file()
    for run in runs["runs"]:
        page = (reports / run.study.id / "index.html").read_text()
        assert "Attrition" in page and "<svg" in page
    out = CliRunner().invoke(study_app, ["results", "fall_risk_hip_fracture", "--format", "json"])
    assert out.exit_code == 0, out.output
    records = json.loads(out.output)
    assert {r["analysis"] for r in records} >= {"cox_crude", "cox_adjusted", "iptw", "matching"}
    for r in records:
        for k in ("events_exposed", "events_comparator"):
            assert r[k] == "<10" or r[k] >= 10
    assert any("report:" in line for line in runs["lines"])
