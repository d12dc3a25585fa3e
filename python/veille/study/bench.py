"""`veille bench study`: the full comparison on a simulated cohort (no database needed)."""

from __future__ import annotations

import typer

from veille.benchkit import Bench, Column, OutFile, Table

FOUR_ANALYSES = "total of the four analyses"


def _bold(row: dict, text: str) -> str:
    return f"**{text}**" if row["stage"] == FOUR_ANALYSES else text


STUDY_TABLE = Table((
    Column("step", lambda r: _bold(r, r["stage"] + (f", {r['pairs']:,} pairs" if "pairs" in r else ""))),
    Column("wall", lambda r: _bold(r, f"{r['seconds']:.1f} s")),
    Column("CPU", lambda r: _bold(r, f"{r['cpu_seconds']:.1f} s")),
))
"""docs/benchmarks.md, section study."""


def bench_study(bench: Bench, subjects: int = 1_000_000, seed: int = 1) -> list[dict]:
    """Time each step on ``subjects`` simulated subjects x 10 covariates (HR 1.5); the rows of
    :data:`STUDY_TABLE`: the steps, the total of the four analyses, the extra adjusted Cox."""
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
    with bench.stage("covariate matrix"):
        x = covariate_matrix(df, PATIENT_COVARIATES, classes)
        covs = list(x.columns)
        data = pd.concat([df[["exposed", "time_days", "event"]], x], axis=1)
        exposed = data["exposed"].to_numpy()
    with bench.stage("propensity score (logistic, Newton with step halving)"):
        logit = ps.propensity_logit(x.to_numpy(float), exposed.astype(float))
    with bench.stage("IPTW Cox with robust (sandwich) SE"):
        w = ps.iptw_weights(expit(logit), exposed)
        iptw = fit_cox(data.assign(_w=w), [], weights="_w", robust=True)
    with bench.stage("1:1 caliper matching (0.2 SD of the logit)") as st:
        pairs = ps.match_nearest(logit, exposed, 0.2 * float(np.std(logit)))
        matched = data.iloc[pairs.ravel()].assign(_pair=np.repeat(np.arange(len(pairs)), 2))
        st.fields["pairs"] = len(pairs)
    with bench.stage("matched Cox, pair-clustered SE"):
        mfit = fit_cox(matched, [], cluster="_pair")
    with bench.stage("balance (SMD before, IPTW, matched)"):
        before = ps.smd(x, exposed)
        after = ps.smd(x, exposed, w)
        ps.smd(matched[covs], matched["exposed"].to_numpy())
    four = bench.rows()
    with bench.stage(f"adjusted Cox, {len(covs) + 1} terms (extra, not in the total)"):
        adj = fit_cox(data, covs)
    bench.echo(f"{subjects:,} subjects, {len(covs)} covariates, {len(pairs):,} matched pairs")
    bench.echo(f"IPTW HR {iptw.hr:.3f} ({iptw.ci_low:.3f}-{iptw.ci_high:.3f}), matched HR {mfit.hr:.3f} "
               f"({mfit.ci_low:.3f}-{mfit.ci_high:.3f}), adjusted HR {adj.hr:.3f}; true HR 1.5")
    bench.echo(f"max |SMD| before {before.abs().max():.2f}, after IPTW {after.abs().max():.3f}")
    total = {"stage": FOUR_ANALYSES, "seconds": sum(r["seconds"] for r in four),
             "cpu_seconds": sum(r["cpu_seconds"] for r in four)}
    return [*four, total, bench.rows()[-1]]


def register(bench_app: typer.Typer) -> None:
    @bench_app.command("study")
    def study_cmd(
        subjects: int = typer.Option(1_000_000, help="simulated cohort size"),
        seed: int = typer.Option(1, help="random seed"),
        out: OutFile = None,
    ) -> None:
        """Propensity score, IPTW Cox with robust SE, matched Cox and balance on a large cohort."""
        bench = Bench("study", out=out)
        bench.finish(STUDY_TABLE, bench_study(bench, subjects, seed))
