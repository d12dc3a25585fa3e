"""The report of a self-controlled case series (``design: sccs``), drawn with the report kit
(veille.report): design, cases and events per window, the relative incidences with their
forest plot, diagnostics."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from veille.privacy import mask_text
from veille.report import Report
from veille.report.index import write_index
from veille.study.plots import forest_figure, lag_panels
from veille.study.sccs import INTERACTION

SOURCE = ("marts.fct_sccs_intervals (dbt: study.sccs_definition, fct_drug episodes, fct_outcome_events) "
          "-> veille.study.sccs.analyse_case_series (statsmodels ConditionalPoisson)")


def _design(study) -> pd.DataFrame:
    cs = study.sccs
    rows = [
        ("exposure", f"{cs.exposure.label}: ATC {', '.join(study.atc(cs.exposure.atc))} (episodes, grace {cs.grace} days)"),
        ("risk windows", "; ".join(f"{w.name}" for w in cs.risk_windows)),
        ("pre-exposure window", f"{cs.pre_exposure} days before each episode" if cs.pre_exposure else "none"),
        ("age groups from", ", ".join(str(a) for a in cs.age_groups) or "no age adjustment"),
        ("calendar adjustment", {"year": "one term per calendar year", "none": "none"}[cs.calendar]),
        ("age", f"{study.age.min if study.age.min is not None else 'any'} to {study.age.max if study.age.max is not None else 'any'}"),
        ("study period", f"{study.study_period.start or 'start of data'} to {study.study_period.end or 'end of data'}"),
        ("outcomes", ", ".join(o.id for o in study.outcomes)),
        ("negative controls", ", ".join(o.id for o in study.negative_controls) or "none"),
    ]
    if cs.interaction:
        obj = cs.interaction.object
        value = (f"object drug {obj.label}: ATC {', '.join(study.atc(obj.atc))} (episodes, grace {cs.grace} days), "
                 f"the exposure being the precipitant; ratio of ratios on the window {cs.risk_windows[0].name!r}")
        rows.insert(5, ("interaction", value))
    return pd.DataFrame(rows, columns=["setting", "value"])


def _interval(lo, hi) -> str:
    return f"{lo:.2f}\u2013{hi:.2f}" if pd.notna(lo) else ""


def _intervals(df: pd.DataFrame, low: str = "ci_low", high: str = "ci_high") -> list[str]:
    """Each row's interval as text; blank where the columns (a calibrated interval) are absent."""
    none = pd.Series([None] * len(df))
    return [_interval(lo, hi) for lo, hi in zip(df.get(low, none), df.get(high, none), strict=True)]


def sccs_report(run) -> Report:
    s = run.study
    page = Report(s.title, "study", s.question,
                  subtitle=f"run {run.run_id}, self-controlled case series")
    page.heading("Design", source=f"analyses/studies/{s.id}.yml -> veille.study.config.CaseSeries")
    page.table(_design(s), left=["setting", "value"])
    every = [{**e, "outcome": e["outcome_id"] + (" (NC)" if e["is_negative_control"] else ""),
              "message": mask_text(e["message"])} for o in run.outcomes for e in o.estimates]
    est = [e for e in every if e["analysis"] == "sccs"]
    page.heading("Relative incidence (exposed time vs the same cases' baseline time)", source=SOURCE)
    if est:
        df = pd.DataFrame(est)
        table = pd.DataFrame({
            "outcome": df["outcome"], "window": df["term"], "cases": df["n_comparator"],
            "exposed cases": df["n_exposed"], "events in window": df["events_exposed"],
            "events at baseline": df["events_comparator"], "RI": df["hr"],
            "95% CI": _intervals(df), "p": df["p_value"],
            "calibrated 95% CI": _intervals(df, "calibrated_ci_low", "calibrated_ci_high"),
            "calibrated p": df.get("calibrated_p", pd.Series([None] * len(df))),
            "note": df["message"].fillna(""),
        })
        page.table(table, counts=["cases", "exposed cases", "events in window", "events at baseline"],
                   digits={"RI": 2, "p": 4, "calibrated p": 4}, left=["outcome", "window", "note"])
        nulls = [f"{term}: " + (f"N({n.mu:+.3f}, {n.sigma:.3f}\u00b2 + SE\u00b2) on {n.n_controls} negative controls"
                                if n.fitted else n.message)
                 for (_, analysis, term), n in sorted(getattr(run, "nulls", {}).items()) if analysis == "sccs"]
        if nulls:
            page.text("Empirical calibration on the negative controls, per window (log RI ~ "
                      "N(mu, sigma\u00b2 + SE\u00b2), Schuemie 2014): " + "; ".join(nulls) + ".")
        forest = pd.DataFrame({"label": df["outcome"] + " \u00b7 " + df["term"], "hr": df["hr"],
                               "ci_low": df["ci_low"], "ci_high": df["ci_high"]})
        fig = forest_figure(forest, f"{s.sccs.exposure.label}: relative incidence by window")
        fig.update_layout(xaxis_title="relative incidence (95% CI, log scale)")
        page.figure(fig)
    else:
        page.text("No outcome to report.", css="na")
    if s.sccs.convolution:
        _convolution_section(page, run, [e for e in every if e["analysis"] == "convsccs"],
                             [e for e in every if e["analysis"] == "convsccs_lag"])
    if s.sccs.interaction:
        _interaction_section(page, run, [e for e in every if e["analysis"] == INTERACTION])
    page.heading("Diagnostics")
    notes = [f"{o.outcome_id}: {mask_text(d['message'])}" for o in run.outcomes for d in o.diagnostics]
    page.table(pd.DataFrame({"diagnostic": notes or ["none"]}), left=["diagnostic"])
    return page


