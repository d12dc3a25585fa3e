"""`veille fraud sweep | scan --month | evaluate --truth | report`."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from veille import cliapp
from veille.privacy import mask_value

fraud_app = cliapp.sub_app("fraud", "Sweep the whole base for misuse and fraud, month after month.")


def _print_evaluation(result: dict, console: Console) -> None:
    table = Table(title=f"alerts vs truth: top k = {result['k']} (2 x injected actors)")
    for col in ("kind", "actors", "found in top k", "recall at k", "AUC"):
        table.add_column(col, justify="left" if col == "kind" else "right")
    for kind, r in sorted(result["kinds"].items()):
        auc = "-" if r["auc"] is None else f"{r['auc']:.3f}"
        table.add_row(kind, str(mask_value(r["actors"])), str(mask_value(r["found_in_top_k"])),
                      f"{r['recall_at_k']:.2f}", auc)
    console.print(table)
    p = result["precision_at_k"]
    console.print(f"precision at k: {'-' if p is None else f'{p:.2f}'}; recall at k: {result['recall_at_k']:.2f}; "
                  f"precision at n (= actors): {result['precision_at_n'] or 0:.2f}; "
                  f"alerted entities: {mask_value(result['alerted_entities'])}")


def _masked(result: dict) -> dict:
    out = dict(result)
    for key in ("actors", "alerted_entities", "true_in_top_k"):
        out[key] = mask_value(out[key])
    out["kinds"] = {
        k: {**v, "actors": mask_value(v["actors"]), "found_in_top_k": mask_value(v["found_in_top_k"]),
            "alerted": mask_value(v["alerted"])}
        for k, v in result["kinds"].items()
    }
    return out


def _settings(settings_file: Path | None):
    from veille.fraud.settings import SweepSettings

    return cliapp.load_settings(None, SweepSettings, settings_file)


@fraud_app.command("sweep")
def sweep_cmd(settings_file: cliapp.SettingsFile = None, target: cliapp.Target = "default") -> None:
    """Rebuild the fraud models over every loaded flow month and rank each month's alerts."""
    from veille.fraud.sweep import sweep_all
    from veille.marts import check_target

    counts = sweep_all(_settings(settings_file), show_progress=True, target=check_target(target))
    months = sorted(counts)
    typer.echo(f"swept {len(months)} flow months ({months[0]} to {months[-1]}); "
               f"alerts in {months[-1]}: {mask_value(counts[months[-1]])}")


@fraud_app.command("scan")
def scan_cmd(
    month: str = typer.Option(..., "--month", help="the flow month to sweep, YYYY-MM"),
    settings_file: cliapp.SettingsFile = None,
) -> None:
    """Sweep one monthly flow incrementally and update the alert history."""
    from veille.fraud.settings import parse_month
    from veille.fraud.sweep import scan_month

    m = parse_month(month)
    n = scan_month(m, _settings(settings_file))
    typer.echo(f"swept {m:%Y-%m}: {mask_value(n)} alerts")


@fraud_app.command("evaluate")
def evaluate_cmd(
    truth: Path = typer.Option(..., "--truth", help="truth.json of a synthetic extract (or its folder)"),
    fmt: str = typer.Option("table", "--format", help="table or json"),
) -> None:
    """Precision at k, recall at k and AUC per injected actor kind (k = 2 x actors)."""
    from veille.fraud.evaluate import evaluate_truth_file

    cliapp.choice(fmt, ("table", "json"), "--format")
    result = evaluate_truth_file(truth)
    if fmt == "json":
        typer.echo(json.dumps(_masked(result), indent=2))
    else:
        _print_evaluation(result, Console())


@fraud_app.command("report")
def report_cmd(
    out: Path = typer.Option(Path("reports/fraud"), "--out", help="an .html file or a folder"),
    limit: int = typer.Option(50, help="alerts listed"),
) -> None:
    """Write the HTML report: ranked alerts, a provider against its peers, the shopper network."""
    from veille.fraud.report import write_report

    typer.echo(f"wrote {write_report(out, limit)}")


def register(app: typer.Typer) -> None:
    app.add_typer(fraud_app)
