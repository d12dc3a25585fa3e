{{ config(tags=['study']) }}
{#- Subjects left after each criterion, in order (steps 8-10 per outcome). -#}

with candidates as (
    select * from {{ ref('int_study_candidates') }}
),

outcome_followup as (
    select * from {{ ref('int_study_outcome_followup') }}
),

cohorts as (
    select cohort_id from {{ ref('int_study_cohorts') }}
),

cohort_steps as (
    select
        cohorts.cohort_id,
        steps.step,
        steps.criterion
    from cohorts
    cross join (
        values
        (1, 'new users'),
        (2, 'washout'),
        (3, 'prior observation'),
        (4, 'age'),
        (5, 'sex'),
        (6, 'study period'),
        (7, 'min purchases')
    ) as steps (step, criterion)
),

cohort_counts as (
    select
        cohort_steps.cohort_id,
        null::text as outcome_id,
        cohort_steps.step,
        cohort_steps.criterion,
        count(candidates.patient_id) filter (where candidates.exposed = 1)::int as n_exposed,
        count(candidates.patient_id) filter (where candidates.exposed = 0)::int as n_comparator
    from cohort_steps
    left join candidates
        on cohort_steps.cohort_id = candidates.cohort_id
        and candidates.last_step_passed >= cohort_steps.step
    group by cohort_steps.cohort_id, cohort_steps.step, cohort_steps.criterion
),

outcome_steps as (
    select distinct
        cohort_outcomes.cohort_id,
        cohort_outcomes.outcome_id,
        steps.step,
        steps.criterion
    from {{ ref('stg_study__cohort_outcomes') }} as cohort_outcomes
    cross join (
        values
        (8, 'no outcome in lookback'),
        (9, 'no outcome between index and entry'),
        (10, 'entry on or before exit')
    ) as steps (step, criterion)
),

outcome_counts as (
    select
        outcome_steps.cohort_id,
        outcome_steps.outcome_id,
        outcome_steps.step,
        outcome_steps.criterion,
        count(outcome_followup.patient_id) filter (where outcome_followup.exposed = 1)::int as n_exposed,
        count(outcome_followup.patient_id) filter (where outcome_followup.exposed = 0)::int as n_comparator
    from outcome_steps
    left join outcome_followup
        on outcome_steps.cohort_id = outcome_followup.cohort_id
        and outcome_steps.outcome_id = outcome_followup.outcome_id
        and outcome_followup.passes_lookback
        and (outcome_steps.step < 9 or outcome_followup.passes_latency)
        and (outcome_steps.step < 10 or outcome_followup.passes_followup)
    group by outcome_steps.cohort_id, outcome_steps.outcome_id, outcome_steps.step, outcome_steps.criterion
),

final as (
    select * from cohort_counts
    union all
    select * from outcome_counts
)

select * from final
