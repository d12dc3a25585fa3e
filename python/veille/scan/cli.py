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
    interaction_run_id: int = typer.Option(None, "--interaction-run-id",
                                           help="interaction screen run (default: the latest)"),
) -> None:
    """AUC of each method and of the combined ranking: injected effects vs negative controls;
    with a truth holding interactions, the same for the interaction screen."""
    from veille.errors import VeilleError
    from veille.evaluation import read_truth_file
    from veille.scan.ddi import evaluate_interactions
    from veille.scan.ddi import read_signals as read_interactions
    from veille.scan.evaluate import evaluate
    from veille.scan.run import read_signals

    cliapp.choice(fmt, ("text", "json"), "--format")
    result = evaluate(truth, read_signals(run_id))
    _, doc = read_truth_file(truth)
    if doc.get("interactions"):
        try:
            result["interactions"] = evaluate_interactions(doc, read_interactions(interaction_run_id))
        except VeilleError as e:  # no interaction screen yet: the single-drug evaluation stands
            result["interactions"] = {"error": str(e)}
    if fmt == "json":
        typer.echo(json.dumps(result))
        return
    _echo_single(result)
    if "error" in result.get("interactions", {}):
        typer.echo(f"interactions: {result['interactions']['error']}")
    elif "interactions" in result:
        _echo_interactions(result["interactions"])


def _echo_single(result: dict) -> None:
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


def _echo_interactions(r: dict) -> None:
    typer.echo(f"interactions: {r['positives']} injected, {r['negatives']} null pairs ({r['traps']} traps; "
               f"screened: {r['screened']['positives']}, {r['screened']['negatives']}) among "
               f"{r['triples_screened']} drug pairs x outcomes")
    for method, value in r["auc"].items():
        typer.echo(f"AUC {method:<13} " + ("-" if value is None else f"{value:.3f}"))
    typer.echo(f"traps in the top 5: {r['traps_in_top5']}")
    for p in r["pairs"]:
        kind = "injected" if p["hazard_ratio"] > 1 else ("trap" if p["trap"] else "null")
        where = "not screened" if p["rank"] is None else (
            f"rank {p['rank']:<6} observed {p['o_ab']!s:>4} expected {p['e_mult']:7.1f} "
            f"Omega {p['omega']:6.2f} RoR {p['ror'] if p['ror'] is not None else float('nan'):6.2f}")
        typer.echo(f"  {kind:<8} {p['object_atc']:<8} + {p['precipitant_atc']:<8} {p['outcome_icd10']}  "
                   f"HR {p['hazard_ratio']:<4g} {where}")


@scan_app.command("interactions")
def interactions_cmd(
    ctx: typer.Context,
    settings_file: cliapp.SettingsFile = None,
    build: bool = typer.Option(True, "--build/--no-build", help="rebuild the dbt interaction marts first"),
    upstream: bool = typer.Option(True, "--upstream/--no-upstream",
                                  help="also rebuild the scan and warehouse models the marts read (without: "
                                       "they keep the washout and minimum events of the last `veille scan`)"),
    min_patients: int = typer.Option(20, "--min-patients", help="screen drug pairs taken together by this many patients"),
    min_events: int = typer.Option(3, "--min-events", help="screen pairs x outcomes with this many joint events"),
    washout_days: int = typer.Option(365, "--washout-days", help="days of history before a first use is new"),
    fdr: float = typer.Option(0.05, "--fdr", help="false discovery rate level of a signal"),
    report: Path = typer.Option(Path("reports/scan/interactions.html"), "--report", help="HTML report path"),
    top: int = typer.Option(20, "--top", help="signals to print"),
) -> None:
    """Screen every pair of drugs taken together against every outcome: observed vs expected
    from both drugs' own effects (Omega) and the self-controlled ratio of ratios; store, report."""
    from rich.console import Console

    from veille.privacy import mask_count
    from veille.scan.ddi import InteractionSettings, read_signals, run_interactions
    from veille.scan.ddi_report import write_report

    values = {"ddi_min_patients": min_patients, "min_events": min_events, "washout_days": washout_days, "fdr": fdr}
    settings = cliapp.load_settings(ctx, InteractionSettings, settings_file, values,
                                    params={"ddi_min_patients": "min_patients"})
    console = Console(stderr=True)
    with console.status("screening interactions") as status:
        run_id, _ = run_interactions(settings, build=build, upstream=upstream,
                                     progress=lambda s: status.update(f"interactions: {s}"))
        signals = read_signals(run_id)
        status.update("interactions: report")
        path = write_report(signals, report, run_id)
    typer.echo(f"interaction run {run_id}: {len(signals)} drug pairs x outcomes, {int(signals['is_signal'].sum())} "
               f"signals (q <= {settings.fdr}); report {path}")
    for r in signals.head(top).itertuples(index=False):
        typer.echo(f"{r.rank:>4}  {r.drug_a:<8} + {r.drug_b:<8} {r.outcome_code:<5} observed {mask_count(r.o_ab):>4}"
                   f"  expected {r.e_mult:7.1f}  Omega {_num(r.omega):5.2f}  RoR {_num(r.ror_ab):5.2f}/"
                   f"{_num(r.ror_ba):5.2f}  q {r.q_value:.2e}")


def register(app: typer.Typer) -> None:
    app.add_typer(scan_app)
