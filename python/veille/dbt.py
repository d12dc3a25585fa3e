"""Run dbt against veille's database: the profile reads the settings of veille.db."""

from __future__ import annotations

import difflib
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import typer

from veille import db
from veille.errors import VeilleError


def dbt_project_dir() -> Path:
    return db.project_root() / "dbt_project"


def dbt_env() -> dict[str, str]:
    """The environment of a dbt run: the profile's settings, and dbt's sessions start as
    veille_engineer (the owner of the dbt schemas) when the login user may act as it."""
    env = dict(os.environ)
    env.update(db.settings().env())
    options = db.role_options(db.ENGINEER)
    if options:
        env["PGOPTIONS"] = options
    env["DBT_PROFILES_DIR"] = str(dbt_project_dir())
    # the spark target (docs/spark.md): its catalog and tables under VEILLE_HOME, its sources the
    # Parquet of `veille flatten` (VEILLE_PARQUET)
    env.setdefault("VEILLE_SPARK_HOME", str(db.veille_home() / "spark"))
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    env.setdefault("DO_NOT_TRACK", "1")
    return env


def dbt_executable() -> str:
    exe = Path(sys.executable).with_name("dbt")
    return str(exe) if exe.exists() else "dbt"


def run_dbt(args: list[str], *, check: bool = True, quiet: bool = False) -> int:
    """Run ``dbt ARGS`` in dbt_project/ with the profile pointing at veille's database."""
    proc = subprocess.run(
        [dbt_executable(), *args],
        cwd=dbt_project_dir(),
        env=dbt_env(),
        stdout=subprocess.DEVNULL if quiet else None,
        check=False,
    )
    if check and proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, ["dbt", *args])
    return proc.returncode


# --------------------------------------------------------------------------- `veille dbt ...`

EXPLAIN_TARGET = "target/explain"  # compile output of `veille dbt explain` (keeps partial parsing)


@dataclass
class CompiledModel:
    """A model as `dbt compile` wrote it: name, relation, materialization, SQL, parents."""

    name: str
    relation: str
    materialized: str
    sql: str
    parents: list[tuple[str, str, str]]  # (name, relation, materialized) of upstream nodes
    meta: dict


def planner_settings(materialized: str, meta: dict) -> dict[str, str]:
    """The `set local` settings the model's pre-hook applies (macros/planner_settings.sql)."""
    settings = {"enable_nestloop": "off"} if materialized in ("table", "incremental") else {}
    settings.update({str(k): str(v) for k, v in (meta.get("planner") or {}).items()})
    return settings


