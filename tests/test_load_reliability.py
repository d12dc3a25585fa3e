"""A load killed halfway leaves the database as it was, and the same command then completes it;
two loads started at once never double anything (issue 18)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import date

import pytest
from conftest import scratch_database
from test_load import EXPECTED, MINI, rows, snapshot
from veille import db
from veille.errors import LoadError
from veille.load import load_extract

_CLAIMS_COUNTS = ("select (select count(*) from claims.patient), (select count(*) from claims.dispensing), "
                  "(select count(*) from claims.service_line), (select count(*) from claims.lab_test), "
                  "(select count(*) from claims.hospital_stay), (select count(*) from meta.load_batch), "
                  "(select count(*) from meta.rejected_row)")


@pytest.fixture(scope="module")
def extract(tmp_path_factory):
    from veille.synth import generate

    out = tmp_path_factory.mktemp("reliability") / "extract"
    generate(out, patients=600, years=1, start=date(2019, 1, 1), seed=11, scenario="default")
    return out


_RUNS = "select status, message from meta.load_run order by run_id"
_INTERRUPTED = "stopped before its end (killed or crashed): nothing of it was kept"


def _everything() -> dict[str, list[tuple]]:
    """What the loader wrote (test_load.snapshot), each table's rows in one total order."""
    return {k: sorted(v, key=repr) for k, v in snapshot().items()}


def _load_command(directory) -> list[str]:
    return [sys.executable, "-m", "veille.cli", "load", "--quiet", "--no-migrate", str(directory)]


