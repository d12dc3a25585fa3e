{{ config(tags=['study']) }}
{#- Coded events of a patient: stay diagnoses with their role, ALD registrations, CCAM acts. -#}

with stays as (
    select * from {{ ref('stg_claims__hospital_stays') }}
),

stay_diagnoses as (
    select
        stays.patient_id,
        stays.stay_id,
        stays.admission_date as event_date,
        'icd10' as vocabulary,
        diagnoses.icd10 as code,
        diagnoses.role,
        'stay' as source
    from {{ ref('stg_claims__stay_diagnoses') }} as diagnoses
    inner join stays
        on diagnoses.stay_id = stays.stay_id
),

ald_registrations as (
    select
        patient_id,
        null::bigint as stay_id,
        start_date as event_date,
        'icd10' as vocabulary,
        icd10 as code,
        'ALD' as role,
        'ald' as source
    from {{ ref('stg_claims__ald') }}
    where icd10 is not null
),

stay_acts as (
    select
        stays.patient_id,
        stays.stay_id,
        coalesce(acts.act_date, stays.admission_date) as event_date,
        'ccam' as vocabulary,
        acts.ccam_code as code,
        'act' as role,
        'stay' as source
    from {{ ref('stg_claims__stay_acts') }} as acts
    inner join stays
        on acts.stay_id = stays.stay_id
),

ambulatory_acts as (
    select
        patient_id,
        null::bigint as stay_id,
        act_date as event_date,
        'ccam' as vocabulary,
        ccam_code as code,
        'act' as role,
        'ambulatory' as source
    from {{ ref('stg_claims__medical_acts') }}
),

final as (
    select * from stay_diagnoses
    union all
    select * from ald_registrations
    union all
    select * from stay_acts
    union all
    select * from ambulatory_acts
)

select * from final
