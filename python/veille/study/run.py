"""`veille study run`: registry rows -> dbt study marts -> estimators -> `results` -> report."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from veille import db
from veille.errors import VeilleError
from veille.marts import Marts, dbt_target_args, marts_for
from veille.study import store
from veille.study.analysis import OutcomeAnalysis, Settings, analyse_outcome
from veille.study.config import Study
from veille.study.registry import write_registry

DBT_SELECTION = ["build", "--select", "+tag:study", "--indirect-selection", "cautious", "--quiet"]
MARTS = ("fct_study_survival", "fct_study_covariate_class", "fct_study_counting_process", "fct_study_attrition",
         "fct_study_dose_counting_process")


@dataclass
class StudyRun:
    study: Study
    run_id: int
    outcomes: list[OutcomeAnalysis] = field(default_factory=list)
    attrition: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    nulls: dict = field(default_factory=dict)  # (cohort_id, analysis, term) -> calibration.Null


def build_marts(quiet: bool = True, dbt_vars: dict | None = None, target: str = "default") -> None:
    """Build the study marts with dbt on ``target``. On spark, the study registry just written to
    PostgreSQL is first copied to the Parquet the spark target reads (VEILLE_PARQUET)."""
    import json

    from veille.dbt import run_dbt

    args = DBT_SELECTION + (["--vars", json.dumps(dbt_vars)] if dbt_vars else []) + dbt_target_args(target)
    if run_dbt(args, check=False, quiet=quiet) != 0:
        where = "" if target == "default" else f" --target {target}"
        raise VeilleError("dbt could not build the study marts: run "
                          f"`veille dbt build --select +tag:study{where}` to see why")


# the unique key of each study mart (its dbt test): the order the estimators read rows in
MART_KEYS = {
    "fct_study_survival": ["cohort_id", "outcome_id", "patient_id"],
    "fct_study_covariate_class": ["cohort_id", "patient_id", "atc_class"],
    "fct_study_counting_process": ["cohort_id", "outcome_id", "patient_id", "start_day"],
    "fct_study_attrition": ["cohort_id", "outcome_id", "step"],
    "fct_study_dose_counting_process": ["cohort_id", "outcome_id", "patient_id", "start_day"],
}


def read_study_marts(marts: Marts, cohort_ids: list[str]) -> tuple[pd.DataFrame, ...]:
    """The study marts (MARTS) of these cohorts, from PostgreSQL or Spark (veille.marts),
    each sorted by its unique key: a matched analysis pairs subjects in the order it reads them,
    and neither engine returns rows in a set order."""
    return tuple(marts.read(f"marts.{m}", {"cohort_id": cohort_ids})
                 .sort_values(MART_KEYS[m], kind="stable").reset_index(drop=True) for m in MARTS)


def analyse_study(study: Study, surv: pd.DataFrame, classes: pd.DataFrame,
                  counting: pd.DataFrame, dose_counting: pd.DataFrame | None = None) -> Iterator[OutcomeAnalysis]:
    """Every comparison x outcome (negative controls included) of ``study``, fitted on its
    marts (read_study_marts)."""
    for comp in study.comparisons:
        cid = study.cohort_id(comp)
        rows = surv[surv["cohort_id"] == cid]
        cls = classes[classes["cohort_id"] == cid]
        for outcome, negative in [(o, False) for o in study.outcomes] + [(o, True) for o in study.negative_controls]:
            settings = Settings(
                analyses=tuple(study.analyses),
                patient_covariates=tuple(study.covariates.patient),
                min_events=study.min_events,
                min_events_per_covariate=study.min_events_per_covariate,
                negative_control=negative,
            )
            yield analyse_outcome(
                rows[rows["outcome_id"] == outcome.id],
                settings,
                cohort_id=cid,
                outcome_id=outcome.id,
                exposure=comp.exposure.label,
                comparator=comp.comparator.label,
                classes=cls,
                counting=counting[(counting["cohort_id"] == cid) & (counting["outcome_id"] == outcome.id)],
                dose_counting=None if dose_counting is None else dose_counting[
                    (dose_counting["cohort_id"] == cid) & (dose_counting["outcome_id"] == outcome.id)],
                duration=study.cumulative_exposure,
                dose=study.cumulative_dose,
            )


def run_study(study: Study, *, build: bool = True, report_dir: Path | None = None,
              target: str = "default") -> StudyRun:
    """Run every comparison x outcome of ``study``; results are stored under a new run id.
    ``target``: the dbt target whose marts are built and read (default: PostgreSQL; spark)."""
    eng = db.engine(db.ENGINEER)
    with eng.begin() as conn:
        exists = conn.execute(sa.text("select to_regclass('results.run')")).scalar()
        if not exists:
            raise VeilleError("the results schema is missing: run `veille migrate` first")
        cohort_ids = write_registry(conn, study)
    if build:
        build_marts(target=target)
    with eng.begin() as conn:
        run_id = store.start_run(conn, study)
    run = StudyRun(study, run_id)
    if study.design == "sccs":
        return _run_case_series(run, report_dir)
    try:
        with eng.connect() as conn:
            surv, classes, counting, attrition, dose_counting = read_study_marts(marts_for(target, conn), cohort_ids)
        run.attrition = attrition
        with eng.begin() as conn:
            store.save_attrition(conn, run_id, attrition)
            for res in analyse_study(study, surv, classes, counting, dose_counting):
                run.outcomes.append(res)
                store.save_outcome(conn, run_id, res)
            run.nulls = store.save_calibration(conn, run_id, run.outcomes)
            store.finish_run(conn, run_id, "done")
    except Exception as exc:
        with eng.begin() as conn:
            store.finish_run(conn, run_id, "failed", str(exc)[:500])
        raise
    if report_dir is not None:
        from veille.study.report import write_report

        write_report(run, report_dir)
    return run


def _run_case_series(run: StudyRun, report_dir: Path | None) -> StudyRun:
    """A ``design: sccs`` study: conditional Poisson fits on marts.fct_sccs_intervals."""
    from veille.study.sccs import run_case_series

    eng = db.engine(db.ENGINEER)
    try:
        with eng.begin() as conn:
            if conn.execute(sa.text("select to_regclass('marts.fct_sccs_intervals')")).scalar() is None:
                raise VeilleError("mart marts.fct_sccs_intervals is missing: build the dbt project first (veille dbt build)")
            run.outcomes = run_case_series(conn, run.study, run.run_id, lambda res: store.save_outcome(conn, run.run_id, res))
            run.nulls = store.save_calibration(conn, run.run_id, run.outcomes)
            store.finish_run(conn, run.run_id, "done")
    except Exception as exc:
        with eng.begin() as conn:
            store.finish_run(conn, run.run_id, "failed", str(exc)[:500])
        raise
    if report_dir is not None:
        from veille.study.sccs_report import write_sccs_report

        write_sccs_report(run, report_dir)
    return run


def _estimate_line(label: str, measure: str, e: dict, events_exposed=None) -> str:
    """One estimate as the command prints it: counts masked (``events_exposed``: as
    veille.study.export.events_exposed_shown gives it), none for a row without counts (a
    trend), or why it is missing."""
    from veille.privacy import mask_count, mask_text

    if e["status"] != "ok":
        return f"{label} not estimable: {mask_text(e['message'])}"
    line = f"{label} {measure} {e['hr']:.2f} ({e['ci_low']:.2f}-{e['ci_high']:.2f})"
    if e["events_exposed"] is None:
        return line
    shown = mask_count(e["events_exposed"]) if events_exposed is None else events_exposed
    return f"{line}  events {shown} / {mask_count(e['events_comparator'])}"


def summary_lines(run: StudyRun) -> list[str]:
    """What the command prints: each estimate (counts masked) or why it is missing."""
    from veille.study.export import events_exposed_shown
    from veille.study.report import negative_control_summary
    from veille.study.sccs import INTERACTION, RATIO_OF_RATIOS

    s = run.study
    lines = [f"{s.id} (run {run.run_id}): {s.title}"]
    if s.design == "sccs":
        lines.append(f"  {s.sccs.exposure.label}: self-controlled case series (relative incidence, conditional Poisson)")
        if s.sccs.convolution:
            lines.append("  ConvSCCS: the average relative incidence over each drug's exposed time (lag curves in the report)")
        if s.sccs.interaction:
            lines.append(f"  interaction with {s.sccs.interaction.object.label}: the relative incidence of the first "
                         "window within and without it, and their ratio (RoR)")
        for o in run.outcomes:
            for e in o.estimates:
                if e["analysis"] == "convsccs_lag" or (o.negative_control and e["analysis"] in ("convsccs", INTERACTION)):
                    continue  # in the report
                term = e["term"] if e["analysis"] in ("sccs", INTERACTION) else f"ConvSCCS {e['term']}"
                label = f"    {o.outcome_id + (' (NC)' if o.negative_control else ''):<24} {term:<32}"
                ratio = e["analysis"] == INTERACTION and e["term"] == RATIO_OF_RATIOS
                lines.append(_estimate_line(label, "RoR" if ratio else "RI", e))
    for comp in s.comparisons:
        cid = s.cohort_id(comp)
        outs = [o for o in run.outcomes if o.cohort_id == cid]
        lines.append(f"  {comp.exposure.label} vs {comp.comparator.label}")
        for o in outs:
            if o.negative_control:
                continue
            for e, shown in zip(o.estimates, events_exposed_shown(o.estimates), strict=True):
                label = f"    {o.outcome_id:<24} {e['analysis'] + ('' if e['term'] == 'exposed' else ' ' + e['term']):<28}"
                lines.append(_estimate_line(label, "HR", e, shown))
        nc = negative_control_summary(outs, s.primary_analysis)
        if nc:
            lines.append(f"    negative controls: {nc}")
    return lines


def run_studies(studies: list[Study], *, build: bool = True, report_dir: Path | None = None, echo=print,
                dbt_vars: dict | None = None, target: str = "default") -> list[StudyRun]:
    """Run several studies with one dbt build (all registry rows are written first; ``dbt_vars``
    are passed to it, e.g. ``{"stockpiling": False}``) on dbt target ``target``."""
    if build:
        with db.engine(db.ENGINEER).begin() as conn:
            for s in studies:
                write_registry(conn, s)
        build_marts(dbt_vars=dbt_vars, target=target)
    runs = []
    for s in studies:
        run = run_study(s, build=False, report_dir=report_dir, target=target)
        runs.append(run)
        for line in summary_lines(run):
            echo(line)
        if report_dir is not None:
            echo(f"  report: {Path(report_dir) / s.id / 'index.html'}")
    return runs


def run_all_for_demo() -> Path:
    """Run every shipped study (used by `veille demo`); return the report index path."""
    from veille.study.config import load_all

    report_dir = db.project_root() / "reports"
    run_studies(load_all(), report_dir=report_dir)
    return report_dir / "index.html"
