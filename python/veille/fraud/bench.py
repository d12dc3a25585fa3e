"""`veille bench fraud`: seconds of one incremental monthly sweep (`scan_month`) and of a full
sweep, on a generated extract loaded into its own database."""

from __future__ import annotations

import os
import time
from datetime import date
from pathlib import Path

import sqlalchemy as sa
import typer

from veille import db


def _prepare(patients: int, years: int) -> Path:
    from veille import migrate
    from veille.dbt import run_dbt
    from veille.load import load_extract
    from veille.synth import generate

    out = Path(db.veille_home()) / "bench" / f"fraud_extract_{patients}_{years}"
    if not (out / "truth.json").exists():
        typer.echo(f"generating {patients:,} patients x {years} years in {out}")
        generate(out, patients=patients, years=years, start=date(2015, 1, 1), seed=3, scenario="default",
                 force=True)
    migrate.upgrade("heads")
    with db.engine().connect() as conn:
        loaded = conn.execute(sa.text("select count(*) from meta.load_batch")).scalar_one()
    if not loaded:
        typer.echo("loading")
        load_extract(out)
        run_dbt(["build", "--quiet", "--select", "+tag:fraud", "--exclude", "tag:fraud",
                 "--resource-type", "seed", "--resource-type", "model"])
    return out


def register(bench_app: typer.Typer) -> None:
    @bench_app.command("fraud")
    def bench_fraud(
        patients: int = typer.Option(20000, help="patients of the generated extract"),
        years: int = typer.Option(2, help="years of the generated extract"),
        full: bool = typer.Option(False, "--full", help="also time a full sweep of every month"),
    ) -> None:
        """Seconds of one monthly incremental sweep (the last flow month), optionally a full sweep."""
        from veille.fraud.sweep import scan_month, sweep_all

        os.environ["VEILLE_DATABASE"] = f"bench_fraud_{patients}_{years}"
        db.reset_cache()
        _prepare(patients, years)
        with db.engine().connect() as conn:
            months = [r[0] for r in conn.execute(
                sa.text("select distinct flow_month from claims.dispensing order by 1"))]
            n_disp = conn.execute(sa.text("select count(*) from claims.dispensing")).scalar_one()
            swept = conn.execute(sa.text("select to_regclass('fraud.fraud_rule_hits')")).scalar()
        if full or swept is None:  # the incremental tables must hold the earlier months
            t = time.perf_counter()
            sweep_all()
            typer.echo(f"full sweep of {len(months)} months: {time.perf_counter() - t:.1f} s")
        last = months[-2] if len(months) > 1 else months[-1]  # the last complete flow
        t = time.perf_counter()
        scan_month(last)
        typer.echo(f"{patients:,} patients, {n_disp:,} dispensings in {len(months)} flow months; "
                   f"incremental sweep of {last:%Y-%m}: {time.perf_counter() - t:.1f} s")
