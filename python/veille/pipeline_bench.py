"""`veille bench pipeline`: every stage of the warehouse timed end to end, at several sizes and on
both synthetic profiles, with the growth exponent of each stage and its peak memory.

For each profile and size, an extract is generated (`veille synth`, kept under
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
plot (log-log seconds against patients) from that file alone.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Self

import typer

from veille import db

STAGES = {
    "load": ["load", "{extract}"],
    "dbt": ["dbt", "build", "--selector", "warehouse"],
    "studies": ["study", "run", "--all"],
    "scan": ["scan"],
    "pathways": ["pathways", "run"],
    "fraud": ["fraud", "sweep"],
}
SEED = 5


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def _tree(root: int, kids: dict[int, list[int]]) -> list[int]:
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += kids.get(pid, [])
    return out


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class PeakMemory:
    """Samples the PSS of a process tree and of the PostgreSQL server every half second; keeps
    the peak of each."""

    def __init__(self, root: int, server: int | None) -> None:
        self.root, self.server = root, server
        self.peak_kb = 0
        self.server_peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            kids = _children()
            self.peak_kb = max(self.peak_kb, sum(_pss_kb(p) for p in _tree(self.root, kids)))
            if self.server:
                self.server_peak_kb = max(self.server_peak_kb,
                                          sum(_pss_kb(p) for p in _tree(self.server, kids)))
            self._stop.wait(0.5)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _server_pid() -> int | None:
    info = db._postmaster_info()
    return int(info.pid) if info is not None and getattr(info, "pid", None) else None


def server_cpu_seconds() -> float | None:
    """CPU seconds (user + system) the embedded server has used so far: every live process of
    its tree (backends, parallel workers) plus what its postmaster has reaped from exited ones.
    The difference over a job is the job's CPU work in the server, which other jobs on the
    machine do not inflate as they do wall time. None without a local embedded server."""
    root = _server_pid()
    if root is None:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in _tree(root, _children()):
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
        if pid == root:
            total += int(fields[13]) + int(fields[14])  # cutime, cstime: reaped children
    return total / tick


def _extract(profile: str, patients: int, years: int) -> tuple[Path, float | None]:
    out = db.veille_home() / "bench" / "pipeline" / f"{profile}_{patients}_{years}y_seed{SEED}"
    if (out / "truth.json").exists():
        return out, None
    cmd = [sys.executable, "-m", "veille.cli", "synth", "--patients", str(patients), "--years", str(years),
           "--start", "2015-01-01", "--seed", str(SEED), "--out", str(out), "--force", "--quiet"]
    if profile != "default":
        cmd += ["--profile", profile]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    return out, time.perf_counter() - t0


def _claim_lines(extract: Path) -> int:
    counts = json.loads((extract / "truth.json").read_text("utf-8"))["counts"]
    return int(counts.get("claim_lines") or sum(counts.get("rows", {}).values()))


def _run_stage(stage: str, extract: Path, env: dict[str, str], log: Path) -> tuple[float, float, float, int]:
    args = [a.format(extract=extract) for a in STAGES[stage]]
    t0 = time.perf_counter()
    with log.open("ab") as out:
        out.write(f"\n== veille {' '.join(args)}\n".encode())
        out.flush()
        proc = subprocess.Popen([sys.executable, "-m", "veille.cli", *args], env=env, stdout=out,
                                stderr=subprocess.STDOUT)
        with PeakMemory(proc.pid, _server_pid()) as peak:
            code = proc.wait()
    seconds = time.perf_counter() - t0
    return seconds, peak.peak_kb / 1024, peak.server_peak_kb / 1024, code


def run_pipeline(profile: str, patients: int, years: int, stages: list[str], results: Path,
                 keep: bool) -> list[dict]:
    extract, synth_s = _extract(profile, patients, years)
    lines = _claim_lines(extract)
    name = f"bench_pipeline_{profile}_{patients}"
    db.create_database(name, replace=True)
    env = dict(os.environ, VEILLE_DATABASE=name)
    subprocess.run([sys.executable, "-m", "veille.cli", "migrate"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    log = results.with_suffix(f".{profile}_{patients}.log")
    records = []
    typer.echo(f"{profile} {patients:,} patients x {years} y: {lines:,} claim lines"
               + (f" (generated in {synth_s:.0f} s)" if synth_s else "") + f"; log in {log}")
    try:
        for stage in stages:
            seconds, peak_mb, server_mb, code = _run_stage(stage, extract, env, log)
            rec = {"profile": profile, "patients": patients, "years": years, "claim_lines": lines,
                   "stage": stage, "seconds": round(seconds, 1), "peak_mb": round(peak_mb),
                   "server_mb": round(server_mb),
                   "ok": code == 0, "load_avg": round(os.getloadavg()[0], 1),
                   "at": datetime.now(UTC).isoformat(timespec="seconds")}
            records.append(rec)
            with results.open("a") as fh:
                fh.write(json.dumps(rec) + "\n")
            typer.echo(f"  {stage:<9} {seconds:>8.1f} s  peak {peak_mb:>6.0f} MB (server {server_mb:,.0f} MB)"
                       + ("" if code == 0 else f"  FAILED (exit {code}; see {log})"))
            if code != 0:
                break
    finally:
        if not keep:
            db.drop_database(name)
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
        lines += [f"**{profile}**", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for s in stages:
            row = [s]
            for n in sizes:
                r = best.get((profile, n, s))
                row.append(f"{r['seconds']:,.1f} ({r['peak_mb']:,}, {r.get('server_mb', 0):,})" if r else "")
            for a, b in itertools.pairwise(sizes):
                ra, rb = best.get((profile, a, s)), best.get((profile, b, s))
                row.append(f"{growth_exponent(a, ra['seconds'], b, rb['seconds']):.2f}"
                           if ra and rb and ra["seconds"] > 0 else "")
            lines.append("| " + " | ".join(row) + " |")
        total = ["whole pipeline"]
        speed = ["load + dbt, claim lines/s"]
        for n in sizes:
            rs = [best.get((profile, n, s)) for s in stages]
            total.append(f"{sum(r['seconds'] for r in rs):,.1f}" if all(rs) else "")
            ld = [best.get((profile, n, s)) for s in ("load", "dbt")]
            speed.append(f"{ld[0]['claim_lines'] / (ld[0]['seconds'] + ld[1]['seconds']):,.0f}" if all(ld) else "")
        pad = [""] * (len(sizes) - 1)
        lines += ["| " + " | ".join(total + pad) + " |", "| " + " | ".join(speed + pad) + " |", ""]
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
    ) -> None:
        """Every stage (load, dbt, studies, scan, pathways, fraud) at several sizes and profiles."""
        results = results or db.veille_home() / "bench" / "pipeline" / "results.jsonl"
        results.parent.mkdir(parents=True, exist_ok=True)
        if not report_only:
            chosen = [s.strip() for s in stages.split(",") if s.strip()]
            unknown = [s for s in chosen if s not in STAGES]
            if unknown:
                raise typer.BadParameter(f"unknown stage {unknown[0]!r} (stages: {', '.join(STAGES)})")
            for profile in [p.strip() for p in profiles.split(",") if p.strip()]:
                for n in _int_list(sizes, "--sizes"):
                    run_pipeline(profile, n, years, chosen, results, keep)
        records = [json.loads(x) for x in results.read_text().splitlines() if x.strip()] if results.exists() else []
        typer.echo(report(records, plot))
        typer.echo(f"plot: {plot}")
