"""`veille pathways run | report | evaluate | indicators`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from veille import cliapp

pathways_app = cliapp.sub_app(
    "pathways", "Care pathways: care use, adherence, guideline indicators, treatment lines, clusters.")


@pathways_app.command("run")
def run_cmd(
    ctx: typer.Context,
    settings_file: cliapp.SettingsFile = None,
    months: int = typer.Option(60, help="months of monthly states per patient"),
    min_months: int = typer.Option(12, help="months observed needed to be clustered"),
    method: str = typer.Option("mixture", help="trajectory clustering: mixture (latent classes "
                                                "of the monthly event counts) | clara (k-medoids "
                                                "on Hamming distances between the sequences)"),
    k: int = typer.Option(0, help="number of clusters (0 = chosen automatically in 2-8: ICL "
                                  "for the mixture, elbow of the distance for CLARA)"),
    sample_size: int = typer.Option(2000, help="patients of the sample on which k is chosen "
                                               "(and CLARA's medoids searched)"),
    samples: int = typer.Option(5, help="CLARA samples"),
    seed: int = typer.Option(0, help="random seed"),
    path_filter: str = typer.Option("first", help="treatment paths: first | changes | all"),
    indicators: Path = typer.Option(None, help="indicator YAML file or directory "
                                               "(default analyses/indicators)"),
    build: str = typer.Option("upstream", help="dbt models to build first: upstream (the pathways "
                                                "models and all they read), pathways (only the "
                                                "pathways models), indicators (only the indicator "
                                                "mart, when `veille dbt build` just ran)"),
    target: cliapp.Target = "default",
) -> None:
    """Build the pathways marts and store summaries and clusters under a new run id."""
    from veille.pathways.run import RunSettings, run

    settings = cliapp.load_settings(
        ctx, RunSettings, settings_file,
        {"months": months, "min_months": min_months, "method": method, "k": k,
         "sample_size": sample_size, "n_samples": samples, "seed": seed, "path_filter": path_filter,
         "build": build, "indicators_path": str(indicators) if indicators else None, "target": target},
        params={"n_samples": "samples", "indicators_path": "indicators"},
    )
    run_id = run(settings)
    typer.echo(f"pathways run {run_id} done")


@pathways_app.command("report")
def report_cmd(
    run_id: int = typer.Option(None, "--run-id", help="run id (default: the latest done run)"),
    out: Path = typer.Option(None, help="HTML file (default reports/pathways/pathways_run_N.html)"),
) -> None:
    """Write the self-contained HTML report of a run."""
    from veille import db
    from veille.pathways import report
    from veille.pathways.run import default_report_path, latest_run

    with db.engine(db.ANALYST).connect() as conn:
        rid = latest_run(conn, run_id)
        path = report.build(conn, rid, out or default_report_path(rid))
    typer.echo(f"report written: {path}")


@pathways_app.command("evaluate")
def evaluate_cmd(
    truth: Path = typer.Option(..., help="truth.json of a synthetic extract (or its folder)"),
    run_id: int = typer.Option(None, "--run-id", help="run id (default: the latest done run)"),
    fmt: str = typer.Option("text", "--format", help="text | json"),
) -> None:
    """Agreement of the clusters with the generator's archetypes (adjusted Rand index) and
    indicator rates per true archetype."""
    from veille import db
    from veille.pathways.evaluate import evaluate, read_truth, to_text
    from veille.pathways.run import latest_run

    cliapp.choice(fmt, ("text", "json"), "--format")
    archetypes = read_truth(truth)
    with db.engine(db.ENGINEER).begin() as conn:  # maps the truth's BEN_NIR_PSA to patients
        rid = latest_run(conn, run_id)
        result = evaluate(conn, rid, archetypes)
    typer.echo(json.dumps(result, indent=2) if fmt == "json" else to_text(result))


@pathways_app.command("indicators")
def indicators_cmd(
    path: Path = typer.Argument(None, help="indicator YAML file or directory"),
) -> None:
    """Validate and list the guideline indicators."""
    from veille.pathways.indicators import read_indicators

    for ind, fname in read_indicators(path):
        items = " and ".join(f"{i.kind} {','.join(i.codes)} x{i.min_count}" for i in ind.items)
        typer.echo(f"{ind.id} ({fname}): {ind.population.kind} {','.join(ind.population.codes)}; "
                   f"{ind.window.kind} {ind.window.length}; {items}")


def register(app: typer.Typer) -> None:
    app.add_typer(pathways_app)
