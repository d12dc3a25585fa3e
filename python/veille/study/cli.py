"""`veille study ...`: validate, list, run studies and print their latest results."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from veille import cliapp
from veille.errors import VeilleError

study_app = cliapp.sub_app("study", "Drug-outcome studies (analyses/studies/*.yml).")

EXPORT_COLUMNS = [
    "study", "run_id", "cohort_id", "analysis", "term", "outcome", "exposure", "comparator",
    "negative_control", "hr", "ci_low", "ci_high", "p_value", "n_exposed", "n_comparator",
    "events_exposed", "events_comparator", "status", "message",
]


def _reports_dir(reports: Path | None) -> Path:
    from veille import db

    return reports if reports is not None else db.project_root() / "reports"


@study_app.command("validate")
def validate_cmd(paths: list[Path] = typer.Argument(None, help="study files (default: all shipped)")) -> None:
    """Check study files; the first mistake of a file is printed as one line."""
    from veille.study.config import load_study, studies_dir

    files = paths or sorted(studies_dir().glob("*.yml"))
    if not files:
        raise VeilleError(f"no study files in {studies_dir()}")
    bad = []
    for f in files:
        try:
            s = load_study(f)
            typer.echo(f"ok  {f}: {len(s.comparisons)} comparison(s), {len(s.outcomes)} outcome(s), "
                       f"{len(s.negative_controls)} negative control(s)")
        except VeilleError as exc:
            bad.append(str(exc))
    if bad:
        raise VeilleError("; ".join(bad))


@study_app.command("list")
def list_cmd() -> None:
    """List the shipped studies (id, title, comparisons)."""
    from veille.study.config import load_all

    for s in load_all():
        what = "self-controlled case series" if s.design == "sccs" else ", ".join(c.id for c in s.comparisons)
        typer.echo(f"{s.id}: {s.title} [{what}]")


@study_app.command("run")
def run_cmd(
    study_id: str = typer.Argument(None, help="study id (file name without .yml)"),
    all_: bool = typer.Option(False, "--all", help="run every study in analyses/studies"),
    build: bool = typer.Option(True, "--build/--no-build", help="rebuild the study marts with dbt"),
    reports: Path = typer.Option(None, "--reports", help="report directory (default: reports/)"),
    target: cliapp.Target = "default",
) -> None:
    """Write the registry, build the marts, fit the models, store the results, write the report."""
    from veille.marts import check_target
    from veille.study.config import find_study, load_all
    from veille.study.run import run_studies

    if all_ == bool(study_id):
        raise VeilleError("give one study id or --all")
    studies = load_all() if all_ else [find_study(study_id)]
    check_target(target)
    run_studies(studies, build=build, report_dir=_reports_dir(reports), echo=typer.echo, target=target)


@study_app.command("results")
def results_cmd(
    study_id: str = typer.Argument(..., help="study id"),
    fmt: str = typer.Option("json", "--format", help="json or csv"),
    run_id: int = typer.Option(None, "--run", help="a run id (default: the latest finished run)"),
) -> None:
    """Print a run's estimates, one record per estimate; counts below 10 read '<10'."""
    from veille import db
    from veille.study import store
    from veille.study.export import export_records

    cliapp.choice(fmt, ("json", "csv"), "--format")
    with db.engine(db.ANALYST).connect() as conn:
        run = run_id if run_id is not None else store.latest_run(conn, study_id)
        table = store.read_estimates(conn, run)
    if table.empty:
        raise VeilleError(f"run {run} of study {study_id!r} has no estimates")
    records = export_records(table)
    if fmt == "json":
        typer.echo(json.dumps(records, indent=1))
    else:
        import csv
        import sys

        w = csv.DictWriter(sys.stdout, fieldnames=EXPORT_COLUMNS)
        w.writeheader()
        w.writerows(records)


@study_app.command("compare")
def compare_cmd(
    truth: Path = typer.Option(..., "--truth", help="truth.json of the synthetic extract"),
) -> None:
    """Markdown table: published vs recovered (latest runs) vs injected hazard ratios."""
    from veille import db
    from veille.evaluation import read_truth_file
    from veille.study import store
    from veille.study.compare import comparison_rows, markdown, negative_control_rows
    from veille.study.config import load_all

    _, doc = read_truth_file(truth)
    rows, notes = [], []
    with db.engine(db.ANALYST).connect() as conn:
        for s in load_all():
            est = store.read_estimates(conn, store.latest_run(conn, s.id))
            rows += comparison_rows(s, est, doc)
            cover, n = negative_control_rows(s, est)
            notes.append(f"{s.id}: {cover} of {n} estimable negative-control CIs ({s.primary_analysis}) cover 1")
    typer.echo(markdown(rows))
    typer.echo("")
    for line in notes:
        typer.echo(f"- {line}")


def register(app: typer.Typer) -> None:
    app.add_typer(study_app)
