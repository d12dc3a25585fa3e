"""The study report, `reports/<study>/index.html`, drawn with the report kit (veille.report:
one layout, plotly charts, tables from DataFrames, audited before it is written);
`reports/index.html` lists every report (veille.report.index).

Every count goes through :func:`veille.privacy.mask_count` (small-cell rule); so that no
small count can be recovered either, an incidence rate resting on fewer than 10 events is left
out (rate x person-years would give the events back), and an attrition count whose difference
with the next count shown is 1 to 9 is hidden (`veille audit exports`, docs/privacy.md).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pandas as pd
from markupsafe import Markup, escape

from veille.privacy import THRESHOLD, mask_count, mask_text
from veille.report import Report, table_html
from veille.report.index import write_index
from veille.study.export import events_exposed_shown
from veille.study.plots import dose_response_figure, forest_figure, funnel_figure, km_figure


def _design(s) -> list[tuple[str, str]]:
    period = f"{s.study_period.start or 'start of data'} to {s.study_period.end or 'end of data'}"
    strategy = s.exposure_strategy
    return [
        ("base population", ", ".join(s.atc(s.base_population)) or "everyone"),
        ("age", f"{s.age.min if s.age.min is not None else 'any'} to {s.age.max if s.age.max is not None else 'any'}"),
        ("sex", {None: "both", 1: "men", 2: "women"}[s.sex]),
        ("study period", period),
        ("washout / prior observation", f"{s.washout} / {s.prior_observation} days"),
        ("minimum purchases", f"{s.min_purchases.count} within {s.min_purchases.window} days"),
        ("start delay (latency)", f"{s.start_delay} days"),
        ("exposure strategy", "intention to treat" if strategy.kind == "itt" else f"as treated, grace {strategy.grace} days"),
        ("maximum follow-up", f"{s.max_followup} days" if s.max_followup else "none"),
        ("outcomes", ", ".join(o.id for o in s.outcomes)),
        ("negative controls", ", ".join(o.id for o in s.negative_controls) or "none"),
        ("covariates", ", ".join(s.covariates.patient + [f"ATC {a}" for a in s.atc(s.covariates.atc)])),
        ("analyses", ", ".join(s.analyses) + f" (primary: {s.primary_analysis})"),
    ]


def _table1(res, n1: int, n0: int, labels: tuple[str, str]) -> Markup:
    """Table 1: a binary covariate as count (share), masked below 10; SMDs above 0.1 flagged."""
    rows = [{"covariate": "subjects", labels[0]: mask_count(n1), labels[1]: mask_count(n0),
             "SMD before": None, "SMD IPTW": None, "SMD matched": None}]
    for r in res.balance.to_dict("records"):
        binary = r["covariate"].startswith("atc_") or r["covariate"] in ("female", "ald_diabetes")
        vals = []
        for mean, n in ((r["mean_exposed"], n1), (r["mean_comparator"], n0)):
            if binary:
                count = round(mean * n)
                vals.append(f"<{THRESHOLD}" if count < THRESHOLD else f"{count} ({100 * mean:.1f}%)")
            else:
                vals.append(f"{mean:.2f}")
        rows.append({"covariate": r["covariate"], labels[0]: vals[0], labels[1]: vals[1],
                     "SMD before": r["smd_before"], "SMD IPTW": r["smd_iptw"], "SMD matched": r["smd_matched"]})
    df = pd.DataFrame(rows)
    smd = ("SMD before", "SMD IPTW", "SMD matched")
    return table_html(df, digits=dict.fromkeys(smd, 2), left=["covariate"],
                      cell_class=lambda c, v: "flag" if c in smd and pd.notna(v) and abs(v) > 0.1 else "")


def _outcome_steps(att: pd.DataFrame, shown: dict) -> Markup | None:
    """Outcome-specific attrition steps, one row per step, one column per outcome holding the
    subjects left as shown (exposed / comparator)."""
    rows: dict[tuple[int, str], dict] = {}
    for a in att.to_dict("records"):
        if a["outcome_id"] is not None:
            rows.setdefault((a["step"], a["criterion"]), {})[a["outcome_id"]] = " / ".join(
                shown[(a["outcome_id"], a["step"], arm)] for arm in ("n_exposed", "n_comparator"))
    if not rows:
        return None
    df = pd.DataFrame([{"step": f"{step}. {crit}", **cells} for (step, crit), cells in sorted(rows.items())])
    return table_html(df.fillna(""), left=["step"])


HIDDEN = "\u2013"


def attrition_shown(att: pd.DataFrame) -> dict[tuple, str]:
    """Each attrition count as shown, keyed (outcome_id or None, step, arm): masked below 10, and
    hidden ("\u2013") where the subjects excluded between it and the next count shown would be
    1 to 9. A chain is one arm followed through the common steps, then one outcome's steps; the
    last count of a chain (the analysed population, shown elsewhere too) is never hidden."""
    rows = att.to_dict("records")
    common = sorted((a for a in rows if a["outcome_id"] is None), key=lambda a: a["step"])
    outcomes = sorted({a["outcome_id"] for a in rows if a["outcome_id"] is not None})
    value = {(a["outcome_id"], a["step"], arm): a[arm] for a in rows for arm in ("n_exposed", "n_comparator")}
    chains = []
    for arm in ("n_exposed", "n_comparator"):
        head = [(None, a["step"], arm) for a in common]
        own = [[(o, a["step"], arm) for a in sorted(rows, key=lambda a: a["step"]) if a["outcome_id"] == o]
               for o in outcomes]
        chains += [head + tail for tail in own] if own else [head]
    hidden: set[tuple] = set()
    changed = True
    while changed:
        changed = False
        for chain in chains:
            shown = [k for k in chain if k not in hidden and value[k] is not None and value[k] >= THRESHOLD]
            for before, after in itertools.pairwise(shown):
                if 0 < value[before] - value[after] < THRESHOLD:
                    hidden.add(before)
                    changed = True
                    break
    return {k: HIDDEN if k in hidden else mask_count(v) for k, v in value.items()}


def negative_control_summary(outcomes, analysis: str) -> str | None:
    ests = [o.estimate(analysis) for o in outcomes if o.negative_control]
    ests = [e for e in ests if e is not None]
    if not ests:
        return None
    ok = [e for e in ests if e["status"] == "ok"]
    cover = sum(e["ci_low"] <= 1 <= e["ci_high"] for e in ok)
    return f"{cover} of {len(ok)} estimable negative-control CIs ({analysis}) cover 1; {len(ests) - len(ok)} not estimable."


def _incidence(rows: list[dict]) -> Markup:
    df = pd.DataFrame(rows, columns=["outcome", "group", "subjects", "events", "person-years", "rate",
                                     "95% CI"])
    return table_html(df, counts=["subjects", "events"], digits={"person-years": 1, "rate": 2},
                      left=["outcome", "group"])


ADJUSTMENT = {
    "cox_crude": "none",
    "cox_adjusted": "the Table 1 covariates in the Cox model",
    "iptw": "inverse probability of treatment weights (propensity score), robust SE",
    "matching": "1:1 propensity-score matching (caliper 0.2 SD), pair-clustered SE",
    "cumulative_exposure": "the covariates, cumulative exposure as time-varying categories (trend: per category step)",
    "cumulative_dose": "the covariates, cumulative dose as time-varying categories (trend: per category step)",
    "cumulative_dose_continuous": "the covariates, exposure and its cumulative dose as time-varying terms",
}
PER_STEP = {"cumulative_dose_continuous"}  # ratios per unit of dose, not against the comparator
RESPONSE = {"cumulative_dose": "cumulative dose", "cumulative_exposure": "cumulative exposure"}


def _dose_response(page: Report, estimates: list[dict], title: str, published) -> list[Markup]:
    """One chart per outcome and cumulative analysis (dose, duration): the hazard ratio by
    category, the trend test in its title, the published categories beside (``published``:
    (outcome, analysis, term) -> PublishedEstimate or None)."""
    charts = []
    for outcome, analysis in dict.fromkeys((e["outcome_id"], e["analysis"]) for e in estimates
                                           if e["analysis"] in RESPONSE):
        rows = [e for e in estimates if e["analysis"] == analysis and e["outcome_id"] == outcome]
        cats = pd.DataFrame([{"label": e["term"], "hr": e["hr"], "ci_low": e["ci_low"], "ci_high": e["ci_high"]}
                             for e in rows if e["term"] not in ("trend", "all")])
        if cats.empty:
            continue
        pubs = [(e["term"], published(outcome, analysis, e["term"])) for e in rows]
        pub = pd.DataFrame([{"label": t, "hr": r.hr, "ci_low": r.ci_low, "ci_high": r.ci_high} for t, r in pubs if r])
        trend = next((e for e in rows if e["term"] == "trend"), None)
        test = (f"trend: HR {trend['hr']:.2f} per category ({_ci(trend['ci_low'], trend['ci_high'])}), "
                f"p = {trend['p_value']:.3g}" if trend and trend["hr"] is not None else "trend: not estimable")
        charts.append(page.chart(dose_response_figure(
            cats, f"{title}: {outcome} by {RESPONSE[analysis]}; {test}", f"{RESPONSE[analysis]} since index",
            published=pub if len(pub) else None)))
    return charts


def _estimates(rows: list[dict], events_exposed: list) -> Markup:
    df = pd.DataFrame(rows, columns=["outcome", "analysis", "adjustment", "events exposed", "events comparator",
                                     "HR", "95% CI", "calibrated 95% CI", "calibrated p", "published", "note"])
    return table_html(df, counts=["events exposed", "events comparator"], digits={"HR": 2, "calibrated p": 3},
                      left=["outcome", "analysis", "adjustment", "published", "note"],
                      cell_class=lambda c, v: "na" if c == "note" else "",
                      shown={"events exposed": ["" if v is None else str(v) for v in events_exposed]})


def calibration_text(run, cohort_id: str, analysis: str) -> str:
    """The fitted empirical null of one comparison's analysis, or why there is none."""
    null = getattr(run, "nulls", {}).get((cohort_id, analysis, "exposed"))
    if null is None:
        return "No calibration: the run stored no empirical null."
    if not null.fitted:
        return f"{analysis}: {null.message}."
    return (f"{analysis}: empirical null fitted on {null.n_controls} negative controls, "
            f"log HR ~ N({null.mu:+.3f}, {null.sigma:.3f}\u00b2 + SE\u00b2) (Schuemie 2014): the calibrated intervals "
            f"and p-values shift each estimate by the bias and widen it by the spread; the systematic error is "
            f"taken as the same whatever the true effect (no positive controls).")


