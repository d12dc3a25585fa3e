"""Published vs recovered vs injected: a Markdown table for docs/studies.md."""

from __future__ import annotations

import pandas as pd

from veille.privacy import mask_count
from veille.study.config import Study
from veille.study.truth import injected_hr


def _ci(hr, low, high) -> str:
    if hr is None or pd.isna(hr):
        return "not estimable"
    return f"{hr:.2f} ({low:.2f}–{high:.2f})"


def comparison_rows(study: Study, estimates: pd.DataFrame, truth: dict) -> list[dict]:
    """One row per comparison x main outcome: published, crude, adjusted, IPTW, matched, truth."""
    rows = []
    for comp in study.comparisons:
        cid = study.cohort_id(comp)
        for o in study.outcomes:
            est = estimates[(estimates["cohort_id"] == cid) & (estimates["outcome_id"] == o.id) & (estimates["term"] == "exposed")]
            by = {r["analysis"]: r for r in est.to_dict("records")}

            def cell(a: str, by=by) -> str:
                r = by.get(a)
                return "—" if r is None else _ci(r["hr"], r["ci_low"], r["ci_high"])

            pub = study.published(comp, o.id, study.primary_analysis, "exposed")
            adj = by.get("cox_adjusted")
            rows.append({
                "study": study.id, "comparison": f"{comp.exposure.label} vs {comp.comparator.label}", "outcome": o.id,
                "published": _ci(pub.hr, pub.ci_low, pub.ci_high) if pub else "—",
                "events": f"{mask_count(adj['events_exposed'])} / {mask_count(adj['events_comparator'])}" if adj else "",
                "crude": cell("cox_crude"), "adjusted": cell("cox_adjusted"), "iptw": cell("iptw"), "matched": cell("matching"),
                "injected": injected_hr(truth, study.atc(comp.exposure.atc), study.atc(comp.comparator.atc) or None, o.id),
            })
    return rows


def negative_control_rows(study: Study, estimates: pd.DataFrame) -> tuple[int, int]:
    """(covering 1, estimable) among the negative controls of the primary analysis."""
    nc = estimates[(estimates["is_negative_control"]) & (estimates["analysis"] == study.primary_analysis) & (estimates["status"] == "ok")]
    return int(((nc["ci_low"] <= 1) & (nc["ci_high"] >= 1)).sum()), len(nc)


def markdown(rows: list[dict]) -> str:
    head = "| study | comparison | outcome | published | events (exp / comp) | crude | adjusted | IPTW | matched | injected |"
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        inj = "—" if r["injected"] is None else f"{r['injected']:.2f}"
        lines.append(f"| {r['study']} | {r['comparison']} | {r['outcome']} | {r['published']} | {r['events']} | "
                     f"{r['crude']} | {r['adjusted']} | {r['iptw']} | {r['matched']} | {inj} |")
    return "\n".join(lines)