def _wait_until(condition, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_a_load_killed_while_writing_claims_changes_nothing_and_a_rerun_completes_it(
        migrated_db, extract):
    load_extract(MINI)  # a first, committed load: the killed one must leave it as it is
    before, counts = snapshot(), rows(_CLAIMS_COUNTS)

    # hold the service-line table, so that the loader blocks halfway through writing the claims
    # (patients, drugs, dispensings, acts and lab tests already written in its transaction)
    with db.raw_connection() as blocker:
        # share mode: the loader may read the table, not write it
        blocker.execute("lock table claims.service_line in share mode")
        proc = subprocess.Popen(_load_command(extract), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _wait_until(lambda: rows(
            "select count(*) from pg_locks where relation = 'claims.service_line'::regclass "
            "and not granted")[0][0] > 0, "the loader to reach claims.service_line")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert rows(_CLAIMS_COUNTS) == counts  # nothing of the killed load is visible...
        blocker.rollback()

    # ...nor once its server session has ended (within the second the server checks the client)
    _wait_until(lambda: rows("select count(*) from pg_locks where locktype = 'advisory'")[0][0] == 0,
                "the killed load's session to end")
    assert snapshot() == before and rows(_CLAIMS_COUNTS) == counts
    assert rows(_RUNS) == [("done", None), ("running", None)]  # the log shows a load that never ended
    # the killed load's landing tables are left for the next load to drop; the loader made them
    # as the role of its job (docs/security.md)
    assert rows("select nspowner::regrole::text from pg_namespace where nspname = 'load_landing'") == [
        (db.LOADER,)]

    summary = load_extract(extract)  # the same command again completes the load
    assert rows(_RUNS) == [("done", None), ("interrupted", _INTERRUPTED), ("done", None)]
    assert rows("select count(*) from information_schema.schemata "
                "where schema_name in ('load_landing', 'load_work')") == [(0,)]
    rerun = _everything()

    with scratch_database(f"{migrated_db}_clean", migrated=True):  # a clean load of both extracts
        load_extract(MINI)
        clean_summary = load_extract(extract)
        clean = _everything()
    os.environ["VEILLE_DATABASE"] = migrated_db
    db.reset_cache()
    assert rerun == clean
    assert summary.totals() == clean_summary.totals()
    assert sum(len(v) for v in rerun.values()) > 5_000  # not a trivial extract


def test_two_loads_started_at_once_load_once(migrated_db, extract):
    # a third party holds the loads' lock while both start, so that both find it taken
    with db.raw_connection() as holder:
        holder.execute("select pg_advisory_lock(4242001)")
        procs = [subprocess.Popen(_load_command(extract), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
        _wait_until(lambda: rows("select count(*) from pg_locks where locktype = 'advisory' "
                                 "and not granted")[0][0] == 2, "both loads to wait")
        holder.execute("select pg_advisory_unlock(4242001)")
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    for _, err in outs:
        assert err.strip().startswith("another load is running (server process ")
        assert err.strip().endswith(": waiting for it to finish")
    # one loaded every file; the other skipped every file, each with a line saying so
    assert sorted("nothing new to load" in out for out, _ in outs) == [False, True]
    skipped = next(out for out, _ in outs if "nothing new to load" in out)
    n_files = len([f for f in extract.iterdir() if f.suffix == ".csv"])
    assert skipped.count("already loaded (same checksum") == n_files
    batches = rows("select count(*) from meta.load_batch")
    loaded = _everything()

    with scratch_database(f"{migrated_db}_once", migrated=True):
        load_extract(extract)
        once = _everything()
        assert rows("select count(*) from meta.load_batch") == batches
    os.environ["VEILLE_DATABASE"] = migrated_db
    db.reset_cache()
    assert loaded == once


def test_loads_in_threads_of_one_process_are_serialised_too(migrated_db):
    errors: list[BaseException] = []
    summaries = []

    def run():
        try:
            summaries.append(load_extract(MINI))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(len(s.loaded_files) for s in summaries) == [0, 14]
    assert snapshot() == EXPECTED


def test_the_load_log_records_a_load_refused_for_bad_input(migrated_db, tmp_path):
    d = tmp_path / "bad"
    shutil.copytree(MINI, d)
    cam = d / "ER_CAM_F.csv"
    cam.write_bytes(cam.read_bytes() + b"1;2;3\n")
    with pytest.raises(LoadError):
        load_extract(d)
    load_extract(MINI)
    assert rows(_RUNS) == [("failed", "ER_CAM_F.csv: line 3: fewer fields than the header has columns"),
                           ("done", None)]
    assert rows("select distinct r.status from meta.load_batch b join meta.load_run r using (run_id)") == [
        ("done",)]
    load_extract(MINI)
    assert rows("select status, message, files_loaded, files_skipped from meta.load_run "
                "order by run_id desc limit 1") == [("done", "nothing new to load", 0, 14)]


def test_appending_the_last_flow_month_gives_what_loading_everything_at_once_gives(migrated_db, extract, tmp_path):
    """`veille load --append`: the extract without its last flow month, then that month (its
    DCIR files only, late corrections of earlier months included), equals one load of all."""
    import re

    months = sorted({m.group(1) for f in extract.iterdir() if (m := re.match(r"ER_\w+_F_(\d{4}_\d{2})\.csv$", f.name))})
    first, later = tmp_path / "first", tmp_path / "later"
    first.mkdir()
    later.mkdir()
    for f in extract.glob("*.csv"):
        shutil.copy(f, later if f.name.endswith(f"_{months[-1]}.csv") else first)
    assert len(list(later.iterdir())) >= 3  # service lines, dispensings and more
    load_extract(first)
    appended = load_extract(later, append=True)
    assert {f.table for f in appended.loaded_files} >= {"ER_PRS_F", "ER_PHA_F"}
    assert {f.flow_months for f in appended.loaded_files} == {
        (date(int(months[-1][:4]), int(months[-1][5:]), 1),) * 2}
    stepwise = _everything()
    # the change log of the appended load: per patient and source, its earliest care date
    logged = rows("select source, patient_id, first_date from meta.load_change where run_id = 2 order by 1, 2")
    batches = "(select batch_id from meta.load_batch where run_id = 2)"
    inserted = rows(" union all ".join(
        f"(select '{source}', patient_id, min({day}) from claims.{source} where batch_id in {batches} group by 2)"
        for source, day in (("lab_test", "test_date"), ("medical_act", "act_date"), ("service_line", "service_date")))
        + " order by 1, 2")
    assert [r for r in logged if r[0] != "dispensing"] == inserted
    dispensed = dict(rows(f"select patient_id, min(dispensing_date) from claims.dispensing where batch_id in {batches} "
                          "group by 1"))
    logged_dispensing = {p: d for s, p, d in logged if s == "dispensing"}
    assert len(dispensed) >= 5 and set(dispensed) <= set(logged_dispensing)
    # a regularisation of an earlier dispensing dates the change to that dispensing's day
    assert all(logged_dispensing[p] <= d for p, d in dispensed.items())
    with scratch_database(f"{migrated_db}_once", migrated=True):
        load_extract(extract)
        once = _everything()
    os.environ["VEILLE_DATABASE"] = migrated_db
    db.reset_cache()
    assert stepwise == once
