{{ config(materialized='table', tags=['scan']) }}
{#-
  Person-days at risk of the whole population by stratum: calendar year x 5-year age band
  (macro split_by_calendar_year) x sex, from the observation periods clipped to
  each patient's at-risk window. The denominators of the expected counts. Person-days of
  [interval_start, interval_end) are cut at each 1 January.
-#}

with periods as (
    select * from {{ ref('fct_observation_periods') }}
),

windows as (
    select * from {{ ref('scan_patient_windows') }}
),

intervals as (
    select
        windows.patient_id,
        windows.sex,
        windows.birth_year,
        greatest(periods.observation_start, windows.at_risk_start) as interval_start,
        periods.observation_end + 1 as interval_end
    from periods
    inner join windows
        on periods.patient_id = windows.patient_id
    where periods.observation_end >= windows.at_risk_start
),

split_by_year as (
    {{ split_by_calendar_year('intervals', ['sex']) }}
),

final as (
    select
        calendar_year,
        age_band,
        sex,
        sum(days)::bigint as person_days
    from split_by_year
    group by calendar_year, age_band, sex
)

select * from final
