"""`veille bench pathways`: trajectory clustering of N patients (synthetic monthly sequences
drawn around four planted trajectories, with monitoring contacts drawn at planted monthly
rates), by the latent-class mixture and by CLARA, and, with --marts, the pathways marts on the
current database."""

from __future__ import annotations

import numpy as np
import pandas as pd
import typer
from sklearn.metrics import adjusted_rand_score

from veille import cliapp
from veille.benchkit import Bench, Column, OutFile, Table, load_range, seconds_cell
from veille.pathways.clusters import Trajectories


def planted_sequences(n: int, months: int = 36, noise: float = 0.15, seed: int = 0,
                      ) -> tuple[np.ndarray, np.ndarray]:
    """``n`` state sequences around four trajectories (monitored one class, low-monitoring one
    class, escalation to insulin, treatment with gaps), each month replaced by a random state
    with probability ``noise``. Returns (codes, true trajectory)."""
    rng = np.random.default_rng(seed)
    third = months // 3
    patterns = np.array([  # letters: 6 x treatment + 2 x monitoring + hospitalised
        np.full(months, 10),  # one class, complete monitoring
        np.full(months, 6),  # one class, low monitoring
        np.r_[np.full(third, 8), np.full(third, 14), np.full(months - 2 * third, 20)],
        np.resize([6, 6, 0, 0], months),  # gaps
    ])
    truth = rng.integers(0, 4, n)
    codes = patterns[truth].copy()
    flip = rng.random(codes.shape) < noise
    codes[flip] = rng.integers(0, 24, int(flip.sum()))
    return codes.astype(np.int8), truth


# monthly contact rates (hba1c, microalbumin, endocrinology) of the four planted trajectories
PLANTED_CONTACTS = np.array([[0.25, 0.08, 0.04], [0.05, 0.0, 0.0], [0.25, 0.0, 0.08],
                             [0.10, 0.0, 0.02]])


def planted_trajectories(n: int, seed: int = 0) -> tuple[Trajectories, np.ndarray]:
    """Planted sequences with their monitoring contacts; returns (Trajectories, truth)."""
    from veille.pathways.sequences import OUT

    codes, truth = planted_sequences(n, seed=seed)
    rng = np.random.default_rng(seed + 1)
    observed = (codes != OUT).sum(axis=1)
    contacts = rng.poisson(PLANTED_CONTACTS[truth] * observed[:, None])
    people = pd.DataFrame({"patient_id": np.arange(n), "age": 60, "sex": 1})
    # no refill timing in the planted sequences: no trial, nothing added to the likelihood
    refills = pd.DataFrame({"refill_intervals": np.zeros(n, int), "late_refills": np.zeros(n, int)})
    return Trajectories(np.arange(n), codes, people,
                        pd.DataFrame(contacts, columns=["hba1c", "microalbumin", "endocrinology"]),
                        refills), truth


CLUSTERING_TABLE = Table((
    Column("method", lambda r: r["method"]),
    Column("patients", lambda r: f"{r['patients']:,} x 36 months"),
    Column("k", lambda r: str(r["k"])),
    Column("wall", seconds_cell()),
    Column("CPU", seconds_cell("cpu_seconds")),
    Column("ARI vs planted", lambda r: f"{r['ari']:.3f}"),
    Column("peak RSS", lambda r: f"{r['peak_mb']:,.0f} MB"),
    Column("load avg", lambda r: load_range(r["load_start"], r["load_end"])),
))
"""`veille bench pathways`: the clustering of planted sequences."""

MARTS_TABLE = Table((
    Column("warehouse", lambda r: f"database `{r['database']}`"),
    Column("patients", lambda r: f"{r['patients']:,}"),
    Column("dispensings", lambda r: f"{r['dispensings']:,}"),
    Column("wall", lambda r: f"{r['seconds']:.0f} s" + ("" if r["rc"] == 0 else f" (dbt exit {r['rc']})")),
))
"""docs/benchmarks.md, section pathways: the pathways marts."""


def bench_clustering(bench: Bench, patients: int, sample_size: int, samples: int,
                     method: str = "mixture") -> dict:
    """Cluster ``patients`` planted trajectories with ``method``, as one stage; its row."""
    from veille.pathways.clusters import cluster

    traj, truth = planted_trajectories(patients)
    with bench.stage(f"clustering ({method})", method=method, patients=patients) as st:
        result = cluster(traj, method, None, sample_size, samples, seed=1)
        st.fields.update(k=result.k, ari=float(adjusted_rand_score(truth, result.labels)))
        st.note = f"k = {result.k}, ARI vs planted {st.fields['ari']:.3f}"
    return st.row()


def bench_marts(bench: Bench) -> dict:
    """`dbt run --select tag:pathways` on the current database, as one stage; its row."""
    import sqlalchemy as sa

    from veille import db
    from veille.dbt import run_dbt

    with bench.stage("pathways marts (dbt run --select tag:pathways)") as st:
        rc = run_dbt(["run", "--select", "tag:pathways", "--quiet"], check=False)
    with db.engine().connect() as conn:
        patients = conn.execute(sa.text("select count(*) from claims.patient")).scalar_one()
        dispensings = conn.execute(sa.text("select count(*) from claims.dispensing")).scalar_one()
        py = conn.execute(sa.text("select coalesce(sum(observed_days), 0) / 365.25 "
                                  "from pathways.fct_pathways_care_use")).scalar_one()
        database = conn.execute(sa.text("select current_database()")).scalar_one()
    return {**st.row(), "database": database, "patients": patients, "dispensings": dispensings,
            "person_years": float(py), "rc": rc}


def register(bench_app: typer.Typer) -> None:
    @bench_app.command("pathways")
    def bench_pathways(
        patients: int = typer.Option(100_000, help="sequences to cluster"),
        sample_size: int = typer.Option(2000, help="sample on which k is chosen (and CLARA's "
                                                   "medoids searched)"),
        samples: int = typer.Option(5, help="CLARA samples"),
        method: str = typer.Option("both", help="mixture | clara | both"),
        marts: bool = typer.Option(False, help="also time the pathways dbt models on the current "
                                               "database (upstream models already built)"),
        out: OutFile = None,
    ) -> None:
        """Clustering of N patients (target: 100,000 in under 2 minutes); --marts times
        `dbt run --select tag:pathways` on the loaded warehouse."""
        from veille.pathways.clusters import METHODS

        cliapp.choice(method, (*METHODS, "both"), "--method")
        bench = Bench("pathways", out=out, server=marts)
        rows = [bench_clustering(bench, patients, sample_size, samples, m)
                for m in (METHODS if method == "both" else (method,))]
        parts = [(CLUSTERING_TABLE, rows)]
        if marts:
            m = bench_marts(bench)
            bench.echo(f"pathways marts: {m['person_years']:,.0f} person-years")
            parts.append((MARTS_TABLE, [m]))
        bench.finish_tables(parts)
