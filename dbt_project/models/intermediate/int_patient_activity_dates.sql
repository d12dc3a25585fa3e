{{ config(tags=['study']) }}
{#- Every distinct day with a claim of a patient (any source): the raw material of observation. -#}

with activity as (
    select patient_id, dispensing_date as activity_date from {{ ref('stg_claims__dispensings') }}
    union all
    select patient_id, service_date from {{ ref('stg_claims__service_lines') }}
    union all
    select patient_id, act_date from {{ ref('stg_claims__medical_acts') }}
    union all
    select patient_id, test_date from {{ ref('stg_claims__lab_tests') }}
    union all
    select patient_id, admission_date from {{ ref('stg_claims__hospital_stays') }}
    union all
    select patient_id, discharge_date from {{ ref('stg_claims__hospital_stays') }}
),

final as (
    select distinct patient_id, activity_date
    from activity
)

select * from final
