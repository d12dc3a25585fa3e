"""`veille synth`: write a synthetic SNDS extract with known, injected effects."""

from __future__ import annotations

import time
from datetime import date, datetime
from pathlib import Path

import typer

from veille.errors import VeilleError


def _parse_date(value: str) -> date:
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise VeilleError(f"--start must be a date as YYYY-MM-DD, got {value!r}") from None


def synth_cmd(
    out: Path = typer.Option(..., "--out", help="directory to write the extract into"),
    patients: int = typer.Option(10_000, "--patients", help="number of beneficiaries"),
    years: int = typer.Option(5, "--years", help="length of the period in years"),
    start: str = typer.Option("2015-01-01", "--start", help="first day of the period (YYYY-MM-DD)"),
    seed: int = typer.Option(1, "--seed", help="random seed: same seed, same bytes"),
    scenario: str = typer.Option("default", "--scenario",
                                 help="'default', 'strong', 'interactions', 'dose' or a YAML scenario file"),
    profile: str = typer.Option("default", "--profile",
                                help="shape of the data: 'default', or 'stress' (heavy tails, other "
                                     "code frequencies, long stays, another calendar; same truth)"),
    force: bool = typer.Option(False, "--force", help="replace an existing extract in --out"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress bar"),
    flows_from: str = typer.Option(None, "--flows", metavar="YYYY-MM",
                                   help="also arrange the extract as successive deliveries in OUT/deliveries: "
                                        "base (referentials, PMSI, flows before YYYY-MM), then one folder per "
                                        "later flow month, for `veille load` then `veille refresh`"),
) -> None:
    """Write a synthetic SNDS extract (DCIR flows, PMSI, referentials) plus truth.json."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from veille.synth import generate

    first_day = _parse_date(start)
    if flows_from:
        try:
            first = datetime.strptime(flows_from, "%Y-%m").date()
        except ValueError:
            raise VeilleError(f"--flows must be a month as YYYY-MM, got {flows_from!r}") from None
    t0 = time.perf_counter()
    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), disable=quiet or patients < 50_000) as bar:
        task = bar.add_task("patients", total=patients)
        truth = generate(out, patients, years, first_day, seed, scenario, profile=profile, force=force,
                         progress=lambda done, total: bar.update(task, completed=done))
    import json

    doc = json.loads(truth.read_text("utf-8"))
    secs = time.perf_counter() - t0
    lines = doc["counts"]["claim_lines"]
    typer.echo(
        f"wrote {out}: {patients} patients, {lines} claim lines "
        f"({doc['counts']['rows'].get('ER_PRS_F', 0)} ER_PRS_F rows) in {secs:.1f} s; "
        f"truth in {truth}"
    )
    if flows_from:
        from veille.refresh import split_flows

        flows = split_flows(out, out / "deliveries", first)
        typer.echo(f"deliveries in {out / 'deliveries'}: base, then {len(flows)} flow month(s) "
                   f"({flows[0].name} to {flows[-1].name})")


def register(app: typer.Typer) -> None:
    app.command("synth")(synth_cmd)
