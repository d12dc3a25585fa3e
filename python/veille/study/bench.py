"""`veille bench study`: the full comparison on a simulated cohort (no database needed);
`veille bench coverage`: the coverage of the studies' intervals over generator seeds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

from veille.benchkit import Bench, Column, OutFile, Table
from veille.errors import VeilleError

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
    register_coverage(bench_app)

    @bench_app.command("study")
    def study_cmd(
        subjects: int = typer.Option(1_000_000, help="simulated cohort size"),
        seed: int = typer.Option(1, help="random seed"),
        out: OutFile = None,
    ) -> None:
        """Propensity score, IPTW Cox with robust SE, matched Cox and balance on a large cohort."""
        bench = Bench("study", out=out)
        bench.finish(STUDY_TABLE, bench_study(bench, subjects, seed))


def _pct(key: str) -> Callable[[dict], str]:
    return lambda r: "" if r[key] != r[key] else f"{100 * r[key]:.0f} %"


COVERAGE_TABLE = Table((
    Column("design", lambda r: r["design"]),
    Column("analysis", lambda r: r["analysis"]),
    Column("estimates (negative controls)", lambda r: f"{r['estimates']} ({r['negative_controls']})"),
    Column("coverage of 95% CI", _pct("coverage")),
    Column("calibrated coverage", _pct("calibrated_coverage")),
    Column("mean log error", lambda r: f"{r['mean_log_error']:+.3f}"),
    Column("mean abs log error", lambda r: f"{r['mean_abs_log_error']:.3f}"),
    Column("mean CI width (log)", lambda r: f"{r['mean_log_width']:.2f}"),
    Column("truth undefined", lambda r: str(r["undefined_truth"])),
))
"""docs/studies.md, section coverage."""


def coverage_plot(summary, path: Path) -> Path:
    """Coverage of the 95% intervals per design x analysis, raw and calibrated, against 95%."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    labels = [f"{d}\n{a}" for d, a in zip(summary["design"], summary["analysis"], strict=True)]
    x = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(1.3 * len(labels) + 2, 3.6))
    ax.bar(x - 0.2, summary["coverage"], 0.4, label="raw", color="#7f8c8d")
    ax.bar(x + 0.2, summary["calibrated_coverage"].fillna(0), 0.4, label="calibrated", color="#2c3e50")
    ax.axhline(0.95, color="#c0392b", ls="--", lw=1, label="nominal 95 %")
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("share of 95% CIs holding the truth")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format=path.suffix.lstrip(".") or "svg")
    plt.close(fig)
    return path


def bench_coverage(bench: Bench, seeds: int, patients: int, years: int, scenario: str,
                   pairs_out: Path | None, exposure: str = "study") -> list[dict]:
    """Run every study on ``seeds`` generated extracts; the rows of :data:`COVERAGE_TABLE`."""
    import pandas as pd

    from veille.study.coverage import run_seed, summarise

    pairs: list[dict] = []
    bench.echo(f"exposure definition: {exposure} ({'each study file' if exposure == 'study' else 'no grace, no stockpiling'})")
    for seed in range(1, seeds + 1):
        with bench.stage(f"seed {seed}: generate, load, build, run every study"):
            pairs += run_seed(seed, patients, years, scenario, bench.echo, exposure)
    frame = pd.DataFrame(pairs)
    if pairs_out is not None:
        pairs_out.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(pairs_out, index=False)
        bench.echo(f"every estimate with its truth: {pairs_out}")
    return summarise(frame).to_dict("records")


def register_coverage(bench_app: typer.Typer) -> None:
    @bench_app.command("coverage")
    def coverage_cmd(
        seeds: int = typer.Option(20, help="generator seeds (1..N), one extract and one run of every study each"),
        patients: int = typer.Option(20_000, help="patients per extract"),
        years: int = typer.Option(4, help="years per extract"),
        scenario: str = typer.Option("strong", help="generator scenario ('default', 'strong' or a YAML file)"),
        plot: Path = typer.Option(None, help="draw the coverage per analysis to this SVG"),
        pairs: Path = typer.Option(None, help="write every estimate with its truth to this CSV"),
        exposure: str = typer.Option("study", help="'study': each study file's exposure definition; 'supply': "
                                     "the generator's (no grace, no stockpiling)"),
        out: OutFile = None,
    ) -> None:
        """Coverage of the 95% intervals (raw and calibrated), bias and width, per design x analysis."""
        import pandas as pd

        from veille.study.coverage import EXPOSURES

        if exposure not in EXPOSURES:
            raise VeilleError(f"--exposure must be one of {', '.join(EXPOSURES)}, got {exposure!r}")
        bench = Bench("coverage", out=out)
        rows = bench_coverage(bench, seeds, patients, years, scenario, pairs, exposure)
        bench.finish(COVERAGE_TABLE, rows)
        if plot is not None:
            bench.echo(f"plot: {coverage_plot(pd.DataFrame(rows), plot)}")
