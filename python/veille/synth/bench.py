"""`veille bench synth`: claim lines per minute and peak memory of the generator."""

from __future__ import annotations

import json
import resource
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Annotated

import typer


def bench_synth(
    patients: Annotated[int, typer.Option("--patients", help="beneficiaries to generate")] = 50_000,
    years: Annotated[int, typer.Option("--years", help="length of the period")] = 5,
    scenario: Annotated[str, typer.Option("--scenario", help="scenario name or file")] = "default",
    keep: Annotated[Path | None, typer.Option("--keep", help="write and keep the extract here")] = None,
) -> None:
    """Generate an extract in a temporary directory; print lines/minute and peak RSS."""
    from veille.synth import generate

    tmp = Path(tempfile.mkdtemp(prefix="veille_bench_synth_"))
    out = keep or tmp / "extract"
    try:
        t0, c0 = time.perf_counter(), _cpu_seconds()
        truth = generate(out, patients, years, date(2015, 1, 1), 1, scenario, force=True)
        secs, cpu = time.perf_counter() - t0, _cpu_seconds() - c0
        doc = json.loads(truth.read_text("utf-8"))
        lines = int(doc["counts"]["claim_lines"])
        size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rss_mb = max(resource.getrusage(who).ru_maxrss
                 for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024
    typer.echo(
        f"synth: {patients} patients x {years} years ({scenario}): {lines} claim lines "
        f"(DCIR + PMSI stays) in {secs:.1f} s wall = {lines / secs * 60 / 1e6:.2f} M lines/min "
        f"({cpu:.1f} s CPU = {lines / cpu * 60 / 1e6:.2f} M lines per CPU-minute); "
        f"{size / 1e6:.0f} MB written; peak RSS of one process {rss_mb:.0f} MB"
    )


def _cpu_seconds() -> float:
    """User + system CPU of this process and of its finished worker processes."""
    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                  resource.getrusage(resource.RUSAGE_CHILDREN)))


def register(bench_app: typer.Typer) -> None:
    bench_app.command("synth")(bench_synth)
