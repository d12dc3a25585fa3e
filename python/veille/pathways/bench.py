"""`veille bench pathways`: trajectory clustering of N patients (synthetic monthly sequences
drawn around four planted trajectories, with monitoring contacts drawn at planted monthly
rates), by the latent-class mixture and by CLARA, and, with --marts, the pathways marts on the
current database."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import typer
from sklearn.metrics import adjusted_rand_score

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
    return Trajectories(np.arange(n), codes, people,
                        pd.DataFrame(contacts, columns=["hba1c", "microalbumin", "endocrinology"])), truth


def bench_clustering(patients: int, sample_size: int, samples: int,
                     method: str = "mixture") -> dict[str, float]:
    from veille.pathways.clusters import cluster

    traj, truth = planted_trajectories(patients)
    t0, c0 = time.perf_counter(), time.process_time()
    result = cluster(traj, method, None, sample_size, samples, seed=1)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"patients": patients, "seconds": seconds, "cpu": cpu, "k": result.k,
            "ari": float(adjusted_rand_score(truth, result.labels))}


def bench_marts() -> dict[str, float]:
    import sqlalchemy as sa

    from veille import db
    from veille.dbt import run_dbt

    t0 = time.perf_counter()
    rc = run_dbt(["run", "--select", "tag:pathways", "--quiet"], check=False)
    seconds = time.perf_counter() - t0
    with db.engine().connect() as conn:
        patients = conn.execute(sa.text("select count(*) from claims.patient")).scalar_one()
        py = conn.execute(sa.text("select coalesce(sum(observed_days), 0) / 365.25 "
                                  "from pathways.fct_pathways_care_use")).scalar_one()
    return {"patients": patients, "person_years": float(py), "seconds": seconds, "rc": rc}


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
    ) -> None:
        """Clustering of N patients (target: 100,000 in under 2 minutes); --marts times
        `dbt run --select tag:pathways` on the loaded warehouse."""
        from veille.errors import VeilleError
        from veille.pathways.clusters import METHODS

        if method not in (*METHODS, "both"):
            raise VeilleError(f"--method must be mixture, clara or both, got {method}")
        for m in METHODS if method == "both" else (method,):
            r = bench_clustering(patients, sample_size, samples, m)
            typer.echo(f"clustering ({m}): {r['patients']:,} patients x 36 months, k = {r['k']}, "
                       f"{r['seconds']:.1f} s wall, {r['cpu']:.1f} s CPU, "
                       f"ARI vs planted {r['ari']:.3f}")
        if marts:
            m = bench_marts()
            typer.echo(f"pathways marts: {m['patients']:,} patients, {m['person_years']:,.0f} "
                       f"person-years, {m['seconds']:.1f} s (dbt exit {m['rc']})")
