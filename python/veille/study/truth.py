"""The hazard ratio a synthetic extract's truth.json injected for a study comparison.

The generator (`veille synth`) lists effects as exposure ATC prefix x outcome ICD-10 chapter,
a hazard ratio while on treatment, optionally relative to a comparator drug. For a comparison
of ``exposure`` vs ``comparator`` on an outcome algorithm, the injected HR is the exposure's
effect divided by the comparator's (active comparator), or the exposure's alone (non-users).
The effects are read with :func:`veille.evaluation.truth_effects`.
"""

from __future__ import annotations

from veille.evaluation import Effect, truth_effects

OUTCOME_ICD10 = {
    "bladder_cancer_broad": "C67",
    "bladder_cancer_naive": "C67",
    "bladder_cancer_narrow": "C67",
    "heart_failure": "I50",
    "myocardial_infarction": "I21",
    "hip_fracture": "S72",
}


def outcome_code(outcome_id: str) -> str | None:
    """ICD-10 prefix of an outcome algorithm or of a generic `dp:J18`-style outcome."""
    if ":" in outcome_id:
        return outcome_id.split(":", 1)[1]
    return OUTCOME_ICD10.get(outcome_id)


def _matches(code: str, prefix: str) -> bool:
    """Whether two codes name the same thing at different depths (one is a prefix of the other)."""
    return code.startswith(prefix) or prefix.startswith(code)


def _effect(effects: list[Effect], atc: list[str], icd10: str, other: list[str] | None) -> float | None:
    """HR of drugs ``atc`` on ``icd10``; 1.0 when no effect is listed; None when ambiguous."""
    hrs = set()
    for e in effects:
        if not _matches(icd10, e.outcome_icd10):
            continue
        if not any(_matches(code, e.exposure_atc) for code in atc):
            continue
        comp = e.comparator_atc
        if comp and not (other and any(_matches(c, comp) for c in other)):
            continue
        hrs.add(e.hazard_ratio)
    if len(hrs) > 1:
        return None
    return hrs.pop() if hrs else 1.0


def injected_hr(truth: dict, exposure_atc: list[str], comparator_atc: list[str] | None, outcome_id: str) -> float | None:
    """The true HR of exposure vs comparator on the outcome (``truth``: the content of a
    truth.json), or None when it is not defined."""
    icd10 = outcome_code(outcome_id)
    if icd10 is None:
        return None
    if any(e.get("dose") and _matches(str(e["outcome_icd10"]), icd10)
           and any(_matches(a, str(e["exposure_atc"])) for a in [*exposure_atc, *(comparator_atc or [])])
           for e in truth.get("effects") or []):
        return None  # a dose-dependent effect (either side): one ratio per category, none overall
    effects = truth_effects(truth, required=False)  # a scenario may inject nothing
    exp = _effect(effects, exposure_atc, icd10, comparator_atc)
    if exp is None:
        return None
    direct = [e for e in effects if e.comparator_atc and exp != 1.0]
    if comparator_atc is None or any(
        any(c.startswith(e.comparator_atc) for c in comparator_atc) for e in direct
    ):
        return exp
    comp = _effect(effects, comparator_atc, icd10, None)
    return None if comp is None else exp / comp
