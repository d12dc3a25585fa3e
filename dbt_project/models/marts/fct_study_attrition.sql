{{ config(tags=['study']) }}
{#- Subjects left after each criterion, in order (steps 8-10 per outcome). -#}

with new_users as (
    select * from {{ ref('int_study_new_users') }}
),

outcome_followup as (
    select * from {{ ref('int_study_outcome_followup') }}
),

cohorts as (
    select cohort_id from {{ ref('int_study_cohorts') }}
),

-- one pass over the subjects, then a few rows a cohort: a subject counts at every step up to
-- the last it passed
by_last_step as (
    select
        cohort_id,
        last_step_passed,
        count(*) filter (where exposed = 1) as n_exposed,
        count(*) filter (where exposed = 0) as n_comparator
    from new_users
    group by cohort_id, last_step_passed
),

by_outcome_flags as (
    select
        cohort_id,
        outcome_id,
        passes_lookback,
        passes_latency,
        passes_followup,
        count(*) filter (where exposed = 1) as n_exposed,
        count(*) filter (where exposed = 0) as n_comparator
    from outcome_followup
    group by cohort_id, outcome_id, passes_lookback, passes_latency, passes_followup
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
        cast(null as {{ text_type() }}) as outcome_id,
        cohort_steps.step,
        cohort_steps.criterion,
        coalesce(sum(by_last_step.n_exposed), 0)::int as n_exposed,
        coalesce(sum(by_last_step.n_comparator), 0)::int as n_comparator
    from cohort_steps
    left join by_last_step
        on cohort_steps.cohort_id = by_last_step.cohort_id
        and by_last_step.last_step_passed >= cohort_steps.step
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
        coalesce(sum(flags.n_exposed), 0)::int as n_exposed,
        coalesce(sum(flags.n_comparator), 0)::int as n_comparator
    from outcome_steps
    left join by_outcome_flags as flags
        on outcome_steps.cohort_id = flags.cohort_id
        and outcome_steps.outcome_id = flags.outcome_id
        and flags.passes_lookback
        and (outcome_steps.step < 9 or flags.passes_latency)
        and (outcome_steps.step < 10 or flags.passes_followup)
    group by outcome_steps.cohort_id, outcome_steps.outcome_id, outcome_steps.step, outcome_steps.criterion
),

final as (
    select * from cohort_counts
    union all
    select * from outcome_counts
)

select * from final
