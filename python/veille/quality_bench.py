"""`veille bench quality`: how well the three detection pillars recover the generator's truth,
over several seeds, in one table (issue 23).

For each seed, an extract is generated (kept under ``$VEILLE_HOME/bench/quality_*`` and reused),
loaded into a scratch database, and built (`dbt build --selector warehouse`); then each pillar
runs as its command does and is scored against ``truth.json`` by its own evaluation:

    scan      `veille scan`, then `veille scan evaluate`: AUC of injected effects against
              negative controls, per method and for the combined ranking
    pathways  `veille pathways run` (k chosen from the data), then `veille pathways evaluate`:
              adjusted Rand index of the clusters against the generator's archetypes
    fraud     `veille fraud sweep`, then `veille fraud evaluate`: precision at k (k = 2 x the
              injected actors) and recall at k of each injected kind

One row per seed, then the mean and the range over the seeds. The figures are properties of
the methods on synthetic data whose effects we injected: no count leaves the warehouse.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import typer

from veille.benchkit import Bench, OutFile, generated_extract, markdown_table, scratch_database
from veille.errors import VeilleError

SCAN_METHODS = ("ssa", "oe", "tree", "tree_node", "convsccs", "combined")
PILLARS = ("scan", "pathways", "fraud")


def quality_of_seed(bench: Bench, extract: Path, seed: int, replicates: int,
                    pillars: tuple[str, ...] = PILLARS) -> dict[str, Any]:
    """Each pillar's evaluation on one extract (loaded and built in a scratch database)."""
    from veille import db, migrate
    from veille.dbt import run_dbt
    from veille.fraud import evaluate as fraud_evaluate
    from veille.fraud.settings import SweepSettings
    from veille.fraud.sweep import sweep_all
    from veille.load import load_extract
    from veille.pathways import evaluate as pathways_evaluate
    from veille.pathways.run import run as run_pathways
    from veille.pathways.settings import RunSettings
    from veille.scan import evaluate as scan_evaluate
    from veille.scan.run import read_signals, run_scan
    from veille.scan.settings import ScanSettings

    truth = extract / "truth.json"
    row: dict[str, Any] = {"seed": seed}
    with scratch_database("bench_quality"):
        migrate.upgrade()
        with bench.stage(f"seed {seed}: load and build"):
            load_extract(extract)
            run_dbt(["build", "--selector", "warehouse", "--quiet"])
        if "scan" in pillars:
            with bench.stage(f"seed {seed}: scan"):
                run_id, _ = run_scan(ScanSettings(replicates=replicates))
                scan = scan_evaluate.evaluate(truth, read_signals(run_id))
            row |= {f"auc_{m}": scan["auc"].get(m) for m in SCAN_METHODS}
        if "pathways" in pillars:
            with bench.stage(f"seed {seed}: pathways"):
                pathways_run = run_pathways(RunSettings())
                with db.engine(db.ENGINEER).begin() as conn:
                    pathways = pathways_evaluate.evaluate(conn, pathways_run, pathways_evaluate.read_truth(truth))
                    k = conn.exec_driver_sql(
                        "select count(distinct cluster) from results.pathways_cluster_member where run_id = %(r)s",
                        {"r": pathways_run}).scalar_one()
            row |= {"ari": pathways["adjusted_rand_index"], "k": int(k)}
        if "fraud" in pillars:
            with bench.stage(f"seed {seed}: fraud"):
                sweep_all(SweepSettings())
                fraud = fraud_evaluate.evaluate_truth_file(truth)
            row |= {"precision_at_k": fraud["precision_at_k"], "precision_at_n": fraud["precision_at_n"],
                    **{f"recall_{kind}": v["recall_at_k"] for kind, v in fraud["kinds"].items()}}
    return row


def _cell(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    return str(value) if isinstance(value, int) else f"{value:.{digits}f}"


def _header(key: str) -> str:
    named = {"ari": "pathways ARI", "k": "pathways k", "precision_at_k": "fraud precision at k",
             "precision_at_n": "fraud precision at n"}
    if key in named:
        return named[key]
    if key.startswith("auc_"):
        return "scan AUC " + key[4:].replace("_", " ")
    return "fraud recall " + key.removeprefix("recall_").replace("_", " ")


def summary(rows: list[dict[str, Any]]) -> str:
    """The table: one row per seed, then the mean and the range (min-max) of each column."""
    keys = [k for k in rows[0] if k != "seed"]
    for r in rows[1:]:
        keys += [k for k in r if k not in keys and k != "seed"]
    headers = ["seed", *[_header(k) for k in keys]]
    body = [[str(r["seed"]), *[_cell(r.get(k)) for k in keys]] for r in rows]
    if len(rows) > 1:
        values = {k: [r[k] for r in rows if r.get(k) is not None] for k in keys}
        body.append(["mean", *[_cell(statistics.fmean(v)) if v else "-" for v in values.values()]])
        body.append(["range", *[f"{_cell(min(v))}-{_cell(max(v))}" if v else "-" for v in values.values()]])
    return markdown_table(headers, body, [False] + [True] * len(keys))


class QualityTable:
    """:func:`summary` as a table of :class:`veille.benchkit.Bench`."""

    def markdown(self, rows: list[dict[str, Any]]) -> str:
        return summary(rows)


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        seeds = []
    if not seeds:
        raise VeilleError(f"--seeds must be whole numbers separated by commas (e.g. 1,2,3), got {text!r}")
    return seeds


def _pillars(text: str) -> tuple[str, ...]:
    chosen = tuple(p.strip() for p in text.split(",") if p.strip())
    unknown = [p for p in chosen if p not in PILLARS]
    if unknown or not chosen:
        raise VeilleError(f"--pillars must be among {', '.join(PILLARS)} separated by commas, got {text!r}")
    return chosen


def register(bench_app: typer.Typer) -> None:
    @bench_app.command("quality")
    def bench_quality(
        patients: int = typer.Option(10_000, "--patients", min=500),
        years: int = typer.Option(5, "--years", min=2),
        seeds: str = typer.Option("1,2,3,4,5", "--seeds", help="one extract per seed, commas between"),
        scenario: str = typer.Option("default", "--scenario", help="the generator's scenario: default or strong"),
        replicates: int = typer.Option(199, "--replicates", min=19, help="Monte Carlo replicates of the tree scan"),
        pillars: str = typer.Option(",".join(PILLARS), "--pillars", help="which evaluations to run, commas between"),
        out: OutFile = None,
    ) -> None:
        """Scan AUC per method, pathways ARI (and the k chosen) and fraud precision and recall per
        kind, against the generator's truth, one row per seed (issue 23's evaluation table)."""
        chosen = _pillars(pillars)
        bench = Bench("quality", out=out, server=True)
        rows = []
        for seed in _seeds(seeds):
            folder = f"quality_{scenario}_{patients}_{years}_{seed}"
            extract, _ = generated_extract(folder, patients, years, seed, scenario=scenario, echo=bench.echo)
            rows.append(quality_of_seed(bench, extract, seed, replicates, chosen))
        bench.echo(f"{scenario} scenario, {patients:,} patients x {years} years, {replicates} replicates")
        bench.finish_tables([(QualityTable(), rows)])
