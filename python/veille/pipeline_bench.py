"""`veille bench pipeline`: every stage of the warehouse timed end to end, at several sizes and on
both synthetic profiles, with the growth exponent of each stage and its peak memory.

For each profile and size, an extract is generated (seed 5, kept under
``$VEILLE_HOME/bench/pipeline/`` and reused), loaded into a scratch database on the current
server, and every stage runs as the user would run it, each as its own `veille` process:

    load       veille load DIR
    dbt        veille dbt build --selector warehouse     (models and their tests)
    studies    veille study run --all
    scan       veille scan
    pathways   veille pathways run
    fraud      veille fraud sweep

Peak memory is the largest proportional set size (PSS, from /proc) of the stage's process tree
(the `veille` process, dbt's threads) and, apart, of the embedded PostgreSQL server's
processes (shared buffers touched included), sampled every half second. Each measured stage
is appended to a JSON file (``--results``), so that runs of different sizes, made at different
times, build one table; `--report` prints the Markdown table of docs/benchmarks.md and draws the
plot (log-log seconds against patients) from that file alone. The stages are timed with
:mod:`veille.benchkit` (which also records the CPU seconds of each stage and of the server).
"""

from __future__ import annotations

import itertools
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import typer

from veille import db
from veille.benchkit import (
    Bench,
    OutFile,
    PeakMemory,
    Stage,
    append_results,
    generated_extract,
    markdown_table,
    scratch_database,
    server_cpu_seconds,  # noqa: F401  (veille.pipeline_bench.server_cpu_seconds, as docs/benchmarks.md names it)
    server_pid,
)

STAGES = {
    "load": ["load", "{extract}"],
    "dbt": ["dbt", "build", "--selector", "warehouse"],
    "studies": ["study", "run", "--all"],
    "scan": ["scan"],
    "interactions": ["scan", "interactions", "--no-upstream"],  # after scan: reads its marts
    "pathways": ["pathways", "run"],
    "fraud": ["fraud", "sweep"],
}
SEED = 5


def _claim_lines(extract: Path) -> int:
    counts = json.loads((extract / "truth.json").read_text("utf-8"))["counts"]
    return int(counts.get("claim_lines") or sum(counts.get("rows", {}).values()))


def _run_stage(bench: Bench, stage: str, extract: Path, env: dict[str, str], log: Path) -> Stage:
    """Run one stage as its own `veille` process; its peak memory is the PSS of that process
    tree (and, apart, of the server), sampled while it runs."""
    args = [a.format(extract=extract) for a in STAGES[stage]]
    with bench.stage(stage) as st, log.open("ab") as out:
        out.write(f"\n== veille {' '.join(args)}\n".encode())
        out.flush()
        proc = subprocess.Popen([sys.executable, "-m", "veille.cli", *args], env=env, stdout=out,
                                stderr=subprocess.STDOUT)
        with PeakMemory(proc.pid, server_pid()) as peak:
            code = proc.wait()
        st.peak_mb = peak.peak_kb / 1024
        st.fields.update(server_mb=peak.server_peak_kb / 1024, ok=code == 0)
        st.note = f"server peak {st.fields['server_mb']:,.0f} MB" + (
            "" if code == 0 else f"; FAILED (exit {code}; see {log})")
    return st


