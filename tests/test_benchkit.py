"""The bench harness: stages measured with injected clocks, printed and written exactly."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from veille.benchkit import Bench, Column, Table, load_range
from veille.errors import VeilleError

AT = datetime(2026, 12, 5, 9, 30, tzinfo=UTC)


def probe(*values: float):
    """A clock or probe returning ``values`` one call after the other."""
    it = iter(values)
    return lambda: next(it)


def two_stage_run(out=None) -> tuple[Bench, list[str]]:
    printed: list[str] = []
    bench = Bench("demo", out=out, echo=printed.append, now=lambda: AT,
                  clock=probe(0.0, 12.5, 12.5, 20.0), cpu=probe(1.0, 4.0, 4.0, 5.0),
                  memory=probe(150.4, 300.0), load=probe(1.2, 1.6, 1.6, 1.64),
                  server_cpu=probe(10.0, 40.0, 40.0, 52.5))
    with bench.stage("load", rows=1234):
        pass
    with bench.stage("dbt") as st:
        st.note = "34 models"
    return bench, printed


def test_stages_are_measured_printed_and_tabled():
    bench, printed = two_stage_run()
    assert printed == [
        "  load: 12.5 s wall, 3.0 s CPU, peak 150 MB, server CPU 30.0 s, load 1.2-1.6",
        "  dbt: 7.5 s wall, 1.0 s CPU, peak 300 MB, server CPU 12.5 s, load 1.6; 34 models",
    ]
    assert bench.rows() == [
        {"stage": "load", "seconds": 12.5, "cpu_seconds": 3.0, "peak_mb": 150.4, "server_cpu_seconds": 30.0,
         "load_start": 1.2, "load_end": 1.6, "rows": 1234},
        {"stage": "dbt", "seconds": 7.5, "cpu_seconds": 1.0, "peak_mb": 300.0, "server_cpu_seconds": 12.5,
         "load_start": 1.6, "load_end": 1.64},
    ]
    assert bench["dbt"].seconds == 7.5
    text = bench.finish()
    assert text.splitlines() == [
        "| step | wall | CPU | peak RSS | load avg |",
        "|---|---|---|---|---|",
        "| load | 12.5 s | 3.0 s | 150 MB | 1.2-1.6 |",
        "| dbt | 7.5 s | 1.0 s | 300 MB | 1.6 |",
    ]
    assert printed[2:] == ["", text]


def test_a_table_of_its_own_and_the_results_files(tmp_path):
    table = Table((Column("what", lambda r: r["stage"]),
                   Column("rows/s", lambda r: f"{r['rows'] / r['seconds']:,.0f}", right=True)))
    md, csv = tmp_path / "r.md", tmp_path / "r.csv"
    bench, printed = two_stage_run(md)
    bench.finish(table, bench.rows()[:1])
    assert md.read_text() == ("\n### veille bench demo, 2026-12-05 09:30 UTC\n\n"
                              "| what | rows/s |\n|---|---:|\n| load | 99 |\n")
    assert printed[-1] == f"appended to {md}"
    for _ in range(2):  # the header once, then rows
        bench, _ = two_stage_run(csv)
        bench.finish(table, bench.rows()[:1])
    assert csv.read_text().splitlines() == [
        "bench,at,stage,seconds,cpu_seconds,peak_mb,server_cpu_seconds,load_start,load_end,rows",
        "demo,2026-12-05T09:30:00+00:00,load,12.5,3.0,150.4,30.0,1.2,1.6,1234",
        "demo,2026-12-05T09:30:00+00:00,load,12.5,3.0,150.4,30.0,1.2,1.6,1234",
    ]
    bench, _ = two_stage_run(csv)
    with pytest.raises(VeilleError, match=r"r.csv holds rows with other columns \(bench, at, stage, .*\): "
                                          r"one CSV file per benchmark, or a .md file$"):
        bench.finish(rows=bench.rows()[1:])  # the dbt row has no `rows`: other columns


def test_bad_results_file_and_failed_stage():
    with pytest.raises(VeilleError, match=r"^--out must be a .md or .csv file, got results.txt$"):
        Bench("demo", out=Path("results.txt"))
    printed: list[str] = []
    bench = Bench("demo", echo=printed.append, clock=probe(0.0), cpu=probe(0.0), memory=probe(),
                  load=probe(1.0), server_cpu=lambda: None)
    with pytest.raises(RuntimeError), bench.stage("broken"):
        raise RuntimeError("no")
    assert bench.stages == [] and printed == []


def test_load_range():
    assert load_range(1.64, 1.2) == "1.2-1.6"
    assert load_range(0.96, 1.04) == "1.0"


def test_dbt_tables_have_the_columns_of_docs_benchmarks():
    from veille.dbt_bench import MODEL_TABLE, STEP_TABLE, table_rows

    figures = {"dispensings": 10_000_000, "sort_seconds": 45.8, "episode_seconds": 69.4, "ratio": 69.4 / 45.8,
               "warehouse_seconds": 73.2, "models": {"int_drug_episodes_built": 71.9, "int_data_span": 1.3,
                                                     "stg_claims__patients": 0.0}}
    steps, models = table_rows(figures)
    assert STEP_TABLE.markdown(steps).splitlines() == [
        "| step | seconds | s per million dispensings |",
        "|---|---:|---:|",
        ("| bare sort of the rows the episode model reads (`int_drug_dispensings`, ordered by patient, drug, "
         "date, id) into a table | 45.8 | 4.6 |"),
        "| episode model `int_drug_episodes_built` alone (`dbt run --select`) | 69.4 | 6.9 |",
        "| **ratio episode model / bare sort** | **1.52** (target <= 2) |  |",
        "| same model again inside the full warehouse run | 71.9 | 7.2 |",
    ]
    assert MODEL_TABLE.markdown(models).splitlines()[2:] == [
        "| int_drug_episodes_built | 71.9 | 7.2 |",
        "| int_data_span | 1.3 | 0.1 |",
        "| **sum of all 3 warehouse models** | **73.2** | **7.3** |",
    ]


def test_every_benchmark_takes_out_for_bench_all():
    import typer
    from typer.testing import CliRunner
    from veille.bench import bench_app

    commands = typer.main.get_command(bench_app).commands
    assert {"load", "synth", "dbt", "study", "scan", "pathways", "fraud", "pipeline", "all"} <= set(commands)
    for name, cmd in commands.items():  # `bench all` passes its --out to each
        assert "out" in {p.name for p in cmd.params}, name
    out = CliRunner().invoke(bench_app, ["all", "--out", "r.csv"])
    assert str(out.exception) == "bench all --out takes a .md file (each benchmark has its own columns), got r.csv"


def test_a_benchmark_stops_the_embedded_server_it_started():
    """`veille bench load` on a home with no server: the server it starts is stopped at the end.
    The home is not under pytest's temporary root (tests/conftest.py, pg_server, says why)."""
    import os
    import shutil
    import subprocess
    import sys
    import tempfile

    home = Path(tempfile.mkdtemp(prefix="veille-test-bench-home-"))
    env = {k: v for k, v in os.environ.items() if k not in ("VEILLE_DATABASE_URL", "VEILLE_DATABASE")}
    env.update(VEILLE_HOME=str(home), VEILLE_UNSAFE_FAST="1")
    veille = [sys.executable, "-m", "veille.cli"]
    try:
        run = subprocess.run([*veille, "bench", "load", "--patients", "300", "--years", "1"],
                             env=env, capture_output=True, text=True, check=True)
        assert run.stdout.splitlines()[-1] == "embedded server stopped (the benchmark started it)"
        status = subprocess.run([*veille, "db", "status"], env=env, capture_output=True, text=True, check=True)
        assert status.stdout == "embedded server stopped\n"
    finally:
        subprocess.run([*veille, "db", "stop"], env=env, capture_output=True, check=False)
        shutil.rmtree(home, ignore_errors=True)


def test_the_quality_table_has_a_row_per_seed_then_the_mean_and_range():
    from veille.quality_bench import _seeds, summary

    rows = [{"seed": 1, "auc_tree": 0.8, "ari": 0.5, "k": 4, "recall_phantom_billing": 1.0},
            {"seed": 2, "auc_tree": 0.9, "ari": None, "k": 6, "recall_phantom_billing": 0.5}]
    assert summary(rows).splitlines() == [
        "| seed | scan AUC tree | pathways ARI | pathways k | fraud recall phantom billing |",
        "|---|---:|---:|---:|---:|",
        "| 1 | 0.800 | 0.500 | 4 | 1.000 |",
        "| 2 | 0.900 | - | 6 | 0.500 |",
        "| mean | 0.850 | 0.500 | 5.000 | 0.750 |",
        "| range | 0.800-0.900 | 0.500-0.500 | 4-6 | 0.500-1.000 |",
    ]
    assert _seeds("1, 2,3") == [1, 2, 3]
    with pytest.raises(VeilleError, match=r"^--seeds must be whole numbers separated by commas \(e.g. 1,2,3\), "
                                          r"got 'a,b'$"):
        _seeds("a,b")
