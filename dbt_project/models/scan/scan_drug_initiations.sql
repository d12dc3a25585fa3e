{{ config(materialized='table', tags=['scan']) }}
{#-
  New users: the first dispensing of each drug (ATC7 molecule and ATC5 chemical subgroup) of a
  patient, kept when it falls inside the patient's at-risk window (after the washout).
-#}

with dispensings as (
    select patient_id, atc7, dispensing_date from {{ ref('int_drug_dispensings') }}
),

windows as (
    select * from {{ ref('scan_patient_windows') }}
),

first_by_level as (
    select patient_id, 'atc7' as drug_level, atc7 as drug_code, min(dispensing_date) as initiation_date
    from dispensings
    group by patient_id, atc7
    union all
    select patient_id, 'atc5', left(atc7, 5), min(dispensing_date)
    from dispensings
    group by patient_id, left(atc7, 5)
),

final as (
    select
        first_by_level.patient_id,
        first_by_level.drug_level,
        first_by_level.drug_code,
        first_by_level.initiation_date
    from first_by_level
    inner join windows
        on first_by_level.patient_id = windows.patient_id
    where first_by_level.initiation_date between windows.at_risk_start and windows.at_risk_end
)

select * from final