def _dbt_error(output: str) -> str:
    """The first line of dbt's output that says what went wrong."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in output.splitlines()]
    for line in lines:
        if re.search(r"error", line, re.IGNORECASE) and not line.endswith("Encountered an error:"):
            return re.sub(r"^\d\d:\d\d:\d\d\s+", "", line)
    return lines[-1] if lines else "dbt failed"


def compile_model(model: str, dbt_vars: str | None = None) -> CompiledModel:
    """`dbt compile --select MODEL`: the model's SQL with refs resolved, and its parents. An
    incremental model is compiled as its full build (--full-refresh): its incremental runs read
    scope tables that exist only inside their own transaction."""
    if not re.fullmatch(r"[A-Za-z0-9_]+", model):
        raise VeilleError(f"not a model name: {model!r} (a name such as int_observation_periods)")
    target = dbt_project_dir() / EXPLAIN_TARGET
    args = [dbt_executable(), "compile", "--select", model, "--target-path", str(target), "--quiet",
            "--full-refresh"]
    if dbt_vars:
        args += ["--vars", dbt_vars]
    proc = subprocess.run(args, cwd=dbt_project_dir(), env=dbt_env(), capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise VeilleError(f"dbt could not compile {model}: {_dbt_error(proc.stdout + proc.stderr)}")
    manifest = json.loads((target / "manifest.json").read_text())
    nodes = {**manifest["nodes"], **manifest["sources"]}
    models = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    if model not in models:
        close = difflib.get_close_matches(model, list(models), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else " in dbt_project/models"
        raise VeilleError(f"unknown model {model}: no model of that name{hint}")
    node = models[model]
    results = json.loads((target / "run_results.json").read_text())["results"]
    sql = next((r.get("compiled_code") for r in results if r["unique_id"] == node["unique_id"]), None)
    if not sql:
        raise VeilleError(f"dbt compiled nothing for {model}")
    parents = []
    for uid in node["depends_on"]["nodes"]:
        parent = nodes[uid]
        kind = "source" if parent["resource_type"] == "source" else parent["config"].get("materialized", "seed")
        if kind != "ephemeral":
            parents.append((parent["name"], parent["relation_name"], kind))
    return CompiledModel(model, node["relation_name"], node["config"]["materialized"], sql.strip().rstrip(";"),
                         parents, node["config"].get("meta") or {})


@dataclass
class PlanNode:
    """One node of an EXPLAIN (FORMAT JSON) plan, flattened for printing."""

    depth: int
    label: str
    estimated: float  # rows, over all loops
    actual: float | None  # rows over all loops; None without ANALYZE or never executed
    seconds: float | None
    notes: str

    def misestimate(self) -> float:
        """How many times actual and estimated rows differ (>= 1; 1 without ANALYZE)."""
        if self.actual is None:
            return 1.0
        return max(self.actual, 1.0) / max(self.estimated, 1.0) if self.actual >= self.estimated \
            else max(self.estimated, 1.0) / max(self.actual, 1.0)


_STRATEGY = {"Aggregate": {"Hashed": "HashAggregate", "Sorted": "GroupAggregate", "Mixed": "MixedAggregate"},
             "SetOp": {"Hashed": "HashSetOp"}}


def _label(node: dict) -> str:
    kind = node["Node Type"]
    label = _STRATEGY.get(kind, {}).get(node.get("Strategy", ""), kind)
    if node.get("Parallel Aware"):
        label = "Parallel " + label
    if node.get("Join Type") and node["Join Type"] != "Inner":
        label += f" ({node['Join Type']})"
    if "Relation Name" in node:
        label += f" on {node.get('Schema', '')}.{node['Relation Name']}".replace(" on .", " on ")
        if node.get("Index Name"):
            label += f" using {node['Index Name']}"
    elif "CTE Name" in node:
        label += f" on {node['CTE Name']}"
    elif "Function Name" in node:
        label += f" on {node['Function Name']}()"
    elif node.get("Alias") and kind == "Subquery Scan":
        label += f" on {node['Alias']}"
    if node.get("Parent Relationship") in ("InitPlan", "SubPlan"):
        label = f"{node.get('Subplan Name', node['Parent Relationship'])}: {label}"
    return label


def _notes(node: dict) -> str:
    notes = []
    if node.get("Sort Space Type") == "Disk":
        notes.append(f"sort spilled {node.get('Sort Space Used', 0) / 1024:,.0f} MB to disk")
    if node.get("HashAgg Batches", 1) > 1:
        notes.append(f"hash spilled: {node['HashAgg Batches']} batches, "
                     f"{node.get('Disk Usage', 0) / 1024:,.0f} MB on disk")
    if node.get("Hash Batches", 1) > 1:
        notes.append(f"hash in {node['Hash Batches']} batches")
    if node.get("Rows Removed by Join Filter"):
        notes.append(f"{node['Rows Removed by Join Filter'] * node.get('Actual Loops', 1):,.0f} rows removed by "
                     "join filter")
    return "; ".join(notes)


def flatten_plan(plan: dict, depth: int = 0, parallel: bool = False) -> list[PlanNode]:
    """The plan tree as a list in print order, with rows summed over loops."""
    loops = plan.get("Actual Loops")
    actual = seconds = None
    if loops:  # executed (ANALYZE)
        actual = plan["Actual Rows"] * loops
        # under Gather the loops are concurrent processes: their time is not summed
        seconds = plan["Actual Total Time"] * (1 if parallel else loops) / 1000
    estimated = plan["Plan Rows"] * (loops or 1)
    label = _label(plan) + (" (never executed)" if loops == 0 else "")
    out = [PlanNode(depth, label, estimated, actual, seconds, _notes(plan))]
    inner_parallel = parallel or plan["Node Type"] in ("Gather", "Gather Merge")
    for child in plan.get("Plans", []):
        out += flatten_plan(child, depth + 1, inner_parallel)
    return out


def _relation_stats(conn, relation: str) -> str:
    """What the planner knows about a parent relation: rows and when it was analyzed."""
    row = conn.execute(
        """select c.relkind, c.reltuples, greatest(s.last_analyze, s.last_autoanalyze)
           from pg_class c left join pg_stat_user_tables s on s.relid = c.oid
           where c.oid = to_regclass(%s)""", (relation,)).fetchone()
    if row is None:
        return "missing"
    kind, tuples, analyzed = row
    if kind == "v":
        return "view"
    if analyzed is None:
        return f"{max(tuples, 0):,.0f} rows, NEVER ANALYZED"
    return f"{tuples:,.0f} rows, analyzed {analyzed:%Y-%m-%d %H:%M}"


def explain_model(model: str, *, analyze: bool = True, dbt_vars: str | None = None,
                  model_settings: bool = True) -> dict:
    """Compile MODEL and EXPLAIN its SQL (ANALYZE, BUFFERS unless analyze=False) with the planner
    settings its build uses (unless model_settings=False): the plan as PlanNode rows, the parents
    with what the planner knows of them, and the settings."""
    compiled = compile_model(model, dbt_vars)
    settings = planner_settings(compiled.materialized, compiled.meta) if model_settings else {}
    with db.raw_connection(role=db.ENGINEER) as conn:
        missing = [(name, rel) for name, rel, kind in compiled.parents
                   if conn.execute("select to_regclass(%s)", (rel.replace('"', ""),)).fetchone()[0] is None]
        if missing:
            names = ", ".join(f"{rel.split('.', 1)[1].replace(chr(34), '')} ({name})" for name, rel in missing)
            raise VeilleError(f"{model} reads {names}, not built yet: run `veille dbt build --select +{model}` "
                              f"(or `veille dbt run --select +{missing[0][0]}`) first")
        parents = [(rel.split(".", 1)[1].replace('"', ""), kind,
                    _relation_stats(conn, rel.replace('"', ""))) for _, rel, kind in compiled.parents]
        work_mem = conn.execute("show work_mem").fetchone()[0]
        for name, value in settings.items():
            if not re.fullmatch(r"[a-z_]+", name) or not re.fullmatch(r"[A-Za-z0-9_.]+", value):
                raise VeilleError(f"{model}: bad planner setting in meta: {name} = {value}")
            conn.execute(f"set local {name} = {value}")
        options = "analyze, buffers, format json" if analyze else "format json"
        started = time.perf_counter()
        try:
            plan = conn.execute(f"explain ({options})\n{compiled.sql}").fetchone()[0][0]
        except Exception as exc:  # a SQL error in the model: say it in one line
            raise VeilleError(f"{model}: {str(exc).splitlines()[0]}") from exc
        finally:
            conn.rollback()
        seconds = time.perf_counter() - started
    return {"model": compiled, "plan": flatten_plan(plan["Plan"]), "parents": parents, "work_mem": work_mem,
            "settings": settings, "analyze": analyze, "seconds": seconds, "temp_written": plan["Plan"].get("Temp Written Blocks", 0)}


def _rows(n: float | None) -> str:
    return "-" if n is None else f"{n:,.0f}"


def explain_lines(result: dict, threshold: float = 100.0) -> list[str]:
    """What `veille dbt explain` prints."""
    m: CompiledModel = result["model"]
    analyze = result["analyze"]
    what = f"EXPLAIN ANALYZE ran in {result['seconds']:.1f} s" if analyze else "EXPLAIN (estimates only)"
    relation = m.relation.replace('"', "").split(".", 1)[-1]
    lines = [f"{m.name}: {relation} ({m.materialized}), {what}, work_mem {result['work_mem']}"]
    if result["settings"]:
        lines.append("planner settings of its build: "
                     + ", ".join(f"{k} = {v}" for k, v in result["settings"].items()))
    if result["temp_written"]:
        lines.append(f"temporary files written: {result['temp_written'] * 8 / 1024:,.0f} MB "
                     "(sorts or hashes larger than work_mem)")
    lines.append("reads:")
    lines += [f"  {rel} ({kind}: {stats})" if kind != stats else f"  {rel} ({kind})"
              for rel, kind, stats in result["parents"]]
    head = f"{'estimated':>13} {'actual':>13} {'seconds':>8}  plan" if analyze else f"{'estimated':>13}  plan"
    lines.append(head)
    flagged = 0
    for node in result["plan"]:
        off = node.misestimate()
        mark = ""
        if off > threshold:
            flagged += 1
            direction = "more" if (node.actual or 0) > node.estimated else "fewer"
            mark = f"   <<< {off:,.0f}x {direction} rows than estimated"
        notes = f"  [{node.notes}]" if node.notes else ""
        text = "  " * node.depth + node.label
        if analyze:
            secs = "-" if node.seconds is None else f"{node.seconds:.2f}"
            lines.append(f"{_rows(node.estimated):>13} {_rows(node.actual):>13} {secs:>8}  {text}{notes}{mark}")
        else:
            lines.append(f"{_rows(node.estimated):>13}  {text}")
    if analyze:
        lines.append(f"{flagged} node(s) with actual rows more than {threshold:g}x off the estimate (<<<)"
                     + (": the plan above them was chosen on a wrong count (docs/dbt.md, "
                        "'When a model slows down')" if flagged else ""))
    return lines


# --------------------------------------------------------------------------- build timings


def run_results_path(args: list[str]) -> Path:
    """Where dbt writes run_results.json for these arguments (--target-path, DBT_TARGET_PATH)."""
    target = os.environ.get("DBT_TARGET_PATH", "target")
    for i, arg in enumerate(args):
        if arg == "--target-path" and i + 1 < len(args):
            target = args[i + 1]
        elif arg.startswith("--target-path="):
            target = arg.split("=", 1)[1]
    path = Path(target)
    return (path if path.is_absolute() else dbt_project_dir() / path) / "run_results.json"


def model_timings(run_results: Path) -> tuple[float, list[tuple[str, str, float]]]:
    """(wall-clock seconds of the invocation, [(model, materialization, seconds)] slowest first)."""
    if not run_results.exists():
        raise VeilleError(f"no dbt run results at {run_results}: run `veille dbt build` first")
    data = json.loads(run_results.read_text())
    rows = []
    for r in data["results"]:
        if r["unique_id"].startswith("model."):
            adapter = r.get("adapter_response") or {}
            rows.append((r["unique_id"].split(".")[-1], adapter.get("code", ""), float(r["execution_time"])))
    return float(data["elapsed_time"]), sorted(rows, key=lambda row: -row[2])


def timing_lines(run_results: Path, limit: int | None = None, share_limit: float = 0.25) -> list[str]:
    """Per-model seconds and share of the build's wall-clock time, slowest first."""
    wall, rows = model_timings(run_results)
    nodes = sum(float(r["execution_time"]) for r in json.loads(run_results.read_text())["results"])
    lines = [f"{'model':<44}{'seconds':>9}{'share':>8}"]
    for name, _, seconds in rows[:limit]:
        share = seconds / wall if wall else 0.0
        lines.append(f"{name:<44}{seconds:>9.2f}{share:>8.1%}" + ("   > 25% of the build" if share > share_limit
                                                                 else ""))
    lines.append(f"{len(rows)} models {sum(r[2] for r in rows):.1f} s, all nodes (models, tests, seeds) "
                 f"{nodes:.1f} s, build wall clock {wall:.1f} s (share = model seconds / wall clock)")
    return lines


