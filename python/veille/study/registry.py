"""Write a study's comparisons into the registry the dbt cohort models read."""

from __future__ import annotations

import sqlalchemy as sa

from veille.study.config import Study

_DEFINITION = sa.text(
    """
    insert into study.cohort_definition (
        cohort_id, study_id, exposure_label, exposure_atc, comparator_kind, comparator_label,
        comparator_atc, comparator_exclude_atc, base_atc, washout_days, min_prior_observation_days, age_min, age_max,
        sex, study_start, study_end, min_purchases, purchase_window_days, strategy, grace_days,
        start_delay_days, max_followup_days, covariate_atc)
    values (
        :cohort_id, :study_id, :exposure_label, :exposure_atc, :comparator_kind, :comparator_label,
        :comparator_atc, :comparator_exclude_atc, :base_atc, :washout_days, :min_prior_observation_days, :age_min, :age_max,
        :sex, :study_start, :study_end, :min_purchases, :purchase_window_days, :strategy,
        :grace_days, :start_delay_days, :max_followup_days, :covariate_atc)
    """
)
_OUTCOME = sa.text(
    "insert into study.cohort_outcome (cohort_id, outcome_id, lookback_days, is_negative_control) "
    "values (:cohort_id, :outcome_id, :lookback_days, :is_negative_control)"
)


def definition_rows(study: Study) -> list[dict]:
    """One `study.cohort_definition` row per comparison, concept sets expanded."""
    rows = []
    for c in study.comparisons:
        rows.append(
            {
                "cohort_id": study.cohort_id(c),
                "study_id": study.id,
                "exposure_label": c.exposure.label,
                "exposure_atc": study.atc(c.exposure.atc),
                "comparator_kind": c.comparator.kind,
                "comparator_label": c.comparator.label,
                "comparator_atc": study.atc(c.comparator.atc) or None,
                "comparator_exclude_atc": study.atc(c.comparator.exclude_users_of) or None,
                "base_atc": study.atc(study.base_population) or None,
                "washout_days": study.washout,
                "min_prior_observation_days": study.prior_observation,
                "age_min": study.age.min,
                "age_max": study.age.max,
                "sex": study.sex,
                "study_start": study.study_period.start,
                "study_end": study.study_period.end,
                "min_purchases": study.min_purchases.count,
                "purchase_window_days": study.min_purchases.window,
                "strategy": study.exposure_strategy.kind,
                "grace_days": study.exposure_strategy.grace,
                "start_delay_days": study.start_delay,
                "max_followup_days": study.max_followup,
                "covariate_atc": study.atc(study.covariates.atc),
            }
        )
    return rows


def outcome_rows(study: Study) -> list[dict]:
    """One `study.cohort_outcome` row per comparison x outcome (negative controls flagged)."""
    rows = []
    for c in study.comparisons:
        for o, negative in [(o, False) for o in study.outcomes] + [
            (o, True) for o in study.negative_controls
        ]:
            rows.append(
                {
                    "cohort_id": study.cohort_id(c),
                    "outcome_id": o.id,
                    "lookback_days": o.lookback,
                    "is_negative_control": negative,
                }
            )
    return rows


_SCCS = sa.text(
    """
    insert into study.sccs_definition (sccs_id, study_id, exposure_label, exposure_atc, age_min, age_max,
        sex, study_start, study_end, grace_days, pre_exposure_days, age_group_bounds, calendar_adjustment)
    values (:sccs_id, :study_id, :exposure_label, :exposure_atc, :age_min, :age_max, :sex, :study_start,
        :study_end, :grace_days, :pre_exposure_days, :age_group_bounds, :calendar_adjustment)
    """
)
_SCCS_WINDOW = sa.text(
    "insert into study.sccs_window (sccs_id, window_id, label, start_day, end_day) "
    "values (:sccs_id, :window_id, :label, :start_day, :end_day)"
)
OBJECT_DRUG = -1  # study.sccs_drug: the object drug of an interaction series (1.. ConvSCCS drugs)
_SCCS_DRUG = sa.text(
    "insert into study.sccs_drug (sccs_id, drug_id, label, atc_prefixes) "
    "values (:sccs_id, :drug_id, :label, :atc_prefixes)"
)
_SCCS_OUTCOME = sa.text(
    "insert into study.sccs_outcome (sccs_id, outcome_id, is_negative_control) "
    "values (:sccs_id, :outcome_id, :is_negative_control)"
)


