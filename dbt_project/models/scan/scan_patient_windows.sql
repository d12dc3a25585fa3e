{{ config(materialized='table', tags=['scan']) }}
{#-
  The at-risk window of each patient for the screen: from the first observation day plus
  var scan_washout_days (default 365; first dispensings and first diagnoses before it are
  prevalent, not new) to the last observation day.
-#}
{%- set washout = var_int('scan_washout_days', 365) %}

with periods as (
    select * from {{ ref('fct_observation_periods') }}
),

patients as (
    select * from {{ ref('stg_claims__patients') }}
),

patient_span as (
    select
        patient_id,
        min(observation_start) as observation_start,
        max(observation_end) as observation_end
    from periods
    group by patient_id
),

final as (
    select
        patient_span.patient_id,
        coalesce(patients.sex, 0) as sex,
        patients.birth_year,
        patient_span.observation_start,
        patient_span.observation_start + {{ washout }} as at_risk_start,
        patient_span.observation_end as at_risk_end
    from patient_span
    inner join patients
        on patient_span.patient_id = patients.patient_id
    where patient_span.observation_start + {{ washout }} <= patient_span.observation_end
)

select * from final