def run_pipeline(profile: str, patients: int, years: int, stages: list[str], results: Path,
                 keep: bool, bench: Bench | None = None) -> list[dict]:
    bench = bench or Bench("pipeline", server=True)
    extract, synth_s = generated_extract(f"pipeline/{profile}_{patients}_{years}y_seed{SEED}", patients,
                                         years, SEED, profile=profile, echo=bench.echo)
    lines = _claim_lines(extract)
    log = results.with_suffix(f".{profile}_{patients}.log")
    records = []
    bench.echo(f"{profile} {patients:,} patients x {years} y: {lines:,} claim lines"
               + (f" (generated in {synth_s:.0f} s)" if synth_s else "") + f"; log in {log}")
    with scratch_database("bench_pipeline", name=f"bench_pipeline_{profile}_{patients}", keep=keep) as name:
        env = dict(os.environ, VEILLE_DATABASE=name)
        subprocess.run([sys.executable, "-m", "veille.cli", "migrate"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        for stage in stages:
            st = _run_stage(bench, stage, extract, env, log)
            rec = {"profile": profile, "patients": patients, "years": years, "claim_lines": lines,
                   "stage": stage, "seconds": round(st.seconds, 1), "peak_mb": round(st.peak_mb),
                   "server_mb": round(st.fields["server_mb"]), "ok": st.fields["ok"],
                   "cpu_s": round(st.cpu_seconds, 1),
                   "server_cpu_s": None if st.server_cpu_seconds is None else round(st.server_cpu_seconds, 1),
                   "load_avg": round(st.load[1], 1), "at": bench.now().isoformat(timespec="seconds")}
            records.append(rec)
            with results.open("a") as fh:
                fh.write(json.dumps(rec) + "\n")
            if not rec["ok"]:
                break
    return records


def latest(records: list[dict]) -> dict[tuple[str, int, str], dict]:
    """The last successful measure of each (profile, patients, stage)."""
    out: dict[tuple[str, int, str], dict] = {}
    for r in records:
        if r.get("ok"):
            out[(r["profile"], r["patients"], r["stage"])] = r
    return out


def growth_exponent(n1: int, t1: float, n2: int, t2: float) -> float:
    """b in t = a n^b between two sizes (1 is linear)."""
    return math.log(t2 / t1) / math.log(n2 / n1)


def report(records: list[dict], plot: Path | None) -> str:
    """The Markdown table (seconds, peak MB, growth exponents, lines/s) and the plot."""
    best = latest(records)
    lines = []
    for profile in sorted({k[0] for k in best}):
        sizes = sorted({k[1] for k in best if k[0] == profile})
        stages = [s for s in STAGES if any((profile, n, s) in best for n in sizes)]
        head = ["stage"] + [f"{n:,}: s (peak MB, server MB)" for n in sizes] + [
            f"exponent {a:,}→{b:,}" for a, b in itertools.pairwise(sizes)]
        rows = []
        for s in stages:
            row = [s]
            for n in sizes:
                r = best.get((profile, n, s))
                row.append(f"{r['seconds']:,.1f} ({r['peak_mb']:,}, {r.get('server_mb', 0):,})" if r else "")
            for a, b in itertools.pairwise(sizes):
                ra, rb = best.get((profile, a, s)), best.get((profile, b, s))
                row.append(f"{growth_exponent(a, ra['seconds'], b, rb['seconds']):.2f}"
                           if ra and rb and ra["seconds"] > 0 else "")
            rows.append(row)
        total = ["whole pipeline"]
        speed = ["load + dbt, claim lines/s"]
        for n in sizes:
            rs = [best.get((profile, n, s)) for s in stages]
            total.append(f"{sum(r['seconds'] for r in rs):,.1f}" if all(rs) else "")
            ld = [best.get((profile, n, s)) for s in ("load", "dbt")]
            speed.append(f"{ld[0]['claim_lines'] / (ld[0]['seconds'] + ld[1]['seconds']):,.0f}" if all(ld) else "")
        pad = [""] * (len(sizes) - 1)
        rows += [total + pad, speed + pad]
        lines += [f"**{profile}**", "", markdown_table(head, rows), ""]
    if plot is not None:
        _plot(best, plot)
    return "\n".join(lines)


def _plot(best: dict[tuple[str, int, str], dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    profiles = sorted({k[0] for k in best})
    fig, axes = plt.subplots(1, len(profiles), figsize=(5.5 * len(profiles), 4.2), squeeze=False,
                             sharey=True)
    for ax, profile in zip(axes[0], profiles, strict=True):
        for stage in STAGES:
            pts = sorted((k[1], r["seconds"]) for k, r in best.items() if k[0] == profile and k[2] == stage)
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=stage)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"profile {profile}")
        ax.set_xlabel("patients (5 years)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("seconds (wall)")
    axes[0][-1].legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def _int_list(text: str, option: str) -> list[int]:
    try:
        values = [int(x.replace("_", "")) for x in text.split(",") if x.strip()]
    except ValueError:
        raise typer.BadParameter(f"{option} takes comma-separated integers, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise typer.BadParameter(f"{option} takes positive integers, got {text!r}")
    return values


def register(bench_app: typer.Typer) -> None:
    @bench_app.command("pipeline")
    def bench_pipeline(
        sizes: str = typer.Option("50000,200000,1000000", help="patients, comma-separated"),
        years: int = typer.Option(5, help="years of each extract"),
        profiles: str = typer.Option("default,stress", help="synthetic profiles, comma-separated"),
        stages: str = typer.Option(",".join(STAGES), help="stages to time, in order"),
        results: Path = typer.Option(None, help="JSON lines file the measures are appended to "
                                                "(default $VEILLE_HOME/bench/pipeline/results.jsonl)"),
        plot: Path = typer.Option(Path("docs/img/pipeline.svg"), help="where --report draws the plot"),
        report_only: bool = typer.Option(False, "--report", help="only print the table and draw the plot "
                                                                 "from the results file"),
        keep: bool = typer.Option(False, help="keep the scratch databases"),
        out: OutFile = None,
    ) -> None:
        """Every stage (load, dbt, studies, scan, interactions, pathways, fraud) at several sizes and profiles."""
        results = results or db.veille_home() / "bench" / "pipeline" / "results.jsonl"
        results.parent.mkdir(parents=True, exist_ok=True)
        bench = Bench("pipeline", out=out, server=True)
        measured: list[dict] = []
        if not report_only:
            chosen = [s.strip() for s in stages.split(",") if s.strip()]
            unknown = [s for s in chosen if s not in STAGES]
            if unknown:
                raise typer.BadParameter(f"unknown stage {unknown[0]!r} (stages: {', '.join(STAGES)})")
            for profile in [p.strip() for p in profiles.split(",") if p.strip()]:
                for n in _int_list(sizes, "--sizes"):
                    measured += run_pipeline(profile, n, years, chosen, results, keep, bench)
        records = [json.loads(x) for x in results.read_text().splitlines() if x.strip()] if results.exists() else []
        text = report(records, plot)
        typer.echo(text)
        typer.echo(f"plot: {plot}")
        if out is not None:  # the table of every run in --results; the rows of this run (CSV)
            append_results(out, "pipeline", text, measured, bench.now())