def write_sccs(conn: sa.Connection, study: Study) -> list[str]:
    """A case-series study's rows: its definition, risk windows, drugs (those of its ConvSCCS,
    its interaction's object drug) and outcomes; its id is the study's."""
    cs = study.sccs
    conn.execute(_SCCS, {
        "sccs_id": study.id, "study_id": study.id, "exposure_label": cs.exposure.label,
        "exposure_atc": study.atc(cs.exposure.atc), "age_min": study.age.min, "age_max": study.age.max,
        "sex": study.sex, "study_start": study.study_period.start, "study_end": study.study_period.end,
        "grace_days": cs.grace, "pre_exposure_days": cs.pre_exposure, "age_group_bounds": cs.age_groups,
        "calendar_adjustment": cs.calendar,
    })
    conn.execute(_SCCS_WINDOW, [
        {"sccs_id": study.id, "window_id": i, "label": w.name, "start_day": w.start, "end_day": w.end}
        for i, w in enumerate(cs.risk_windows, start=1)
    ])
    drugs = list(enumerate(cs.convolution.drugs, start=1)) if cs.convolution else []
    if cs.interaction:
        drugs.append((OBJECT_DRUG, cs.interaction.object))
    if drugs:
        conn.execute(_SCCS_DRUG, [
            {"sccs_id": study.id, "drug_id": i, "label": d.label, "atc_prefixes": study.atc(d.atc)}
            for i, d in drugs
        ])
    conn.execute(_SCCS_OUTCOME, [
        {"sccs_id": study.id, "outcome_id": o.id, "is_negative_control": negative}
        for o, negative in [(o, False) for o in study.outcomes] + [(o, True) for o in study.negative_controls]
    ])
    return [study.id]


_EXPOSURE_CATEGORY = sa.text(
    "insert into study.cohort_exposure_category (cohort_id, measure, category_number, lower_bound, unit, label) "
    "values (:cohort_id, :measure, :category_number, :lower_bound, :unit, :label)"
)


def exposure_category_rows(study: Study) -> list[dict]:
    """The `study.cohort_exposure_category` rows of each comparison: its cumulative-duration
    categories in days (the study's cumulative_exposure, 12 and 24 months by default), and its
    cumulative-dose categories when it has a cumulative_dose block; category 0 starts at 0."""
    duration = study.cumulative_exposure
    measures = [("duration", "days", duration.bounds_days(), duration.labels())]
    if (dose := study.cumulative_dose) is not None:
        measures.append(("dose", dose.unit, [0.0, *dose.thresholds], dose.labels()))
    return [{"cohort_id": study.cohort_id(c), "measure": measure, "category_number": k, "lower_bound": b,
             "unit": unit, "label": label}
            for c in study.comparisons for measure, unit, bounds, labels in measures
            for k, (b, label) in enumerate(zip(bounds, labels, strict=True))]


def write_registry(conn: sa.Connection, study: Study) -> list[str]:
    """Replace the study's registry rows (in the caller's transaction); return the cohort ids (a
    case series: its own id)."""
    conn.execute(sa.text("delete from study.cohort_definition where study_id = :s"), {"s": study.id})
    conn.execute(sa.text("delete from study.sccs_definition where study_id = :s"), {"s": study.id})
    if study.design == "sccs":
        return write_sccs(conn, study)
    defs = definition_rows(study)
    conn.execute(_DEFINITION, defs)
    conn.execute(_OUTCOME, outcome_rows(study))
    conn.execute(_EXPOSURE_CATEGORY, exposure_category_rows(study))
    return [d["cohort_id"] for d in defs]
