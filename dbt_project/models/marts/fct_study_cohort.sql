{{ config(tags=['study']) }}

with followup as (
    select * from {{ ref('int_study_followup') }}
),

final as (
    select
        cohort_id,
        patient_id,
        exposed,
        index_date,
        entry_date,
        age_at_index,
        sex,
        treatment_end_date,
        censor_date,
        censor_reason
    from followup
)

select * from final
