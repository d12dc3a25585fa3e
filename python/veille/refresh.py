"""`veille refresh DIR`: the monthly chain on a growing warehouse (docs/refresh.md).

1. load the new flow months of DIR (`veille load --append`: a flow month loaded before is
   refused, the database is unchanged);
2. build the warehouse (`dbt build --selector warehouse`): the incremental models recompute
   only the changed patients' tails (meta.load_change), the others are rebuilt;
3. sweep each new flow month for fraud alerts (`veille fraud scan`), when a sweep exists;
   with --scan / --pathways, rerun those (in full: they are not incremental);
4. print what changed: patients touched, new patients, episodes, outcome events, observation
   periods, the end of the data, new alerts (counts under 10 masked).

`--full-refresh` rebuilds every model from scratch instead (the reference an incremental build
is tested against: tests/test_refresh.py).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import typer
from rich.console import Console

from veille import db
from veille.errors import VeilleError
from veille.privacy import mask_count

_COUNTS = {  # what the summary counts before and after: name -> relation
    "patients": "claims.patient",
    "episodes": "intermediate.int_drug_episodes_built",
    "outcome events": "intermediate.int_outcome_events",
    "observation periods": "intermediate.int_observation_periods",
}


@dataclass
class RefreshSummary:
    loaded_files: int = 0
    flow_months: list[date] = field(default_factory=list)
    changed_patients: dict[str, int] = field(default_factory=dict)  # per source
    before: dict[str, int | None] = field(default_factory=dict)
    after: dict[str, int | None] = field(default_factory=dict)
    data_end: tuple[date | None, date | None] = (None, None)
    alerts: dict[str, int] = field(default_factory=dict)  # per flow month swept
    seconds: dict[str, float] = field(default_factory=dict)


_FLOW_FILE = re.compile(r"^ER_[A-Z]{3}_F_(\d{4})_(\d{2})\.csv$", re.IGNORECASE)


def split_flows(extract: Path, out: Path, first_month: date) -> list[Path]:
    """Arrange an extract as successive deliveries: ``out/base`` holds the referentials, the PMSI
    and every DCIR flow month before ``first_month``; ``out/flow_YYYY_MM`` each later flow month's
    DCIR files (late lines of earlier care months included). Files are hard-linked when the file
    system allows (else copied). Returns the flow folders in order: load ``base``, then
    ``veille refresh`` each of them."""
    if not extract.is_dir():
        raise VeilleError(f"{extract}: no such extract folder")
    out.mkdir(parents=True, exist_ok=True)
    folders: dict[str, Path] = {}
    for f in sorted(extract.glob("*.csv")):
        m = _FLOW_FILE.match(f.name)
        month = date(int(m.group(1)), int(m.group(2)), 1) if m else None
        target = out / ("base" if month is None or month < first_month else f"flow_{month:%Y_%m}")
        target.mkdir(exist_ok=True)
        if month is not None and month >= first_month:
            folders[target.name] = target
        link = target / f.name
        if not link.exists():
            try:
                os.link(f, link)
            except OSError:
                shutil.copy2(f, link)
    if not folders:
        raise VeilleError(f"{extract}: no DCIR flow month from {first_month:%Y-%m} on")
    return [folders[k] for k in sorted(folders)]


def _state(conn) -> tuple[dict[str, int | None], date | None]:
    out: dict[str, int | None] = {}
    for name, relation in _COUNTS.items():
        exists = conn.execute("select to_regclass(%s) is not null", (relation,)).fetchone()[0]
        out[name] = conn.execute(f"select count(*) from {relation}").fetchone()[0] if exists else None
    end = None
    if conn.execute("select to_regclass('intermediate.int_data_span') is not null").fetchone()[0]:
        end = conn.execute("select data_end from intermediate.int_data_span").fetchone()[0]
    return out, end


def _changes(conn, run_ids: list[int]) -> dict[str, int]:
    rows = conn.execute(
        "select coalesce(source, 'any'), count(distinct patient_id) from meta.load_change "
        "where run_id = any(%s) and patient_id is not null group by rollup (source) order by 1",
        (run_ids,)).fetchall()
    return {source: n for source, n in rows}


INCREMENTAL_MODELS = ("int_patient_activity_dates", "int_observation_spans", "int_drug_episodes_built")


def _needs_full_refresh(conn) -> list[str]:
    """Incremental models built before they kept a watermark (a warehouse built by an older
    veille, where they were plain tables): their first refresh must rebuild them."""
    has_marks = conn.execute("select to_regclass('intermediate.refresh_watermark') is not null").fetchone()[0]
    marked = {m for (m,) in conn.execute("select model from intermediate.refresh_watermark").fetchall()} \
        if has_marks else set()
    return [m for m in INCREMENTAL_MODELS
            if m not in marked
            and conn.execute("select to_regclass(%s) is not null", (f"intermediate.{m}",)).fetchone()[0]]


def _swept_before(conn) -> bool:
    exists = conn.execute("select to_regclass('results.fraud_sweep') is not null").fetchone()[0]
    return bool(exists and conn.execute("select exists (select 1 from results.fraud_sweep)").fetchone()[0])


def refresh(directory: Path, *, full_refresh: bool = False, test: bool = True, fraud: bool | None = None,
            areas: tuple[str, ...] = (), show_progress: bool = True, console: Console | None = None) -> RefreshSummary:
    """Append DIR's flow months, build the warehouse, sweep the new months, rerun ``areas``
    (scan, pathways: in full, they are not incremental); what changed."""
    from veille.dbt import run_dbt
    from veille.load import load_extract
    from veille.load.cli import print_summary

    console = console or Console(stderr=True)
    summary = RefreshSummary()
    with db.raw_connection() as conn:
        summary.before, end_before = _state(conn)
        last_run = conn.execute("select coalesce(max(run_id), 0) from meta.load_run").fetchone()[0]
        swept = _swept_before(conn)
        unmarked = _needs_full_refresh(conn)

    started = time.perf_counter()
    if show_progress:
        console.print(f"[bold]1/3 load[/bold] {directory} (new flow months only)")
    loaded = load_extract(directory, show_progress=show_progress, append=True)
    if show_progress:
        print_summary(loaded)
    summary.seconds["load"] = time.perf_counter() - started
    summary.loaded_files = len(loaded.loaded_files)
    spans = [f.flow_months for f in loaded.loaded_files if f.flow_months]
    if spans:
        month, last = min(first for first, _ in spans), max(last for _, last in spans)
        while month <= last:
            summary.flow_months.append(month)
            month = date(month.year + month.month // 12, month.month % 12 + 1, 1)

    started = time.perf_counter()
    args = ["build", "--selector", "warehouse"]
    if unmarked and not full_refresh:
        full_refresh = True
        console.print(f"  {', '.join(unmarked)}: built before they were incremental, so this build is a "
                      "full refresh (once)")
    if show_progress:
        console.print("[bold]2/3 build[/bold] the warehouse (dbt build --selector warehouse"
                      + (", --full-refresh" if full_refresh else ", incremental") + ")")
    if full_refresh:
        args.append("--full-refresh")
    if not test:
        args += ["--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"]
    if not show_progress:
        args.append("--quiet")
    if run_dbt(args, check=False) != 0:
        raise VeilleError("the warehouse build failed (dbt's messages above); the load is kept: "
                          "run `veille dbt build --selector warehouse` again once fixed")
    summary.seconds["build"] = time.perf_counter() - started

    started = time.perf_counter()
    do_fraud = swept if fraud is None else fraud
    if do_fraud and summary.flow_months:
        from veille.fraud.sweep import scan_month

        if show_progress:
            console.print(f"[bold]3/3 fraud[/bold] sweep of {len(summary.flow_months)} new flow month(s)")
        for month in summary.flow_months:
            summary.alerts[f"{month:%Y-%m}"] = scan_month(month)
    elif show_progress:
        console.print("[bold]3/3 fraud[/bold] skipped" + ("" if summary.flow_months else ": no new flow month")
                      + ("" if do_fraud else " (no sweep yet: run `veille fraud sweep` once, then refresh sweeps each new month)"))
    summary.seconds["fraud"] = time.perf_counter() - started

    for area in areas:
        started = time.perf_counter()
        command = {"scan": ["scan"], "pathways": ["pathways", "run"]}[area]
        if show_progress:
            console.print(f"[bold]then {area}[/bold] (`veille {' '.join(command)}`, recomputed in full)")
        done = subprocess.run([sys.executable, "-m", "veille.cli", *command], check=False)
        if done.returncode != 0:
            raise VeilleError(f"`veille {' '.join(command)}` failed (its messages above); the load and the "
                              "warehouse build are kept")
        summary.seconds[area] = time.perf_counter() - started

    with db.raw_connection() as conn:
        summary.after, end_after = _state(conn)
        runs = [r for (r,) in conn.execute("select run_id from meta.load_run where run_id > %s and status = 'done'",
                                            (last_run,)).fetchall()]
        summary.changed_patients = _changes(conn, runs)
    summary.data_end = (end_before, end_after)
    return summary


def print_refresh(summary: RefreshSummary, console: Console) -> None:
    def delta(name: str) -> str:
        b, a = summary.before.get(name), summary.after.get(name)
        if a is None:
            return "not built"
        if b is None:
            return f"{mask_count(a)} (first build)"
        change = a - b
        sign = "+" if change >= 0 else "-"
        return f"{mask_count(a)} ({sign}{mask_count(abs(change))})"

    console.print("[bold]what changed[/bold]")
    months = summary.flow_months
    console.print("  flow months loaded: " + (f"{months[0]:%Y-%m}" + (f" to {months[-1]:%Y-%m}" if len(months) > 1 else "")
                                             if months else "none (nothing new in the folder)"))
    touched = summary.changed_patients
    by_source = ", ".join(f"{s} {mask_count(n)}" for s, n in touched.items() if s != "any")
    console.print(f"  patients touched by the load: {mask_count(touched.get('any', 0))}" + (f" ({by_source})" if by_source else ""))
    for name in _COUNTS:
        console.print(f"  {name}: {delta(name)}")
    b, a = summary.data_end
    if a:
        console.print(f"  end of the data: {b or '-'} -> {a}")
    if summary.alerts:
        console.print("  new fraud alerts: " + ", ".join(f"{m} {mask_count(n)}" for m, n in summary.alerts.items()))
    console.print("  seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in summary.seconds.items()))


def register(app: typer.Typer) -> None:
    @app.command("refresh")
    def refresh_cmd(
        directory: Path = typer.Argument(..., help="folder with the new flow months of the extract already loaded"),
        full_refresh: bool = typer.Option(False, "--full-refresh", help="rebuild every model from scratch"),
        test: bool = typer.Option(True, "--test/--no-test", help="run the warehouse's dbt tests"),
        fraud: bool = typer.Option(None, "--fraud/--no-fraud",
                                   help="sweep the new flow months for fraud alerts (default: when a sweep exists)"),
        scan: bool = typer.Option(False, "--scan", help="then rerun `veille scan` (in full: not incremental)"),
        pathways: bool = typer.Option(False, "--pathways",
                                      help="then rerun `veille pathways run` (in full: not incremental)"),
        migrate: bool = typer.Option(True, help="apply pending migrations first"),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress output"),
    ) -> None:
        """The monthly chain: load new flow months, build the warehouse incrementally, sweep them."""
        if migrate:
            from veille import migrate as m

            m.upgrade()
        console = Console(stderr=True)
        areas = tuple(a for a, wanted in (("scan", scan), ("pathways", pathways)) if wanted)
        summary = refresh(directory, full_refresh=full_refresh, test=test, fraud=fraud, areas=areas,
                          show_progress=not quiet, console=console)
        print_refresh(summary, Console())