def _convolution_section(page: Report, run, averages: list[dict], lags: list[dict]) -> None:
    conv = run.study.sccs.convolution
    page.heading("Multi-drug ConvSCCS: every drug in one model, a lag curve each",
                 source="marts.fct_sccs_conv_cases, marts.fct_sccs_conv_starts -> "
                        "veille.study.sccs.analyse_convolution (veille.study.convsccs)")
    page.text(f"The exposure and {len(conv.drugs)} other drugs enter one conditional Poisson model per outcome; each "
              f"drug's relative incidence is piecewise constant over {conv.lags} lags of {conv.bucket_days} days "
              f"after an episode start (the last lasting to the episode's end), smoothed by a total-variation "
              f"penalty ({conv.strength_tv:g}); co-prescribed drugs are adjusted for each other. The average is "
              f"over each drug's exposed time. "
              + (f"Intervals: {conv.replicates} bootstrap replicates of the cases." if conv.replicates else
                 "Intervals: analytic, given where the penalty put the jumps (a little narrow)."))
    if not averages:
        page.text("No outcome to report.", css="na")
        return
    df = pd.DataFrame(averages)
    page.table(pd.DataFrame({
        "outcome": df["outcome"], "drug": df["term"], "exposed cases": df["n_exposed"],
        "events in the lag window": df["events_exposed"], "average RI": df["hr"],
        "95% CI": _intervals(df), "p": df["p_value"],
        "calibrated 95% CI": _intervals(df, "calibrated_ci_low", "calibrated_ci_high"),
        "note": df["message"].fillna(""),
    }), counts=["exposed cases", "events in the lag window"], digits={"average RI": 2, "p": 4},
        left=["outcome", "drug", "note"])
    curves = pd.DataFrame(lags)
    for outcome in dict.fromkeys(e["outcome"] for e in averages if not e["is_negative_control"]):
        sel = curves[curves["outcome"] == outcome] if len(curves) else curves
        if len(sel):
            panels = [(drug, pd.DataFrame({"x": range(len(c)), "ri": c["hr"].to_numpy(), "ci_low": c["ci_low"].to_numpy(),
                                           "ci_high": c["ci_high"].to_numpy(), "label": c["term"].to_numpy()}))
                      for drug, c in sel.groupby("exposure", sort=False)]
            page.figure(lag_panels(panels, f"{outcome}: relative incidence by time since a start (95% band)",
                                   f"lag since an episode start ({conv.bucket_days}-day buckets)"))


def _interaction_section(page: Report, run, rows: list[dict]) -> None:
    cs = run.study.sccs
    pre, obj = cs.exposure.label, cs.interaction.object.label
    page.heading(f"Interaction: {pre} within and without {obj} (ratio of ratios)",
                 source="marts.fct_sccs_intervals (object_exposed) -> veille.study.sccs.analyse_interaction")
    page.text(f"The relative incidence of {pre} in its window {cs.risk_windows[0].name!r}, in two case series: "
              f"the cases whose event fell while they took {obj}, observed over that time only, and the cases "
              f"never exposed to {obj}, each fitted as the main series (same windows, age groups and years). "
              f"Their ratio, the ratio of ratios, is the interaction: above 1, {pre} raises the incidence more "
              f"on {obj} than without it (Leonard et al., Clin Pharmacol Ther 2018). The two series have no "
              "case in common: the variance of the log ratio is the sum of theirs. The ratio's row has no "
              "count of its own: a sum of the two series' counts would give back one masked below 10.")
    if not rows:
        page.text("No outcome to report.", css="na")
        return
    df = pd.DataFrame(rows)
    page.table(pd.DataFrame({
        "outcome": df["outcome"], "estimate": df["term"], "cases": df["n_comparator"],
        "exposed cases": df["n_exposed"], "events in window": df["events_exposed"],
        "events at baseline": df["events_comparator"], "RI or RoR": df["hr"], "95% CI": _intervals(df),
        "p": df["p_value"], "calibrated 95% CI": _intervals(df, "calibrated_ci_low", "calibrated_ci_high"),
        "note": df["message"].fillna(""),
    }), counts=["cases", "exposed cases", "events in window", "events at baseline"],
        digits={"RI or RoR": 2, "p": 4}, left=["outcome", "estimate", "note"])


def write_sccs_report(run, report_dir: Path) -> Path:
    """Write `<report_dir>/<study>/index.html` and refresh `<report_dir>/index.html`."""
    out = sccs_report(run).write(Path(report_dir) / run.study.id / "index.html", refresh_index=False)
    write_index(Path(report_dir))
    return out
