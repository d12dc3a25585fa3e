-- Counting-process intervals tile [0, time_days] of each subject and carry its event once, last.
with summary as (
    select
        cohort_id,
        outcome_id,
        patient_id,
        min(start_day) as first_start,
        max(stop_day) as last_stop,
        sum(stop_day - start_day) as total_days,
        sum(event) as n_events
    from {{ ref('fct_study_counting_process') }}
    group by cohort_id, outcome_id, patient_id
)

select survival.cohort_id, survival.outcome_id, survival.patient_id
from {{ ref('fct_study_survival') }} as survival
left join summary
    on survival.cohort_id = summary.cohort_id
    and survival.outcome_id = summary.outcome_id
    and survival.patient_id = summary.patient_id
where summary.patient_id is null
    or summary.first_start <> 0
    or summary.last_stop <> survival.time_days
    or summary.total_days <> survival.time_days
    or summary.n_events <> survival.event
