{{ config(
    tags=['study'],
    materialized='incremental',
    incremental_strategy='subjects',
    on_schema_change='append_new_columns',
    pre_hook=['{{ refresh_lock() }}', '{{ subject_scope(with_classes=true) }}'],
    post_hook=['{{ refresh_mark() }}'],
    refresh_registry=true,
) }}
{#- Prior use (365 days before index, index day excluded) of each class listed in covariate_atc. -#}

with cohort as (
    select * from {{ ref('int_study_followup') }}
    where {{ in_study_scope() }}
),

classes as (
    select cohort_id, {{ unnest_array('covariate_atc') }} as atc_class
    from {{ ref('int_study_cohorts') }}
),

prior_use as (
    select distinct
        cohort.cohort_id,
        cohort.patient_id,
        classes.atc_class
    from cohort
    inner join classes
        on cohort.cohort_id = classes.cohort_id
    inner join {{ ref('int_drug_dispensings') }} as dispensings
        on cohort.patient_id = dispensings.patient_id
        and dispensings.atc7 like upper(classes.atc_class) || '%'
        and dispensings.dispensing_date >= cohort.index_date - 365
        and dispensings.dispensing_date < cohort.index_date
),

final as (
    select
        cohort.cohort_id,
        cohort.patient_id,
        cohort.index_date,
        classes.atc_class,
        case when prior_use.patient_id is null then 0 else 1 end as used
    from cohort
    inner join classes
        on cohort.cohort_id = classes.cohort_id
    left join prior_use
        on cohort.cohort_id = prior_use.cohort_id
        and cohort.patient_id = prior_use.patient_id
        and classes.atc_class = prior_use.atc_class
)

select * from final
