{{ config(tags=['study']) }}
{#-
  Each cohort subject x outcome of the cohort: prior outcome in the lookback (index - lookback_days
  to index, both included), first outcome event after index, and the resulting exit.
-#}

with followup as (
    select * from {{ ref('int_study_followup') }}
),

cohort_outcomes as (
    select * from {{ ref('stg_study__cohort_outcomes') }}
),

outcome_events as (
    select * from {{ ref('int_outcome_events') }}
),

subject_outcomes as (
    select
        followup.*,
        cohort_outcomes.outcome_id,
        cohort_outcomes.lookback_days
    from followup
    inner join cohort_outcomes
        on followup.cohort_id = cohort_outcomes.cohort_id
),

event_summary as (
    select
        subject_outcomes.cohort_id,
        subject_outcomes.outcome_id,
        subject_outcomes.patient_id,
        bool_or(outcome_events.event_date <= subject_outcomes.index_date) as has_prior_event,
        min(outcome_events.event_date) filter (where outcome_events.event_date > subject_outcomes.index_date)
            as first_event_date
    from subject_outcomes
    inner join outcome_events
        on subject_outcomes.outcome_id = outcome_events.outcome_id
        and subject_outcomes.patient_id = outcome_events.patient_id
        and outcome_events.event_date >= subject_outcomes.index_date - subject_outcomes.lookback_days
    group by subject_outcomes.cohort_id, subject_outcomes.outcome_id, subject_outcomes.patient_id
),

final as (
    select
        subject_outcomes.cohort_id,
        subject_outcomes.outcome_id,
        subject_outcomes.patient_id,
        subject_outcomes.exposed,
        subject_outcomes.index_date,
        subject_outcomes.entry_date,
        case
            when event_summary.first_event_date <= subject_outcomes.censor_date then event_summary.first_event_date
            else subject_outcomes.censor_date
        end as exit_date,
        case when event_summary.first_event_date <= subject_outcomes.censor_date then 1 else 0 end as event,
        case
            when event_summary.first_event_date <= subject_outcomes.censor_date then event_summary.first_event_date
        end as event_date,
        case
            when event_summary.first_event_date <= subject_outcomes.censor_date then 'event'
            else subject_outcomes.censor_reason
        end as exit_reason,
        not coalesce(event_summary.has_prior_event, false) as passes_lookback,
        coalesce(event_summary.first_event_date >= subject_outcomes.entry_date, true) as passes_latency
    from subject_outcomes
    left join event_summary
        on subject_outcomes.cohort_id = event_summary.cohort_id
        and subject_outcomes.outcome_id = event_summary.outcome_id
        and subject_outcomes.patient_id = event_summary.patient_id
)

select
    *,
    entry_date <= exit_date as passes_followup
from final
