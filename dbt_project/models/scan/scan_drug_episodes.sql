{{ config(materialized='table', tags=['scan']) }}
{#-
  Exposure episodes of each drug at both screen levels (scan_drug_episodes_built), clipped to
  the patient's at-risk window: exposed days are [exposed_start, exposed_end); the episode's own
  first day is kept (episode_start) so that the long-term part of an episode (after var
  scan_latency_days) can be told apart.
-#}

with episodes as (
    select * from {{ ref('scan_drug_episodes_built') }}
),

windows as (
    select * from {{ ref('scan_patient_windows') }}
),

clipped as (
    select
        episodes.patient_id,
        episodes.drug_level,
        episodes.drug_code,
        episodes.episode_number,
        episodes.episode_start,
        greatest(episodes.episode_start, windows.at_risk_start) as exposed_start,
        least(episodes.episode_end, windows.at_risk_end + 1) as exposed_end
    from episodes
    inner join windows
        on episodes.patient_id = windows.patient_id
),

final as (
    select * from clipped
    where exposed_start < exposed_end
)

select * from final
