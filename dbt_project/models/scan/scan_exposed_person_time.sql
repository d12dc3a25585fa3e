{{ config(materialized='table', tags=['scan'], post_hook='analyze {{ this }}') }}
{#-
  Exposed person-days of each drug (ATC7 and ATC5) by stratum (calendar year x 5-year age band
  x sex, as in scan_stratum_person_time), from the clipped exposure episodes.
-#}

with episodes as (
    select * from {{ ref('scan_drug_episodes') }}
),

windows as (
    select * from {{ ref('scan_patient_windows') }}
),

intervals as (
    select
        episodes.drug_level,
        episodes.drug_code,
        windows.sex,
        windows.birth_year,
        episodes.exposed_start as interval_start,
        episodes.exposed_end as interval_end
    from episodes
    inner join windows
        on episodes.patient_id = windows.patient_id
),

split_by_year as (
    {{ split_by_calendar_year('intervals', ['drug_level', 'drug_code', 'sex']) }}
),

final as (
    select
        drug_level,
        drug_code,
        calendar_year,
        age_band,
        sex,
        sum(days)::bigint as exposed_days
    from split_by_year
    group by drug_level, drug_code, calendar_year, age_band, sex
)

select * from final
