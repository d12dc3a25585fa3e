{{ config(materialized='table', tags=['scan']) }}
{#-
  Exposed person-days of each drug (ATC7 and ATC5) by stratum (calendar year x 5-year age band
  x sex, as in scan_stratum_person_time), from the clipped exposure episodes, for two exposure
  windows: 'any' (all exposed days) and 'latent' (the days of an episode at least
  var scan_latency_days, default 365, after its first day: effects that need time, e.g. cancers).
-#}
{%- set latency = var_int('scan_latency_days', 365, 1) | int %}

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
        exposure_windows.exposure_window,
        windows.sex,
        windows.birth_year,
        case exposure_windows.exposure_window
            when 'latent' then greatest(episodes.exposed_start, episodes.episode_start + {{ latency }})
            else episodes.exposed_start
        end as interval_start,
        episodes.exposed_end as interval_end
    from episodes
    inner join windows
        on episodes.patient_id = windows.patient_id
    cross join (values ('any'), ('latent')) as exposure_windows (exposure_window)
),

split_by_year as (
    {{ split_by_calendar_year('intervals', ['drug_level', 'drug_code', 'exposure_window', 'sex']) }}
),

final as (
    select
        drug_level,
        drug_code,
        exposure_window,
        calendar_year,
        age_band,
        sex,
        sum(days)::bigint as exposed_days
    from split_by_year
    group by drug_level, drug_code, exposure_window, calendar_year, age_band, sex
)

select * from final
