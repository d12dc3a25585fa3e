{{ config(materialized='view') }}
{#- The dose of each drug exposure episode (issue 26): the DDDs of its dispensings
    (fct_drug_dispensing_doses) and the mean DDDs a day over the episode's days. Never guessed:
    ddd_per_day is null when one of the episode's dispensings has no DDD count. -#}

with episodes as (
    select * from {{ ref('int_drug_episodes_built') }}
),

dispensings as (
    select
        dispensings.patient_id,
        dispensings.drug_code,
        dispensings.dispensing_date,
        doses.ddd_dispensed
    from {{ ref('int_drug_dispensings') }} as dispensings
    left join {{ ref('fct_drug_dispensing_doses') }} as doses
        on dispensings.dispensing_id = doses.dispensing_id
),

episode_doses as (
    select
        episodes.patient_id,
        episodes.drug_code,
        episodes.episode_number,
        count(*) as n_dispensings,
        count(dispensings.ddd_dispensed) as n_with_ddd,
        sum(dispensings.ddd_dispensed) as ddd_dispensed
    from episodes
    inner join dispensings
        on episodes.patient_id = dispensings.patient_id
        and episodes.drug_code = dispensings.drug_code
        and dispensings.dispensing_date >= episodes.first_dispensing_date
        and dispensings.dispensing_date <= episodes.last_dispensing_date
    group by episodes.patient_id, episodes.drug_code, episodes.episode_number
)

select
    episodes.patient_id,
    episodes.drug_code,
    episodes.episode_number,
    episodes.episode_start,
    episodes.episode_end,
    cast(episode_doses.n_dispensings as int) as n_dispensings,
    cast(episode_doses.n_with_ddd as int) as n_dispensings_with_ddd,
    cast(case when episode_doses.n_with_ddd = episode_doses.n_dispensings
        then episode_doses.ddd_dispensed end as {{ dose_type() }}) as ddd_dispensed,
    cast(case when episode_doses.n_with_ddd = episode_doses.n_dispensings
        then {{ decimal_ratio('episode_doses.ddd_dispensed',
                              'nullif(' ~ days_between('episodes.episode_end', 'episodes.episode_start') ~ ', 0)', 6) }}
        end as {{ dose_type() }}) as ddd_per_day
from episodes
inner join episode_doses
    on episodes.patient_id = episode_doses.patient_id
    and episodes.drug_code = episode_doses.drug_code
    and episodes.episode_number = episode_doses.episode_number
