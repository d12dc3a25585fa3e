"""`veille dbt explain` and `veille dbt timings` against a real server and a real dbt compile:
the plan of a built model with estimated vs actual rows, a misestimate marked, one-line errors
for an unknown model and an unbuilt upstream; statistics present on every table just built."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
import sqlalchemy as sa
from conftest import scratch_database
from test_dbt_models import extract_statements
from veille import db
from veille.dbt import run_dbt


def veille(*args: str) -> subprocess.CompletedProcess:
    """The real command line, in a child process (same database settings)."""
    return subprocess.run([sys.executable, "-m", "veille.cli", *args], capture_output=True, text=True,
                          env=dict(os.environ), check=False)


@pytest.fixture(scope="module")
def mini(pg_server, tmp_path_factory):
    """The mini extract of test_dbt_models plus 50,000 copies of one dispensing (one patient, one
    day), built up to int_observation_periods: the union of claim days is estimated at the sum
    of its inputs, more than 100x the few hundred days it keeps."""
    with scratch_database("t_explain_" + uuid.uuid4().hex[:8], migrated=True) as name:
        with db.engine().begin() as conn:
            for sql in extract_statements():
                conn.execute(sa.text(sql))
            conn.execute(sa.text("""
                insert into claims.dispensing (patient_id, dispensing_date, cip13, packs, flow_month, batch_id)
                select 1, date '2018-03-01', '3400000000003', 1, date '2018-03-01', 1
                from generate_series(1, 50000)"""))
            conn.execute(sa.text("analyze"))
        target = tmp_path_factory.mktemp("dbt_target")
        run_dbt(["run", "--quiet", "--select", "+int_observation_periods", "--target-path", str(target)])
        yield {"database": name, "target": target}


def test_explain_prints_estimated_and_actual_rows(mini):
    out = veille("dbt", "explain", "int_observation_periods")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("int_observation_periods: intermediate.int_observation_periods (table), "
                               "EXPLAIN ANALYZE ran in ")
    assert lines[1] == "planner settings of its build: enable_nestloop = off"
    # every table the model reads was analyzed by the build's post-hook
    assert any(line.startswith("  intermediate.int_observation_spans (incremental: ") and ", analyzed " in line
               for line in lines)
    assert any(line.startswith("  intermediate.int_data_span (table: 1 rows, analyzed ") for line in lines)
    assert "NEVER ANALYZED" not in out.stdout
    header = next(i for i, line in enumerate(lines) if line.split() == ["estimated", "actual", "seconds", "plan"])
    root = lines[header + 1].split()
    # the final node returns the model's rows: as many as the table built by dbt
    with db.engine().connect() as conn:
        built = conn.execute(sa.text("select count(*) from intermediate.int_observation_periods")).scalar()
    assert int(root[1].replace(",", "")) == built
    assert root[3:5] == ["Hash", "Join"]  # the spans (numbered by a window) with the patients' deaths
    assert lines[-1].startswith("0 node(s) with actual rows more than 100x off the estimate")


def test_explain_marks_a_misestimate(mini):
    out = veille("dbt", "explain", "int_patient_activity_dates")
    assert out.returncode == 0, out.stderr
    assert "planner settings of its build: enable_nestloop = off, enable_hashagg = off" in out.stdout
    marked = [line for line in out.stdout.splitlines() if "   <<< " in line]
    assert marked and all("fewer rows than estimated" in line for line in marked)
    assert any(line.split()[3] == "Unique" for line in marked)  # 50,000 rows estimated, a few hundred kept
    assert out.stdout.splitlines()[-1].startswith(f"{len(marked)} node(s) with actual rows more than 100x off")


def test_explain_without_analyze(mini):
    out = veille("dbt", "explain", "int_data_span", "--no-analyze")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "EXPLAIN (estimates only)" in lines[0]
    assert lines[lines.index(next(x for x in lines if x.split() == ["estimated", "plan"])) + 1].split()[1] == "Aggregate"
    assert "<<<" not in out.stdout


def test_explain_unknown_model_is_one_line(mini):
    out = veille("dbt", "explain", "int_observation_period")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        ("error: unknown model int_observation_period: no model of that name; did you mean "
        "int_observation_periods, fct_observation_periods, int_observation_spans?")]


def test_explain_unbuilt_upstream_is_one_line(mini):
    out = veille("dbt", "explain", "int_study_cohorts")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        ("error: int_study_cohorts reads staging.stg_study__cohort_definitions (stg_study__cohort_definitions), "
        "not built yet: run `veille dbt build --select +int_study_cohorts` (or `veille dbt run --select "
        "+stg_study__cohort_definitions`) first")]


def test_timings_of_the_last_run(mini):
    out = veille("dbt", "timings", str(mini["target"] / "run_results.json"))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["model", "seconds", "share"]
    names = [line.split()[0] for line in lines[1:-1]]
    assert {"int_patient_activity_dates", "int_observation_periods", "int_data_span"} <= set(names)
    seconds = [float(line.split()[1]) for line in lines[1:-1]]
    assert seconds == sorted(seconds, reverse=True)
    assert lines[-1].startswith(f"{len(names)} models ")
