"""`veille bench synth`: claim lines per minute and peak memory of the generator."""

from __future__ import annotations

import json
import resource
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path

import typer


def bench_synth(
    patients: int = typer.Option(50_000, "--patients", help="beneficiaries to generate"),
    years: int = typer.Option(5, "--years", help="length of the period"),
    scenario: str = typer.Option("default", "--scenario", help="scenario name or file"),
    keep: Path | None = typer.Option(None, "--keep", help="write here and keep the extract"),
) -> None:
    """Generate an extract in a temporary directory; print lines/minute and peak RSS."""
    from veille.synth import generate

    tmp = Path(tempfile.mkdtemp(prefix="veille_bench_synth_"))
    out = keep or tmp / "extract"
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        truth = generate(out, patients, years, date(2015, 1, 1), 1, scenario, force=True)
        secs, cpu = time.perf_counter() - t0, time.process_time() - c0
        doc = json.loads(truth.read_text("utf-8"))
        lines = int(doc["counts"]["claim_lines"])
        size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    typer.echo(
        f"synth: {patients} patients x {years} years ({scenario}): {lines} claim lines "
        f"(DCIR + PMSI stays) in {secs:.1f} s wall = {lines / secs * 60 / 1e6:.2f} M lines/min "
        f"({cpu:.1f} s CPU = {lines / cpu * 60 / 1e6:.2f} M lines per CPU-minute); "
        f"{size / 1e6:.0f} MB written; peak RSS {rss_mb:.0f} MB"
    )


def register(bench_app: typer.Typer) -> None:
    bench_app.command("synth")(bench_synth)
