{{ config(materialized='table', tags=['scan']) }}
{#-
  Exposure episodes of each drug at both screen levels (ATC7 and ATC5), built by the shared
  build_episodes macro with the project's episode vars (grace_days, stockpiling,
  end_delay_days), clipped to the patient's at-risk window: exposed days are
  [exposed_start, exposed_end); the episode's own first day is kept (episode_start) so that the
  long-term part of an episode (after var scan_latency_days) can be told apart.
-#}

with dispensings as (
    select patient_id, 'atc7' as drug_level, atc7 as drug_code, dispensing_id, dispensing_date, days_covered
    from {{ ref('int_drug_dispensings') }}
    union all
    select patient_id, 'atc5', left(atc7, 5), dispensing_id, dispensing_date, days_covered
    from {{ ref('int_drug_dispensings') }}
),

{{ build_episodes(
    'dispensings',
    ['patient_id', 'drug_level', 'drug_code'],
    grace_days=var_int('grace_days', 30),
    end_delay_days=var_int('end_delay_days', 0),
    stockpiling=(var_bool('stockpiling', true) | trim == 'true'),
) }},

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