def _published(r) -> str:
    return "" if r is None else f"{r.hr:.2f} ({_ci(r.ci_low, r.ci_high)})"


def _ci(lo, hi) -> str:
    return "" if pd.isna(lo) or pd.isna(hi) else f"{lo:.2f}\u2013{hi:.2f}"


def study_report(run) -> tuple[Report, dict]:
    """The study's report and its template context."""
    s = run.study
    page = Report(s.title, "study", s.question, subtitle=f"run {run.run_id}")
    comps = []
    for comp in s.comparisons:
        cid = s.cohort_id(comp)
        outs = [o for o in run.outcomes if o.cohort_id == cid]
        att = run.attrition[run.attrition["cohort_id"] == cid].sort_values("step") if run.attrition is not None else pd.DataFrame()
        att = att.astype(object).where(att.notna(), None)
        main = next((o for o in outs if not o.negative_control and o.balance is not None), None)
        first = next((o for o in outs if not o.negative_control), None)
        inc = first.incidence if first is not None else None
        n1 = int(inc.loc[inc.exposed == 1, "subjects"].iloc[0]) if inc is not None else 0
        n0 = int(inc.loc[inc.exposed == 0, "subjects"].iloc[0]) if inc is not None else 0
        incidence = []
        for o in outs:
            for r in o.incidence.to_dict("records"):
                few = r["events"] < THRESHOLD  # rate x person-years would give the events back
                incidence.append({
                    "outcome": o.outcome_id + (" (negative control)" if o.negative_control else ""),
                    "group": comp.exposure.label if r["exposed"] == 1 else comp.comparator.label,
                    "subjects": r["subjects"], "events": r["events"], "person-years": r["person_years"],
                    "rate": None if few else r["rate_per_1000"], "95% CI": "" if few else _ci(r["ci_low"], r["ci_high"])})
        estimates = [{**e, "message": mask_text(e["message"])} for o in outs for e in o.estimates]

        def published(outcome: str, analysis: str, term: str, comp=comp):
            return s.published(comp, outcome, analysis, term)

        est_rows = [{"outcome": e["outcome_id"] + (" (NC)" if e["is_negative_control"] else ""),
                     "analysis": e["analysis"] + ("" if e["term"] == "exposed" else f" {e['term']}"),
                     "adjustment": ADJUSTMENT.get(e["analysis"], ""),
                     "calibrated 95% CI": _ci(e.get("calibrated_ci_low"), e.get("calibrated_ci_high")),
                     "calibrated p": e.get("calibrated_p"),
                     "events exposed": e["events_exposed"], "events comparator": e["events_comparator"],
                     "HR": e["hr"], "95% CI": _ci(e["ci_low"], e["ci_high"]) if e["hr"] is not None else "",
                     "published": _published(published(e["outcome_id"], e["analysis"], e["term"])),
                     "note": e["message"] or ""} for e in estimates]
        forest = pd.DataFrame(
            [{"label": f"{e['outcome_id']} · {e['analysis']}{'' if e['term'] == 'exposed' else ' ' + e['term']}",
              "hr": e["hr"], "ci_low": e["ci_low"], "ci_high": e["ci_high"]} for e in estimates
             if e["term"] != "trend" and e["analysis"] not in PER_STEP]  # ratios per step, not against the comparator
        )
        km = []
        for o in outs:
            if not o.km:
                continue
            sizes, events = ({g: int(o.incidence.loc[o.incidence.exposed == g, col].iloc[0]) for g in (1, 0)}
                             for col in ("subjects", "events"))
            fig = km_figure(o.km, {1: comp.exposure.label, 0: comp.comparator.label}, sizes,
                            f"Kaplan-Meier: {o.outcome_id}", events)
            km.append(page.chart(fig) if fig is not None else Markup(
                f"<p class=na>Kaplan-Meier: {escape(o.outcome_id)}: not drawn, fewer than {THRESHOLD} subjects "
                f"or events in each group (its steps would count them).</p>"))
        shown = attrition_shown(att) if len(att) else {}
        comps.append({
            "exposure": comp.exposure.label, "comparator": comp.comparator.label,
            "attrition": [{**a, "shown": [shown[(None, a["step"], arm)] for arm in ("n_exposed", "n_comparator")]}
                          for a in att.to_dict("records") if a["outcome_id"] is None],
            "attrition_hidden": HIDDEN in shown.values(),
            "attrition_outcome": _outcome_steps(att, shown),
            "table1": _table1(main, n1, n0, (comp.exposure.label, comp.comparator.label)) if main is not None else None,
            "table1_outcome": main.outcome_id if main is not None else "",
            "incidence": _incidence(incidence), "estimates": _estimates(est_rows, events_exposed_shown(estimates)),
            "forest": page.chart(forest_figure(forest, f"{comp.exposure.label} vs {comp.comparator.label}"))
            if len(forest) else "",
            "km": km,
            "dose_response": _dose_response(page, estimates, f"{comp.exposure.label} vs {comp.comparator.label}",
                                            published),
            "nc_summary": negative_control_summary(outs, s.primary_analysis),
            "calibration": calibration_text(run, cid, s.primary_analysis),
            "funnel": _funnel(page, run, cid, outs, s.primary_analysis),
            "diagnostics": [{**d, "outcome_id": o.outcome_id, "message": mask_text(d["message"])}
                            for o in outs for d in o.diagnostics],
        })
    return page, {"s": s, "design": _design(s), "comparisons": comps}


def _funnel(page: Report, run, cohort_id: str, outs, analysis: str) -> Markup:
    """The funnel plot of the negative controls of one comparison (no count drawn)."""
    rows = [(o.outcome_id, e["hr"], e["se_log_hr"]) for o in outs if o.negative_control
            for e in [o.estimate(analysis)] if e is not None and e["status"] == "ok" and e["se_log_hr"]]
    if not rows:
        return Markup("")
    controls = pd.DataFrame(rows, columns=["label", "hr", "se"])
    null = getattr(run, "nulls", {}).get((cohort_id, analysis, "exposed"))
    return page.chart(funnel_figure(controls, null, f"Negative controls ({analysis}): estimates against their SE"))


def study_html(run) -> str:
    page, context = study_report(run)
    return page.render("study.html", **context)


def write_report(run, report_dir: Path) -> Path:
    """Write `<report_dir>/<study>/index.html` and refresh `<report_dir>/index.html`."""
    page, context = study_report(run)
    out = page.write(Path(report_dir) / run.study.id / "index.html", template="study.html",
                     refresh_index=False, **context)
    write_index(Path(report_dir))  # the one index of every report (veille.report.index)
    return out
