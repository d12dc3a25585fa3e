{{ config(materialized='table', tags=['scan']) }}
{#-
  New outcomes: the first hospital stay with a main (DP) or related (DR) diagnosis in each
  ICD-10 3-character code and in each ICD-10 block, dated at admission, kept when it falls
  inside the patient's at-risk window (after the washout).
-#}

with diagnoses as (
    select stay_id, left(icd10, 3) as icd3
    from {{ ref('stg_claims__stay_diagnoses') }}
    where role in ('DP', 'DR') and {{ regex_match('icd10', "'^[A-Z][0-9]{2}'") }}
),

stays as (
    select stay_id, patient_id, admission_date from {{ ref('stg_claims__hospital_stays') }}
),

blocks as (
    select * from {{ ref('scan_icd10_blocks') }}
),

windows as (
    select * from {{ ref('scan_patient_windows') }}
),

first_by_code as (
    select stays.patient_id, diagnoses.icd3, min(stays.admission_date) as onset_date
    from diagnoses
    inner join stays
        on diagnoses.stay_id = stays.stay_id
    group by stays.patient_id, diagnoses.icd3
),

first_by_level as (
    select patient_id, 'icd3' as outcome_level, icd3 as outcome_code, onset_date
    from first_by_code
    union all
    select first_by_code.patient_id, 'block', blocks.block_code, min(first_by_code.onset_date)
    from first_by_code
    inner join blocks
        on first_by_code.icd3 between blocks.first_code and blocks.last_code
    group by first_by_code.patient_id, blocks.block_code
),

final as (
    select
        first_by_level.patient_id,
        first_by_level.outcome_level,
        first_by_level.outcome_code,
        first_by_level.onset_date
    from first_by_level
    inner join windows
        on first_by_level.patient_id = windows.patient_id
    where first_by_level.onset_date between windows.at_risk_start and windows.at_risk_end
)

select * from final
