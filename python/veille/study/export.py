"""Estimates as exported records (JSON/CSV): small-cell rule applied to every count."""

from __future__ import annotations

import math

import pandas as pd

from veille.privacy import mask_text, mask_value

COUNTS = ("n_exposed", "n_comparator", "events_exposed", "events_comparator")


def _num(v) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def export_records(table: pd.DataFrame) -> list[dict]:
    """One dict per estimate with study, analysis, outcome, exposure, comparator, hr, CI, counts."""
    out = []
    for r in table.to_dict("records"):
        out.append({
            "study": r["study"], "run_id": int(r["run_id"]), "cohort_id": r["cohort_id"],
            "analysis": r["analysis"], "term": r["term"], "outcome": r["outcome_id"],
            "exposure": r["exposure"], "comparator": r["comparator"],
            "negative_control": bool(r["is_negative_control"]),
            "hr": _num(r["hr"]), "ci_low": _num(r["ci_low"]), "ci_high": _num(r["ci_high"]),
            "p_value": _num(r["p_value"]),
            **{c: mask_value(r[c]) for c in COUNTS},
            "status": r["status"], "message": mask_text(r["message"]),
        })
    return out
