{{ config(materialized='table', tags=['scan']) }}
{#-
  Exposure starts of the convolutional case series: the first day of every exposure episode
  (scan_drug_episodes, both drug levels) of a patient who is a case of some outcome, as a day
  relative to the patient's at_risk_start (negative for an episode begun before the window and
  still running in it), and its first unexposed day (end_day, the episode clipped to the
  window).
-#}

with cases as (
    select distinct patient_id from {{ ref('scan_conv_cases') }}
),

episodes as (
    select * from {{ ref('scan_drug_episodes') }}
),

windows as (
    select * from {{ ref('scan_patient_windows') }}
),

final as (
    select
        episodes.patient_id,
        episodes.drug_level,
        episodes.drug_code,
        {{ days_between('episodes.episode_start', 'windows.at_risk_start') }} as start_day,
        {{ days_between('episodes.exposed_end', 'windows.at_risk_start') }} as end_day
    from episodes
    inner join cases
        on episodes.patient_id = cases.patient_id
    inner join windows
        on episodes.patient_id = windows.patient_id
)

select * from final
