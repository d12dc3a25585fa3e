"""`veille bench fraud`: seconds of one incremental monthly sweep (`scan_month`) and of a full
sweep, on a generated extract loaded into a database of its own (kept for the next run)."""

from __future__ import annotations

import sqlalchemy as sa
import typer

from veille import db
from veille.benchkit import (
    Bench,
    Column,
    OutFile,
    Table,
    current_database,
    generated_extract,
    load_range,
)

FRAUD_TABLE = Table((
    Column("what", lambda r: r["stage"]),
    Column("command", lambda r: f"`{r['command']}`"),
    Column("wall time", lambda r: f"{r['seconds']:.1f} s at load {load_range(r['load_start'], r['load_end'])}"),
))
"""docs/benchmarks.md, section fraud."""


def _prepare(patients: int, years: int) -> None:
    """The generated extract loaded, and the models upstream of the fraud models built, once."""
    from veille import migrate
    from veille.dbt import run_dbt
    from veille.load import load_extract

    out, _ = generated_extract(f"fraud_extract_{patients}_{years}", patients, years, 3)
    migrate.upgrade("heads")
    with db.engine().connect() as conn:
        loaded = conn.execute(sa.text("select count(*) from meta.load_batch")).scalar_one()
    if not loaded:
        typer.echo("loading")
        load_extract(out)
        run_dbt(["build", "--quiet", "--select", "+tag:fraud", "--exclude", "tag:fraud",
                 "--resource-type", "seed", "--resource-type", "model"])


def register(bench_app: typer.Typer) -> None:
    @bench_app.command("fraud")
    def bench_fraud(
        patients: int = typer.Option(20000, help="patients of the generated extract"),
        years: int = typer.Option(2, help="years of the generated extract"),
        full: bool = typer.Option(False, "--full", help="also time a full sweep of every month"),
        out: OutFile = None,
    ) -> None:
        """Seconds of one monthly incremental sweep (the last flow month), optionally a full sweep."""
        from veille.fraud.sweep import scan_month, sweep_all

        bench = Bench("fraud", out=out, server=True)
        with current_database(f"bench_fraud_{patients}_{years}"):
            _prepare(patients, years)
            with db.engine().connect() as conn:
                months = [r[0] for r in conn.execute(
                    sa.text("select distinct flow_month from claims.dispensing order by 1"))]
                n_disp = conn.execute(sa.text("select count(*) from claims.dispensing")).scalar_one()
                swept = conn.execute(sa.text("select to_regclass('fraud.fraud_rule_hits')")).scalar()
                last = months[-2] if len(months) > 1 else months[-1]  # the last complete flow
                n_last = conn.execute(sa.text("select count(*) from claims.dispensing where flow_month = :m"),
                                      {"m": last}).scalar_one()
            if full or swept is None:  # the incremental tables must hold the earlier months
                with bench.stage(f"full sweep of {len(months)} flow months ({n_disp:,} dispensings, "
                                 f"{patients:,} patients)", command="veille fraud sweep"):
                    sweep_all()
            with bench.stage(f"one incremental monthly sweep (flow {last:%Y-%m}: {n_last:,} dispensings)",
                             command=f"veille fraud scan --month {last:%Y-%m}"):
                scan_month(last)
        bench.finish(FRAUD_TABLE)
