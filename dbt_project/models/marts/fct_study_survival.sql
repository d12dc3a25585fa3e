{{ config(tags=['study']) }}

with outcome_followup as (
    select * from {{ ref('int_study_outcome_followup') }}
    where passes_lookback and passes_latency and passes_followup
),

covariates as (
    select * from {{ ref('int_study_baseline_covariates') }}
),

cohort as (
    select * from {{ ref('int_study_followup') }}
),

final as (
    select
        outcome_followup.cohort_id,
        outcome_followup.outcome_id,
        outcome_followup.patient_id,
        outcome_followup.exposed,
        outcome_followup.index_date,
        outcome_followup.entry_date,
        outcome_followup.exit_date,
        outcome_followup.event,
        outcome_followup.event_date,
        ({{ days_between('outcome_followup.exit_date', 'outcome_followup.entry_date') }})::int as time_days,
        outcome_followup.exit_reason,
        cohort.age_at_index,
        cohort.sex,
        covariates.ald_count,
        covariates.ald_diabetes,
        covariates.n_stays_prior_year,
        covariates.n_drugs_prior_year,
        covariates.index_year
    from outcome_followup
    inner join cohort
        on outcome_followup.cohort_id = cohort.cohort_id
        and outcome_followup.patient_id = cohort.patient_id
    inner join covariates
        on outcome_followup.cohort_id = covariates.cohort_id
        and outcome_followup.patient_id = covariates.patient_id
)

select * from final
