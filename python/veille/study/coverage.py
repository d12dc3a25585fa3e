"""`veille bench coverage`: how often the studies' 95% intervals hold the truth.

For each generator seed: a synthetic extract (the generator's truth.json says which effects it
injected), loaded into a scratch database, every shipped study run (cohort designs and case
series). Each estimate is paired with its true value: the injected hazard ratio of the
comparison (veille.study.truth.injected_hr: exposure over comparator), 1 for a negative control
(the generator injects nothing there). Per design x analysis, over seeds and pairs:

* coverage: the share of 95% intervals that contain the truth (nominal 0.95);
* bias: the mean of log(estimate) - log(truth), and its mean absolute value;
* width: the mean width of the interval on the log scale;
* calibrated coverage, the same with the calibrated intervals when the run stored them
  (empirical calibration on the negative controls, veille.study.calibration).

With ``exposure="supply"`` every study is run with the generator's own exposure definition
instead of its file's: no grace between supplies (``grace: 0``, case series too) and no
stockpiling (dbt var ``stockpiling: false``), so the exposed days are the days the generator's
hazard ratio applies. The difference from the default run is the exposure misclassification
the studies' grace and stockpiling introduce (docs/studies.md, part 4).

Pairs whose truth the generator does not define (a case-series window after which the injected
effect does not hold as such, a comparison of two drugs with effects of their own on different
populations) are left out and counted.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from veille.study.truth import injected_hr

CASE_SERIES_TRUE_WINDOWS = ("first 30 days",)  # windows inside the generator's exposure


def _conv_drug(study, estimate: dict):
    """The drug of a ConvSCCS estimate (the series' exposure or one of its drugs)."""
    drugs = [study.sccs.exposure] + list(study.sccs.convolution.drugs)
    label = estimate["term"].split(": ")[0] if estimate["analysis"] == "convsccs_lag" else estimate["term"]
    return next(d for d in drugs if d.label == label)


def truth_of(study, estimate: dict, truth: dict) -> float | None:
    """The true value an estimate estimates, or None when the generator does not define it.
    ConvSCCS: its first lag (days 0 to one bucket) of each drug, inside the generator's
    exposure; the average over the exposed time and the later lags are not defined (our
    episodes count days the generator does not), nor, for the negative controls, kept."""
    if estimate["analysis"] in ("convsccs", "convsccs_lag"):
        first = f": days 0-{study.sccs.convolution.bucket_days - 1}"
        if estimate["analysis"] == "convsccs" or not estimate["term"].endswith(first):
            return None
        if estimate["is_negative_control"]:
            return 1.0
        return injected_hr(truth, study.atc(_conv_drug(study, estimate).atc), None, estimate["outcome_id"])
    if estimate["is_negative_control"]:
        return 1.0
    if study.design == "sccs":
        if estimate["term"] not in CASE_SERIES_TRUE_WINDOWS:
            return None
        return injected_hr(truth, study.atc(study.sccs.exposure.atc), None, estimate["outcome_id"])
    comp = next(c for c in study.comparisons if study.cohort_id(c) == estimate["cohort_id"])
    if estimate["term"] != "exposed":
        return None
    return injected_hr(truth, study.atc(comp.exposure.atc), study.atc(comp.comparator.atc) or None,
                       estimate["outcome_id"])


def pair_rows(runs: list, truth: dict, seed: int, exposure: str = "study") -> list[dict[str, Any]]:
    """One row per estimable estimate with a defined truth (``exposure``: the run's exposure
    definition, kept on each row)."""
    rows = []
    for run in runs:
        s = run.study
        for o in run.outcomes:
            for e in o.estimates:
                if e["status"] != "ok":
                    continue
                t = truth_of(s, e, truth)
                if t is None and e["analysis"].startswith("convsccs"):
                    continue  # not defined, and a dozen lags per drug would swamp the table
                rows.append({
                    "seed": seed, "exposure": exposure, "study": s.id, "design": s.design, "analysis": e["analysis"],
                    "outcome": e["outcome_id"], "negative_control": bool(e["is_negative_control"]),
                    "truth": t, "hr": e["hr"], "ci_low": e["ci_low"], "ci_high": e["ci_high"],
                    "cal_ci_low": e.get("calibrated_ci_low"), "cal_ci_high": e.get("calibrated_ci_high"),
                })
    return rows


def summarise(pairs: pd.DataFrame) -> pd.DataFrame:
    """Per design x analysis: estimates, coverage (raw, calibrated), bias, width."""
    known = pairs[pairs["truth"].notna()].copy()
    for col in ("truth", "hr", "ci_low", "ci_high", "cal_ci_low", "cal_ci_high"):
        known[col] = pd.to_numeric(known[col], errors="coerce").astype(float)
    known["log_error"] = np.log(known["hr"]) - np.log(known["truth"].astype(float))
    known["covered"] = (known["ci_low"] <= known["truth"]) & (known["truth"] <= known["ci_high"])
    known["width"] = np.log(known["ci_high"]) - np.log(known["ci_low"])
    cal = known["cal_ci_low"].notna()
    known["cal_covered"] = np.where(cal, (known["cal_ci_low"] <= known["truth"]) & (known["truth"] <= known["cal_ci_high"]),
                                    np.nan)
    out = []
    for (design, analysis), g in known.groupby(["design", "analysis"], sort=True):
        c = g[g["cal_covered"].notna()]
        out.append({
            "design": design, "analysis": analysis, "estimates": len(g),
            "negative_controls": int(g["negative_control"].sum()),
            "coverage": float(g["covered"].mean()),
            "calibrated_coverage": float(c["cal_covered"].astype(float).mean()) if len(c) else math.nan,
            "mean_log_error": float(g["log_error"].mean()), "mean_abs_log_error": float(g["log_error"].abs().mean()),
            "mean_log_width": float(g["width"].mean()),
            "undefined_truth": int(pairs[(pairs["design"] == design) & (pairs["analysis"] == analysis)]["truth"].isna().sum()),
        })
    return pd.DataFrame(out)


def _calibrated(conn, run_id: int) -> dict[tuple, tuple[float, float]]:
    """Calibrated intervals stored for a run, if the results schema has them."""
    import sqlalchemy as sa

    cols = set(conn.execute(sa.text(
        "select column_name from information_schema.columns where table_schema = 'results' and table_name = 'estimate'"
    )).scalars())
    if not {"calibrated_ci_low", "calibrated_ci_high"} <= cols:
        return {}
    rows = conn.execute(sa.text(
        "select cohort_id, outcome_id, analysis, term, calibrated_ci_low, calibrated_ci_high from results.estimate "
        "where run_id = :r and calibrated_ci_low is not null"), {"r": run_id}).all()
    return {(r[0], r[1], r[2], r[3]): (r[4], r[5]) for r in rows}


EXPOSURES = ("study", "supply")


def supply_exposure(study):
    """The study with the generator's exposure definition: no grace between supplies."""
    if study.sccs is not None:
        return study.model_copy(update={"sccs": study.sccs.model_copy(update={"grace": 0})})
    return study.model_copy(update={"exposure_strategy": study.exposure_strategy.model_copy(update={"grace": 0})})


def run_seed(seed: int, patients: int, years: int, scenario: str, echo: Callable[[str], Any],
             exposure: str = "study") -> list[dict]:
    """Generate (or reuse) the seed's extract, load it into a scratch database, run every study
    (with its own exposure definition, or the generator's when ``exposure`` is "supply")."""
    from veille import db, migrate
    from veille.benchkit import generated_extract, scratch_database
    from veille.load import load_extract
    from veille.study.config import load_all
    from veille.study.run import run_studies

    extract, _ = generated_extract(f"coverage_{scenario}_{patients}_{years}_{seed}", patients, years, seed,
                                   scenario=scenario, echo=echo)
    truth = json.loads((extract / "truth.json").read_text("utf-8"))
    with scratch_database("bench_coverage"):
        migrate.upgrade("heads")
        load_extract(extract)
        studies, dbt_vars = load_all(), None
        if exposure == "supply":
            studies, dbt_vars = [supply_exposure(s) for s in studies], {"stockpiling": False}
        runs = run_studies(studies, build=True, report_dir=None, echo=lambda _: None, dbt_vars=dbt_vars)
        with db.engine(db.ENGINEER).connect() as conn:
            for run in runs:
                cal = _calibrated(conn, run.run_id)
                for o in run.outcomes:
                    for e in o.estimates:
                        lo_hi = cal.get((e["cohort_id"], e["outcome_id"], e["analysis"], e["term"]))
                        if lo_hi:
                            e["calibrated_ci_low"], e["calibrated_ci_high"] = lo_hi
    return pair_rows(runs, truth, seed, exposure)