def data_quality_lines(run_results: Path) -> list[str]:
    """One line per data-quality test that warned in the last dbt invocation (generic test
    veille_data_quality: a count of kept rows worth a word, e.g. packs without a usable dose)."""
    if not run_results.exists():
        return []
    manifest_path = run_results.parent / "manifest.json"
    nodes = json.loads(manifest_path.read_text())["nodes"] if manifest_path.exists() else {}
    lines = []
    for r in json.loads(run_results.read_text())["results"]:
        node = nodes.get(r["unique_id"], {})
        meta = node.get("test_metadata") or {}
        if r.get("status") != "warn" or meta.get("name") != "veille_data_quality":
            continue
        what = " ".join(str(meta.get("kwargs", {}).get("what", r["unique_id"])).split())
        lines.append(f"data quality: {int(r.get('failures') or 0):,} {what}")
    return lines


# --------------------------------------------------------------------------- commands


def register(app: typer.Typer) -> None:
    explain_app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @explain_app.command()
    def explain(
        model: str = typer.Argument(..., help="model name, e.g. int_observation_periods"),
        analyze: bool = typer.Option(True, "--analyze/--no-analyze",
                                     help="run the query (EXPLAIN ANALYZE, BUFFERS) or only plan it"),
        threshold: float = typer.Option(100.0, "--threshold", min=1.0,
                                        help="mark nodes whose actual rows are this many times off"),
        dbt_vars: str | None = typer.Option(None, "--vars", help="dbt vars, as for dbt build"),
        model_settings: bool = typer.Option(True, "--model-settings/--planner-defaults",
                                            help="plan with the settings of the model's build (default) or "
                                                 "with the server's defaults"),
    ) -> None:
        """Compile MODEL and print its plan, estimated vs actual rows (upstream models must be built)."""
        result = explain_model(model, analyze=analyze, dbt_vars=dbt_vars, model_settings=model_settings)
        for line in explain_lines(result, threshold):
            typer.echo(line)

    timings_app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @timings_app.command()
    def timings(
        run_results: Path | None = typer.Argument(None, help="run_results.json (default: the last build's)"),
        limit: int | None = typer.Option(None, "--limit", min=1, help="slowest models only"),
    ) -> None:
        """Per-model seconds and share of the last dbt build (target/run_results.json)."""
        for line in timing_lines(run_results or run_results_path([]), limit):
            typer.echo(line)

    @app.command("dbt", context_settings={"allow_extra_args": True, "ignore_unknown_options": True,
                                         "help_option_names": []})
    def dbt_cmd(ctx: typer.Context) -> None:
        """Run dbt in dbt_project/ against veille's database, e.g. `veille dbt build`.

        `veille dbt explain MODEL [--no-analyze]`: the model's plan, estimated vs actual rows.

        `veille dbt build ... --timings`: per-model seconds and share of the build afterwards.

        `veille dbt timings`: the same for the last build."""
        args = list(ctx.args)
        if args in (["--help"], ["-h"]):
            typer.echo(ctx.get_help())
            return
        if args[:1] == ["explain"]:
            raise typer.Exit(explain_app(args[1:], prog_name="veille dbt explain", standalone_mode=False) or 0)
        if args[:1] == ["timings"]:
            raise typer.Exit(timings_app(args[1:], prog_name="veille dbt timings", standalone_mode=False) or 0)
        show_timings = "--timings" in args
        args = [a for a in args if a != "--timings"]
        rc = run_dbt(args, check=False)
        if show_timings and run_results_path(args).exists():
            for line in timing_lines(run_results_path(args)):
                typer.echo(line)
        if args[:1] in (["build"], ["test"]):
            for line in data_quality_lines(run_results_path(args)):
                typer.echo(line)
        raise typer.Exit(rc)
