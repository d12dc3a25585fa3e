"""Incremental refresh (issue 21): the flow months of an extract but the last two are loaded and
built, then the last two are appended one at a time (their late corrections of earlier care
months, and a re-delivery of hospital stays of earlier months, included), each followed by an
incremental build. Every table the warehouse builds then equals, row by row, a full build of a
database that loaded the same months at once."""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from datetime import date

import pytest
from conftest import scratch_database
from veille import db
from veille.dbt import run_dbt
from veille.load import load_extract
from veille.refresh import refresh
from veille.refresh_bench import register_studies, warehouse_tables

FIRST_APPEND, LAST_APPEND = "2019_11", "2019_12"  # the flow months appended; later flows are left out


def _flow_month(name: str) -> str | None:
    m = re.match(r"ER_\w+_F_(\d{4}_\d{2})\.csv$", name)
    return m.group(1) if m else None


def _split_pmsi(src, parts: dict, chosen) -> None:
    """Write each PMSI file of ``src`` into the folders of ``parts`` (key -> folder): a stay (its
    rows of the B, C, D, A files) goes to the folder chosen(stay's C row) returns."""
    for c_file in sorted(src.glob("T_MCO*C.csv")):
        year = c_file.stem[5:7]
        with c_file.open(newline="") as f:
            stays = list(csv.DictReader(f, delimiter=";"))
        where = {(s["ETA_NUM"], s["RSA_NUM"]): chosen(s) for s in stays}
        for letter in "CBDA":
            path = src / f"T_MCO{year}{letter}.csv"
            with path.open(newline="") as f:
                reader = csv.DictReader(f, delimiter=";")
                rows, header = list(reader), reader.fieldnames
            for key, folder in parts.items():
                keep = [r for r in rows if where.get((r["ETA_NUM"], r["RSA_NUM"])) == key]
                if keep:
                    suffix = "" if key == "first" else f"_{key}"
                    with (folder / f"T_MCO{year}{letter}{suffix}.csv").open("w", newline="") as out:
                        writer = csv.DictWriter(out, fieldnames=header, delimiter=";", lineterminator="\n")
                        writer.writeheader()
                        writer.writerows(keep)


def _admitted(stay: dict) -> str:
    """The month a stay (its T_MCOaaC row) was admitted, as YYYY_MM."""
    admitted = stay["EXE_SOI_DTD"]  # DDMMYYYY
    return admitted[4:] + "_" + admitted[2:4]


def _redelivered_are_bladder_cancers(src, redelivered) -> None:
    """The re-delivered stays get a bladder cancer as main diagnosis (outcome events, many of
    them before exposures the first load already had)."""
    for c_file in sorted(src.glob("T_MCO*C.csv")):
        with c_file.open(newline="") as f:
            keys = {(s["ETA_NUM"], s["RSA_NUM"]) for s in csv.DictReader(f, delimiter=";") if redelivered(s)}
        b_file = c_file.with_name(c_file.name.replace("C.csv", "B.csv"))
        with b_file.open(newline="") as f:
            reader = csv.DictReader(f, delimiter=";")
            rows, header = list(reader), reader.fieldnames
        for r in rows:
            if (r["ETA_NUM"], r["RSA_NUM"]) in keys:
                r["DGN_PAL"] = "C679"
        with b_file.open("w", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=header, delimiter=";", lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)


