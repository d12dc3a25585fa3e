{{ config(
    tags=['study'],
    materialized='incremental',
    incremental_strategy='subjects',
    on_schema_change='append_new_columns',
    pre_hook=['{{ refresh_lock() }}', '{{ subject_scope() }}'],
    post_hook=['{{ refresh_mark() }}'],
    refresh_registry=true,
) }}
{#-
  Baseline covariates of each cohort subject at index: ALD registrations open at index (all, and
  diabetes: ALD 8 or ICD-10 E10-E14), stays admitted and distinct ATC7 dispensed in the 365 days
  before index (index day excluded), calendar year of index.
-#}

with subjects as (
    select cohort_id, patient_id, index_date from {{ ref('int_study_followup') }}
    where {{ in_study_scope() }}
),

ald_at_index as (
    select
        subjects.cohort_id,
        subjects.patient_id,
        count(*)::int as ald_count,
        max(case when ald.ald_number = 8 or {{ regex_match('ald.icd10', "'^E1[0-4]'") }} then 1 else 0 end) as ald_diabetes
    from subjects
    inner join {{ ref('stg_claims__ald') }} as ald
        on subjects.patient_id = ald.patient_id
        and ald.start_date <= subjects.index_date
        and (ald.end_date is null or ald.end_date >= subjects.index_date)
    group by subjects.cohort_id, subjects.patient_id
),

stays_prior_year as (
    select
        subjects.cohort_id,
        subjects.patient_id,
        count(*)::int as n_stays
    from subjects
    inner join {{ ref('stg_claims__hospital_stays') }} as stays
        on subjects.patient_id = stays.patient_id
        and stays.admission_date >= subjects.index_date - 365
        and stays.admission_date < subjects.index_date
    group by subjects.cohort_id, subjects.patient_id
),

drugs_prior_year as (
    select
        subjects.cohort_id,
        subjects.patient_id,
        count(distinct dispensings.atc7)::int as n_drugs
    from subjects
    inner join {{ ref('int_drug_dispensings') }} as dispensings
        on subjects.patient_id = dispensings.patient_id
        and dispensings.dispensing_date >= subjects.index_date - 365
        and dispensings.dispensing_date < subjects.index_date
    group by subjects.cohort_id, subjects.patient_id
),

final as (
    select
        subjects.cohort_id,
        subjects.patient_id,
        subjects.index_date,
        coalesce(ald_at_index.ald_count, 0) as ald_count,
        coalesce(ald_at_index.ald_diabetes, 0) as ald_diabetes,
        coalesce(stays_prior_year.n_stays, 0) as n_stays_prior_year,
        coalesce(drugs_prior_year.n_drugs, 0) as n_drugs_prior_year,
        extract(year from subjects.index_date)::int as index_year
    from subjects
    left join ald_at_index
        on subjects.cohort_id = ald_at_index.cohort_id and subjects.patient_id = ald_at_index.patient_id
    left join stays_prior_year
        on subjects.cohort_id = stays_prior_year.cohort_id and subjects.patient_id = stays_prior_year.patient_id
    left join drugs_prior_year
        on subjects.cohort_id = drugs_prior_year.cohort_id and subjects.patient_id = drugs_prior_year.patient_id
)

select * from final
