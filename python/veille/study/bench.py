"""`veille bench study`: the full comparison on a simulated cohort (no database needed)."""

from __future__ import annotations

import time

import typer


def bench_study(subjects: int = 1_000_000, seed: int = 1) -> dict[str, tuple[float, float]]:
    """(wall, CPU) seconds per step on ``subjects`` simulated subjects x 10 covariates (HR 1.5)."""
    import numpy as np
    import pandas as pd
    from scipy.special import expit

    from veille.study import propensity as ps
    from veille.study.analysis import covariate_matrix
    from veille.study.config import PATIENT_COVARIATES
    from veille.study.cox import fit_cox
    from veille.study.simulate import simulate_classes, simulate_survival

    df = simulate_survival(subjects, 1.5, seed=seed)
    classes = simulate_classes(df, ("A10BA", "A10BB", "C10"), seed=seed)
    times: dict[str, tuple[float, float]] = {}
    t0 = t = time.perf_counter()
    c0 = c = time.process_time()

    def lap(name: str) -> None:
        nonlocal t, c
        now, cpu = time.perf_counter(), time.process_time()
        times[name] = (now - t, cpu - c)
        t, c = now, cpu

    x = covariate_matrix(df, PATIENT_COVARIATES, classes)
    covs = list(x.columns)
    data = pd.concat([df[["exposed", "time_days", "event"]], x], axis=1)
    exposed = data["exposed"].to_numpy()
    lap("covariates")
    logit = ps.propensity_logit(x.to_numpy(float), exposed.astype(float))
    lap("propensity score (logistic, Newton)")
    w = ps.iptw_weights(expit(logit), exposed)
    iptw = fit_cox(data.assign(_w=w), [], weights="_w", robust=True)
    lap("IPTW Cox, robust sandwich SE")
    pairs = ps.match_nearest(logit, exposed, 0.2 * float(np.std(logit)))
    matched = data.iloc[pairs.ravel()].assign(_pair=np.repeat(np.arange(len(pairs)), 2))
    lap("1:1 caliper matching")
    mfit = fit_cox(matched, [], cluster="_pair")
    lap("matched Cox, pair-clustered SE")
    before = ps.smd(x, exposed)
    after = ps.smd(x, exposed, w)
    ps.smd(matched[covs], matched["exposed"].to_numpy())
    lap("balance (SMD before, IPTW, matched)")
    times["total (the four analyses)"] = (t - t0, c - c0)
    adj = fit_cox(data, covs)
    lap("adjusted Cox (11 terms, extra)")
    typer.echo(f"{subjects:,} subjects, {len(covs)} covariates, {len(pairs):,} matched pairs")
    typer.echo(f"IPTW HR {iptw.hr:.3f} ({iptw.ci_low:.3f}-{iptw.ci_high:.3f}), matched HR {mfit.hr:.3f} "
               f"({mfit.ci_low:.3f}-{mfit.ci_high:.3f}), adjusted HR {adj.hr:.3f}; true HR 1.5")
    typer.echo(f"max |SMD| before {before.abs().max():.2f}, after IPTW {after.abs().max():.3f}")
    return times


def register(bench_app: typer.Typer) -> None:
    @bench_app.command("study")
    def study_cmd(
        subjects: int = typer.Option(1_000_000, help="simulated cohort size"),
        seed: int = typer.Option(1, help="random seed"),
    ) -> None:
        """Propensity score, IPTW Cox with robust SE, matched Cox and balance on a large cohort."""
        import os

        load = os.getloadavg()[0]
        times = bench_study(subjects, seed)
        typer.echo(f"load average before the run: {load:.1f} (2 cores)")
        typer.echo(f"{'step':<40} {'wall':>8} {'CPU':>8}")
        for name, (wall, cpu) in times.items():
            typer.echo(f"{name:<40} {wall:7.1f}s {cpu:7.1f}s")
