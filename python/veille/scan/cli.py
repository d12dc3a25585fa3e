"""`veille scan` (run the screen) and `veille scan evaluate` (AUC against a synthetic truth)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from veille import cliapp

scan_app = cliapp.sub_app("scan", "Global drug-safety screen: every drug x every outcome, ranked.",
                          no_args_is_help=False)


@scan_app.callback(invoke_without_command=True)
def scan_cmd(
    ctx: typer.Context,
    settings_file: cliapp.SettingsFile = None,
    build: bool = typer.Option(True, "--build/--no-build", help="rebuild the dbt counting marts first"),
    min_events: int = typer.Option(3, "--min-events", help="scan pairs with at least this many events"),
    washout_days: int = typer.Option(365, "--washout-days", help="days of history before a first use is new"),
    ssa_window_days: int = typer.Option(365, "--ssa-window-days", help="sequence symmetry window"),
    tree_gap_days: int = typer.Option(30, "--tree-gap-days",
                                      help="tree scan: days before initiation left out of the control time"),
    latency_days: int = typer.Option(365, "--latency-days",
                                     help="latent O/E: exposed days this long after an episode's start"),
    replicates: int = typer.Option(999, "--replicates", help="Monte Carlo replicates of the tree scan"),
    seed: int = typer.Option(1, "--seed", help="Monte Carlo seed"),
    fdr: float = typer.Option(0.05, "--fdr", help="false discovery rate level of a signal"),
    conv_lags: int = typer.Option(12, "--conv-lags", help="ConvSCCS: lag buckets after an exposure start"),
    conv_bucket_days: int = typer.Option(30, "--conv-bucket-days", help="ConvSCCS: days per lag bucket"),
    conv_replicates: int = typer.Option(0, "--conv-replicates",
                                        help="ConvSCCS: bootstrap replicates (0: analytic intervals)"),
    report: Path = typer.Option(Path("reports/scan/scan.html"), "--report", help="HTML report path"),
    top: int = typer.Option(20, "--top", help="signals to print"),
    target: cliapp.Target = "default",
) -> None:
    """Scan every drug (ATC7, ATC5) against every outcome (ICD-10 code, block) with sequence
    symmetry, observed vs expected, tree scan and ConvSCCS; store and report."""
    if ctx.invoked_subcommand is not None:
        return
    from rich.console import Console

    from veille.marts import check_target
    from veille.privacy import mask_count
    from veille.scan.report import write_report
    from veille.scan.run import read_lags, read_signals, run_scan
    from veille.scan.settings import ScanSettings

    values = {"washout_days": washout_days, "ssa_window_days": ssa_window_days, "tree_gap_days": tree_gap_days,
              "latency_days": latency_days, "min_events": min_events, "replicates": replicates, "seed": seed,
              "fdr": fdr, "conv_lags": conv_lags, "conv_bucket_days": conv_bucket_days,
              "conv_replicates": conv_replicates}
    settings = cliapp.load_settings(ctx, ScanSettings, settings_file, values)
    check_target(target)
    console = Console(stderr=True)
    with console.status("scanning") as status:
        run_id, _ = run_scan(settings, build=build, progress=lambda s: status.update(f"scan: {s}"),
                             target=target)
        signals = read_signals(run_id)
        status.update("scan: report")
        path = write_report(signals, report, run_id, settings.ssa_window_days, lags=read_lags(run_id),
                            target=target)
    typer.echo(f"scan run {run_id}: {len(signals)} pairs, {int(signals['is_signal'].sum())} "
               f"signals (q <= {settings.fdr}); report {path}")
    for r in signals.head(top).itertuples(index=False):
        typer.echo(f"{r.rank:>4}  {r.drug_code:<8} {r.outcome_code:<8} observed "
                   f"{mask_count(r.oe_observed):>4}  IC {_num(r.oe_ic):6.2f}  "
                   f"ASR {_num(r.ssa_asr):6.2f}  q {r.q_value:.2e}")


def _num(x) -> float:
    return float("nan") if x is None else float(x)


@scan_app.command("evaluate")
def evaluate_cmd(
    truth: Path = typer.Option(..., "--truth", help="truth.json of a synthetic extract (or its directory)"),
    fmt: str = typer.Option("text", "--format", help="text or json"),
    run_id: int = typer.Option(None, "--run-id", help="scan run (default: the latest)"),
) -> None:
    """AUC of each method and of the combined ranking: injected effects vs negative controls."""
    from veille.scan.evaluate import evaluate
    from veille.scan.run import read_signals

    cliapp.choice(fmt, ("text", "json"), "--format")
    result = evaluate(truth, read_signals(run_id))
    if fmt == "json":
        typer.echo(json.dumps(result))
        return
    typer.echo(f"{result['positives']} injected effects, {result['negatives']} negative controls "
               f"(scanned: {result['scanned']['positives']}, {result['scanned']['negatives']})")
    for method, value in result["auc"].items():
        typer.echo(f"AUC {method:<13} " + ("-" if value is None else f"{value:.3f}"))
    typer.echo("injected effects (power: of the O/E test at this size, level 0.05):")
    for eff in (e for e in result["effects"] if e["hazard_ratio"] > 1):
        if eff["rank"] is None:
            typer.echo(f"  {eff['exposure_atc']:<8} {eff['outcome_icd10']}  HR {eff['hazard_ratio']:<5g} "
                       "not scanned (too few events)")
            continue
        typer.echo(f"  {eff['exposure_atc']:<8} {eff['outcome_icd10']}  HR {eff['hazard_ratio']:<5g} "
                   f"rank {eff['rank']:<7} observed {eff['observed']!s:>4}  expected "
                   f"{eff['expected']:7.1f}  power {eff['power']:.2f}"
                   + (f"  tree node {eff['tree_node']}" if eff["tree_node"] else ""))


def register(app: typer.Typer) -> None:
    app.add_typer(scan_app)
