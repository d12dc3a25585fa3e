"""`veille demo`: the whole chain on a synthetic extract, end to end.

start the embedded server -> migrate -> write a synthetic extract -> load it -> dbt build ->
run the shipped studies -> say where the reports are.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import typer
from rich.console import Console

from veille import db

console = Console()


def _step(title: str) -> float:
    console.rule(f"[bold]{title}")
    return time.perf_counter()


def _done(t0: float) -> None:
    console.print(f"[dim]({time.perf_counter() - t0:.1f} s)[/]")


def run_demo(out: Path, patients: int, years: int, seed: int, scenario: str, studies: bool,
             screens: bool = True) -> None:
    from veille import migrate
    from veille.load import load_extract
    from veille.load.cli import print_summary
    from veille.synth import generate

    t0 = _step("database")
    s = db.settings()
    console.print(f"{'embedded PostgreSQL, data in ' + str(db.veille_home() / 'pgdata') if s.embedded else 'external PostgreSQL'}")
    console.print(f"url: {s.url}")
    migrate.upgrade()
    console.print(f"schema at revision {migrate.current()}")
    _done(t0)

    t0 = _step(f"synthetic extract: {patients:,} patients x {years} years, scenario {scenario}")
    if (out / "truth.json").exists():
        console.print(f"reusing {out} (delete it to regenerate)")
    else:
        generate(out, patients=patients, years=years, start=date(2015, 1, 1), seed=seed,
                 scenario=scenario)
    console.print(f"extract in {out}")
    _done(t0)

    t0 = _step(f"load {out}")
    summary = load_extract(out, show_progress=True)
    print_summary(summary, console)
    _done(t0)

    t0 = _step("dbt build (episodes, outcomes, cohorts, marts, tests)")
    from veille.dbt import run_dbt

    run_dbt(["build", "--quiet"], check=True)
    console.print("dbt build passed")
    _done(t0)

    if studies:
        t0 = _step("studies (analyses/studies/*.yml)")
        from veille.study.run import run_all_for_demo

        reports = run_all_for_demo()
        _done(t0)
        if screens:
            t0 = _step("screens: every drug x every outcome, care pathways, fraud sweep")
            _run_screens(reports.parent)
            _done(t0)
        t0 = _step(f"small-cell audit of {reports.parent}")
        from veille.audit import audit_exports

        audit = audit_exports(reports.parent)
        for f in audit.findings:
            console.print(f.line(), highlight=False)
        console.print(audit.summary(), highlight=False)
        _done(t0)
        console.rule("[bold]done")
        console.print(f"reports: {reports}")
        console.print("dbt docs, from the extract to each report:  veille docs")
    else:
        console.rule("[bold]done")
    console.print("query the marts:  psql \"$(veille db url)\" -c 'select * from marts.fct_study_survival limit 5'")
    console.print("stop the server:  veille db stop")


def _run_screens(report_dir: Path) -> None:
    """The three other pillars on the demo's warehouse (its dbt build already made their marts),
    each writing its report beside the studies' (reports/index.html lists them all)."""
    from veille.fraud.report import write_report as fraud_report
    from veille.fraud.sweep import sweep_all
    from veille.pathways import report as pathways_report
    from veille.pathways.run import RunSettings, run
    from veille.scan.report import write_report as scan_report
    from veille.scan.run import read_lags, read_signals, run_scan
    from veille.scan.settings import ScanSettings

    settings = ScanSettings()
    scan_id, _ = run_scan(settings, build=False)
    signals = read_signals(scan_id)
    path = scan_report(signals, report_dir / "scan" / "scan.html", scan_id, settings.ssa_window_days,
                       lags=read_lags(scan_id))
    console.print(f"signal scan: {len(signals):,} drug x outcome pairs, {int(signals['is_signal'].sum())} "
                  f"signals; report {path}")
    pathways_id = run(RunSettings())  # builds what it reads: a partial build upstream may have dropped views
    with db.engine(db.ANALYST).connect() as conn:
        path = pathways_report.build(conn, pathways_id, report_dir / "pathways" / f"pathways_run_{pathways_id}.html")
    console.print(f"care pathways: run {pathways_id}; report {path}")
    sweep_all(show_progress=False)
    console.print(f"fraud sweep: report {fraud_report(report_dir / 'fraud')}")


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo_cmd(
        out: Path = typer.Option(Path("out/demo"), help="where to write the synthetic extract"),
        patients: int = typer.Option(20000, min=100, help="synthetic patients"),
        years: int = typer.Option(4, min=1, max=20, help="years of data"),
        seed: int = typer.Option(2026, help="random seed"),
        scenario: str = typer.Option(
            "strong", help="generator scenario: strong (large effects), default (published sizes) or a file"),
        studies: bool = typer.Option(True, help="run the shipped studies"),
        screens: bool = typer.Option(True, help="then the signal scan, care pathways and fraud sweep"),
    ) -> None:
        """Run the whole chain on a synthetic extract and print where the reports are."""
        run_demo(out, patients, years, seed, scenario, studies, screens)
