{{ config(materialized='table', tags=['scan_ddi']) }}
{#-
  Joint person-time of each drug pair of scan_ddi_coexposure by stratum: calendar year x 5-year
  age band (macro split_by_calendar_year) x sex, as scan_stratum_person_time for the whole
  population. The days of [joint_start, joint_end) are cut at each 1 January; with the
  strata's outcome rates they give the counts expected in joint exposure.
-#}

with coexposure as (
    select * from {{ ref('scan_ddi_coexposure') }}
),

windows as (
    select * from {{ ref('scan_patient_windows') }}
),

intervals as (
    select
        coexposure.drug_level,
        coexposure.drug_a,
        coexposure.drug_b,
        windows.sex,
        windows.birth_year,
        coexposure.joint_start as interval_start,
        coexposure.joint_end as interval_end
    from coexposure
    inner join windows
        on coexposure.patient_id = windows.patient_id
),

split_by_year as (
    {{ split_by_calendar_year('intervals', ['drug_level', 'drug_a', 'drug_b', 'sex']) }}
),

final as (
    select
        drug_level,
        drug_a,
        drug_b,
        calendar_year,
        age_band,
        sex,
        cast(sum(days) as bigint) as joint_days
    from split_by_year
    group by drug_level, drug_a, drug_b, calendar_year, age_band, sex
)

select * from final
