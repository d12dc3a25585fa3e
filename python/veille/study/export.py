"""Estimates as exported records (JSON/CSV): small-cell rule applied to every count."""

from __future__ import annotations

import math

import pandas as pd

from veille.privacy import MASK, mask_breakdown, mask_text, mask_value

COUNTS = ("n_exposed", "n_comparator", "events_exposed", "events_comparator")
CATEGORY_ANALYSES = ("cumulative_exposure", "cumulative_dose")


def events_exposed_shown(rows: list[dict]) -> list:
    """The exposed events of each estimate as they may leave: masked under 10, and across the
    categories of a cumulative analysis, which add up to the exposed events of the overall
    rows, with complementary suppression (veille.privacy.mask_breakdown): a lone masked
    category cannot be found by subtraction."""
    shown = [mask_value(r["events_exposed"]) for r in rows]
    groups: dict[tuple, list[int]] = {}
    for i, r in enumerate(rows):
        if r["analysis"] in CATEGORY_ANALYSES and _num(r["events_exposed"]) is not None:
            groups.setdefault((r["cohort_id"], r["outcome_id"], r["analysis"]), []).append(i)
    for idx in groups.values():
        for i, v in zip(idx, mask_breakdown([int(rows[i]["events_exposed"]) for i in idx]), strict=True):
            shown[i] = v if v == MASK or not v.isdigit() else int(v)
    return shown


def _num(v) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def export_records(table: pd.DataFrame) -> list[dict]:
    """One dict per estimate with study, analysis, outcome, exposure, comparator, hr, CI, counts."""
    out = []
    records = table.to_dict("records")
    for r, events_exposed in zip(records, events_exposed_shown(records), strict=True):
        out.append({
            "study": r["study"], "run_id": int(r["run_id"]), "cohort_id": r["cohort_id"],
            "analysis": r["analysis"], "term": r["term"], "outcome": r["outcome_id"],
            "exposure": r["exposure"], "comparator": r["comparator"],
            "negative_control": bool(r["is_negative_control"]),
            "hr": _num(r["hr"]), "ci_low": _num(r["ci_low"]), "ci_high": _num(r["ci_high"]),
            "p_value": _num(r["p_value"]),
            **{c: mask_value(r[c]) for c in COUNTS}, "events_exposed": events_exposed,
            "status": r["status"], "message": mask_text(r["message"]),
        })
    return out