def _late_deaths(referential, into: list) -> None:
    """The patient referential again, with one living patient in twenty now dead on 2019-08-15
    (a death reported late: the exposures and periods after it are cut)."""
    with referential.open(newline="") as f:
        reader = csv.DictReader(f, delimiter=";")
        rows, header = list(reader), reader.fieldnames
    for i, r in enumerate(rows):
        if i % 20 == 0 and r["BEN_DCD_DTE"] in ("", "1600-01-01"):
            r["BEN_DCD_DTE"] = "2019-08-15"
    for folder in into:
        with (folder / referential.name).open("w", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=header, delimiter=";", lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """first: flows up to 2019_10 and the stays admitted before November 2019 but one in three
    (those come back in the last append, as a PMSI re-delivery); append1: flow 2019_11 and
    the November stays; append2: flow 2019_12, the December stays, the re-delivered ones and
    the patient referential with late deaths; once: all of it in one folder."""
    from veille.synth import generate

    root = tmp_path_factory.mktemp("refresh")
    src = root / "extract"
    generate(src, patients=800, years=2, start=date(2018, 1, 1), seed=5, scenario="default")
    parts = {k: root / k for k in ("first", "append1", "append2", "once")}
    for p in parts.values():
        p.mkdir()
    for f in src.glob("*.csv"):
        month = _flow_month(f.name)
        if f.name.startswith("T_MCO") or (month and month > LAST_APPEND):
            continue
        target = {FIRST_APPEND: "append1", LAST_APPEND: "append2"}.get(month, "first")
        shutil.copy(f, parts[target])
        shutil.copy(f, parts["once"])

    _late_deaths(src / "IR_BEN_R.csv", [parts["append2"], parts["once"]])

    def chosen(stay: dict) -> str:
        ym = _admitted(stay)
        if ym > LAST_APPEND:
            return "later"
        if ym == LAST_APPEND:
            return "append2"
        if ym == FIRST_APPEND:
            return "append1"
        if int(stay["RSA_NUM"]) % 3 == 0:
            return "append2"
        return "first"

    _redelivered_are_bladder_cancers(src, lambda stay: chosen(stay) == "append2" and _admitted(stay) < FIRST_APPEND)
    _split_pmsi(src, {k: parts[k] for k in ("first", "append1", "append2")}, chosen)
    _split_pmsi(src, {"once": parts["once"]}, lambda s: "once" if chosen(s) != "later" else None)
    # _split_pmsi names a part's files T_MCOyyX_<part>; the one-load folder keeps the plain names
    for f in parts["once"].glob("T_MCO*_once.csv"):
        f.rename(f.with_name(f.name.replace("_once", "")))
    return parts


def _warehouse() -> dict[str, list[tuple]]:
    """Every table dbt built in the intermediate and marts schemas, rows in one total order
    (generated ids left out)."""
    with db.raw_connection() as conn:
        return {name: sorted(conn.execute(f"select {cols} from {relation}").fetchall(), key=repr)
                for relation, name, cols in warehouse_tables(conn)}


OTHER_VARS = ["--vars", "{grace_days: 60, trackloss_empty_months: 6}"]


def _build(*extra: str) -> None:
    run_dbt(["build", "--quiet", "--selector", "warehouse", "--exclude-resource-type", "test",
             "--exclude-resource-type", "unit_test", *extra])
    _build_areas(*extra)


def _build_areas(*extra: str) -> None:
    """The pathways and scan models (their care events and episodes are incremental), as
    `veille pathways run` and `veille scan` build them."""
    run_dbt(["run", "--quiet", "--select", "tag:pathways", "tag:scan", *extra])


def _rows(sql: str) -> list[tuple]:
    with db.raw_connection() as conn:
        return conn.execute(sql).fetchall()


_EPISODES = "select patient_id, drug_code, episode_number, episode_start, episode_end, n_dispensings from intermediate.int_drug_episodes_built"
_OUTCOMES = "select outcome_id, patient_id, event_date from intermediate.int_outcome_events"


@pytest.fixture(scope="module")
def refreshed(pg_server, folders):
    """The stepwise warehouse (with what each build held) and the one-load warehouse."""
    with scratch_database("refresh_steps", migrated=True):
        register_studies()
        load_extract(folders["first"])
        _build()
        before = {"episodes": _rows(_EPISODES), "outcomes": _rows(_OUTCOMES)}
        load_extract(folders["append1"], append=True)
        _rewrite_a_study()  # the registry changed too: the study models see their fingerprint change
        _build()
        summary = refresh(folders["append2"], test=False, fraud=False, show_progress=False)
        _build_areas()
        steps = _warehouse()
        marks = _rows("select model, run_id from intermediate.refresh_watermark order by 1")
        kept = _kept_shares([m for m, _ in marks])
        # the same folder again, from the command line: nothing new, nothing rebuilt
        again = subprocess.run([sys.executable, "-m", "veille.cli", "refresh", str(folders["append2"]), "--no-test",
                                "--no-fraud", "--no-migrate", "--quiet"], capture_output=True, text=True,
                               env=dict(os.environ), check=False)
        assert _warehouse() == steps
        # other settings, no new load: the incremental models see their fingerprint change
        _build(*OTHER_VARS)
        steps_other = _warehouse()
    with scratch_database("refresh_once", migrated=True):
        register_studies()
        _rewrite_a_study()
        load_extract(folders["once"])
        _build()
        once = _warehouse()
        _build(*OTHER_VARS, "--full-refresh")
        once_other = _warehouse()
    return before, steps, once, marks, summary, again, steps_other, once_other, kept


def _rewrite_a_study() -> None:
    with db.raw_connection() as conn:
        conn.execute("update study.cohort_definition set washout_days = washout_days + 90 "
                     "where cohort_id = (select min(cohort_id) from study.cohort_definition)")
        conn.commit()


def _kept_shares(models: list[str]) -> dict[str, float]:
    """Per incremental model, the share of its rows the last build did not rewrite: rows written
    in an earlier transaction than the newest one (a full rebuild writes all in one)."""
    shares = {}
    with db.raw_connection() as conn:
        for model in models:
            schema = conn.execute("select table_schema from information_schema.tables where table_name = %s",
                                  (model,)).fetchone()[0]
            older, total = conn.execute(
                f"with x as (select xmin::text::bigint as tx from {schema}.{model}) "
                "select count(*) filter (where tx < (select max(tx) from x)), count(*) from x").fetchone()
            shares[model] = older / total if total else 0.0
    return shares


def test_an_incremental_build_after_each_appended_month_equals_a_full_build(refreshed):
    _, steps, once, *_ = refreshed
    assert sorted(steps) == sorted(once)
    assert len(steps) >= 20
    for table in once:
        assert steps[table] == once[table], table
    assert len(once["intermediate.int_drug_episodes_built"]) > 400
    # the shipped studies are registered: their cohorts are compared too
    assert len(once["marts.fct_study_cohort"]) > 100 and len(once["marts.fct_sccs_intervals"]) > 0
    # and the pathways and scan models, whose care events and episodes are incremental
    assert len(once["pathways.int_pathways__care_events"]) > 10_000 and len(once["pathways.fct_pathways_care_use"]) > 1000
    assert len(once["scan.scan_drug_episodes_built"]) > 500 and len(once["scan.scan_drug_initiations"]) > 20


INCREMENTAL = ["fct_study_covariate_class",
               "int_drug_episodes_built", "int_observation_spans", "int_pathways__care_events", "int_patient_activity_dates",
               "int_study_baseline_covariates", "int_study_episodes", "int_study_group_dispensings",
               "int_study_new_users", "scan_drug_episodes_built"]


def test_each_incremental_model_recorded_the_last_load_it_consumed(refreshed):
    marks = refreshed[3]
    assert marks == [(m, 3) for m in INCREMENTAL]


def test_each_incremental_build_rewrote_only_part_of_its_model(refreshed):
    """The last build kept rows of every incremental model from earlier builds: none was rebuilt
    whole (the equality above would hold for that too)."""
    kept = refreshed[8]
    assert sorted(kept) == INCREMENTAL
    assert all(0 < s < 1 for s in kept.values()), kept


def test_the_appended_months_moved_first_exposures_closed_gaps_and_added_earlier_outcomes(refreshed):
    """The cases an incremental build gets wrong first all happen in the appended months."""
    before, steps, *_ = refreshed
    old = {(p, d, n): (s, e, k) for p, d, n, s, e, k in before["episodes"]}
    new_first = {(p, d): s for p, d, n, s, *_ in steps_episodes(steps) if n == 1}
    old_first = {(p, d): s for (p, d, n), (s, *_) in old.items() if n == 1}
    earlier_start = [k for k in old_first if k in new_first and new_first[k] < old_first[k]]
    assert earlier_start, "no late dispensing moved a first exposure earlier"
    old_count = _count_by_pair(before["episodes"])
    new_count = _count_by_pair([(p, d) for p, d, *_ in steps_episodes(steps)])
    assert any(new_count.get(k, 0) < c for k, c in old_count.items()), "no gap between two episodes was closed"
    first_start = {}
    for (p, _d), s in old_first.items():
        first_start[p] = min(first_start.get(p, s), s)
    old_outcomes = set(before["outcomes"])
    added = [r for r in _outcome_rows(steps) if r not in old_outcomes]
    assert any(p in first_start and day < first_start[p] for _o, p, day in added), \
        "no outcome was added before an existing exposure"
    # a late death cut episodes the first builds had running past it
    cut = {(r[0], r[1], r[2]) for r in steps["intermediate.int_drug_episodes_built"]
           if r[5] == "death" and r[4] == date(2019, 8, 15)}
    assert any(old.get(k, (None, None))[1] and old[k][1] > date(2019, 8, 15) for k in cut), \
        "no late death cut an existing episode"


_FOLLOWUP = "select cohort_id, patient_id, exposed, index_date from intermediate.int_study_followup"

# Every exposure dispensing of the exposed subjects of non-user cohorts: netted away the way the
# loader nets a regularisation (the dispensing deleted, the change logged at its date).
_EXPOSURES = """
    select distinct d.dispensing_id, d.patient_id, d.dispensing_date
    from claims.dispensing as d
    inner join intermediate.int_study_group_dispensings as g
        on g.dispensing_id = d.dispensing_id and g.drug_group = 'exposure'
    inner join intermediate.int_study_followup as f
        on f.cohort_id = g.cohort_id and f.patient_id = g.patient_id and f.exposed = 1
    inner join intermediate.int_study_cohorts as c
        on c.cohort_id = f.cohort_id and c.comparator_kind = 'non_user'
"""


def test_a_cancelled_exposure_turns_a_subject_into_a_comparator_indexed_before_the_change(pg_server, folders):
    """A non-user comparator must never have used the exposure, even after his index. Cancelling
    an exposed subject's exposure dispensings makes him a comparator whose pseudo-index (his first
    other dispensing after the washout) precedes the change: the models that recompute subjects
    changed on or before their index must see him too."""
    with scratch_database("refresh_cancel", migrated=True):
        register_studies()
        load_extract(folders["once"])
        _build()
        before = {(c, p): (e, i) for c, p, e, i in _rows(_FOLLOWUP)}
        with db.raw_connection() as conn:
            conn.execute(f"create temporary table gone as {_EXPOSURES}")
            run = conn.execute("insert into meta.load_run (extract_dir, status, finished_at) "
                               "values ('cancelled exposures', 'done', now()) returning run_id").fetchone()[0]
            conn.execute("insert into meta.load_change (run_id, patient_id, source, first_date) "
                         "select %s, patient_id, 'dispensing', min(dispensing_date) from gone group by patient_id",
                         (run,))
            conn.execute("delete from claims.dispensing where dispensing_id in (select dispensing_id from gone)")
            conn.commit()
        _build()
        steps = _warehouse()
        _build("--full-refresh")
        full = _warehouse()
        after = {(c, p): (e, i) for c, p, e, i in _rows(_FOLLOWUP)}
    turned = [k for k, (e, i) in after.items() if k in before and before[k][0] == 1 and e == 0 and i < before[k][1]]
    assert turned, "no exposed subject became a comparator indexed before his cancelled exposure"
    assert sorted(steps) == sorted(full)
    for table in full:
        assert steps[table] == full[table], table


def steps_episodes(steps) -> list[tuple]:
    rows = steps["intermediate.int_drug_episodes_built"]
    return [(r[0], r[1], r[2], r[3], r[4], r[6]) for r in rows]


def _outcome_rows(steps) -> list[tuple]:
    return [(r[0], r[1], r[2]) for r in steps["intermediate.int_outcome_events"]]


def _count_by_pair(rows) -> dict:
    out: dict = {}
    for r in rows:
        out[(r[0], r[1])] = out.get((r[0], r[1]), 0) + 1
    return out


def test_refresh_summarises_what_the_month_changed_and_a_rerun_changes_nothing(refreshed):
    _, _, once, _, summary, again, *_ = refreshed
    assert summary.loaded_files >= 6  # the month's DCIR files, the re-delivered PMSI ones, the referential
    assert summary.flow_months == [date(2019, 12, 1)]
    touched = summary.changed_patients
    assert set(touched) == {"any", "death", "dispensing", "hospital_stay", "lab_test", "medical_act", "service_line"}
    assert touched["death"] >= 20  # one living patient in twenty
    assert touched["any"] >= max(n for s, n in touched.items() if s != "any") > 10
    assert summary.after["episodes"] == len(once["intermediate.int_drug_episodes_built"])
    assert summary.after["outcome events"] > summary.before["outcome events"]
    assert summary.after["patients"] == summary.before["patients"] == 800
    assert summary.data_end[0] < summary.data_end[1] == max(r[1] for r in once["intermediate.int_observation_spans"])
    assert again.returncode == 0, again.stderr
    lines = again.stdout.splitlines()
    assert lines[:3] == ["what changed", "  flow months loaded: none (nothing new in the folder)",
                         "  patients touched by the load: <10"]
    assert "  patients: 800 (+<10)" in lines


def test_synth_flows_arranges_an_extract_as_successive_deliveries(tmp_path):
    out = tmp_path / "x"
    done = subprocess.run([sys.executable, "-m", "veille.cli", "synth", "--out", str(out), "--patients", "200",
                           "--years", "1", "--start", "2019-01-01", "--quiet", "--flows", "2019-11"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == (f"deliveries in {out / 'deliveries'}: base, then 5 flow month(s) "
                                            "(flow_2019_11 to flow_2020_03)")
    folders = sorted(p.name for p in (out / "deliveries").iterdir())
    assert folders == ["base", "flow_2019_11", "flow_2019_12", "flow_2020_01", "flow_2020_02", "flow_2020_03"]
    for name in folders[1:]:
        assert {_flow_month(f.name) for f in (out / "deliveries" / name).iterdir()} == {name[5:]}
    base = {f.name for f in (out / "deliveries" / "base").iterdir()}
    assert max(m for f in base if (m := _flow_month(f)) is not None) == "2019_10"
    assert {"IR_BEN_R.csv", "IR_PHA_R.csv", "T_MCO19C.csv"} <= base
    # every file of the extract is in exactly one delivery
    delivered = sorted(f.name for p in (out / "deliveries").iterdir() for f in p.iterdir())
    assert delivered == sorted(f.name for f in out.glob("*.csv"))


def test_synth_flows_refuses_a_month_it_cannot_read_before_writing_anything(tmp_path):
    done = subprocess.run([sys.executable, "-m", "veille.cli", "synth", "--out", str(tmp_path / "x"), "--patients",
                           "200", "--years", "1", "--quiet", "--flows", "2019-13"],
                          capture_output=True, text=True, check=False)
    assert (done.returncode, done.stderr.strip()) == (2, "error: --flows must be a month as YYYY-MM, got '2019-13'")
    assert not (tmp_path / "x").exists()


def test_changing_a_setting_rebuilds_the_incremental_models_as_a_full_refresh_would(refreshed):
    """A model's watermark holds a fingerprint of its SQL and vars: with another grace period and
    trackloss gap, the incremental build recomputes every patient, without --full-refresh."""
    once, steps_other, once_other = refreshed[2], refreshed[6], refreshed[7]
    for table in once_other:
        assert steps_other[table] == once_other[table], table
    for table in ("intermediate.int_drug_episodes_built", "intermediate.int_observation_spans"):
        assert once_other[table] != once[table], table
