"""`veille bench synth`: claim lines per minute and peak memory of the generator."""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from veille.benchkit import Bench, Column, OutFile, Table, load_range, seconds_cell

SYNTH_TABLE = Table((
    Column("patients × years", lambda r: f"{r['patients']:,} × {r['years']}"),
    Column("claim lines", lambda r: f"{r['claim_lines']:,}"),
    Column("wall", seconds_cell()),
    Column("lines/min (wall)", lambda r: f"{r['claim_lines'] / r['seconds'] * 60 / 1e6:.2f} M"),
    Column("CPU (user+sys)", seconds_cell("cpu_seconds")),
    Column("lines per CPU-minute", lambda r: f"{r['claim_lines'] / r['cpu_seconds'] * 60 / 1e6:.1f} M"),
    Column("written", lambda r: f"{r['bytes_written'] / 1e6:,.0f} MB"),
    Column("peak RSS", lambda r: f"{r['peak_mb']:,.0f} MB"),
    Column("load avg", lambda r: load_range(r["load_start"], r["load_end"])),
))
"""docs/benchmarks.md, section synth. "Claim lines" = DCIR ER_PRS_F rows + PMSI stays."""


def bench_synth(
    patients: Annotated[int, typer.Option("--patients", help="beneficiaries to generate")] = 50_000,
    years: Annotated[int, typer.Option("--years", help="length of the period")] = 5,
    scenario: Annotated[str, typer.Option("--scenario", help="scenario name or file")] = "default",
    keep: Annotated[Path | None, typer.Option("--keep", help="write and keep the extract here")] = None,
    out: OutFile = None,
) -> None:
    """Generate an extract in a temporary directory; print lines/minute and peak RSS."""
    from veille.synth import generate

    bench = Bench("synth", out=out)
    tmp = Path(tempfile.mkdtemp(prefix="veille_bench_synth_"))
    extract = keep or tmp / "extract"
    try:
        with bench.stage(f"generate ({scenario})", patients=patients, years=years) as st:
            truth = generate(extract, patients, years, date(2015, 1, 1), 1, scenario, force=True)
        doc = json.loads(truth.read_text("utf-8"))
        st.fields["claim_lines"] = int(doc["counts"]["claim_lines"])
        st.fields["bytes_written"] = sum(f.stat().st_size for f in extract.rglob("*") if f.is_file())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    bench.finish(SYNTH_TABLE)


def register(bench_app: typer.Typer) -> None:
    bench_app.command("synth")(bench_synth)
