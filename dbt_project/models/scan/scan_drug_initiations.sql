{{ config(materialized='table', tags=['scan']) }}
{#-
  New users: the first dispensing of each drug (ATC7 molecule and ATC5 chemical subgroup) of a
  patient (the first day of his first episode of it, scan_drug_episodes_built), kept when it
  falls inside the patient's at-risk window (after the washout).
-#}

with first_by_level as (
    select patient_id, drug_level, drug_code, first_dispensing_date as initiation_date
    from {{ ref('scan_drug_episodes_built') }}
    where episode_number = 1
),

windows as (
    select * from {{ ref('scan_patient_windows') }}
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
