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

-- one sorted pass per patient x drug instead of a range join (quadratic for long-term users):
-- each episode's first dispensing day opens it (before that day's dispensings), and the running
-- maxima carry the episode in force and its last dispensing day (the episodes of one patient x
-- drug follow each other, so both grow together); a dispensing after that day, or before the
-- first episode, belongs to none (a purchase of a dropped episode)
points as (
    select patient_id, drug_code, first_dispensing_date as point_date, 0 as is_dispensing, episode_number,
        last_dispensing_date, cast(null as {{ dose_type() }}) as ddd_dispensed
    from episodes
    union all
    select patient_id, drug_code, dispensing_date, 1, null, null, ddd_dispensed
    from dispensings
),

carried as (
    select
        patient_id,
        drug_code,
        point_date,
        is_dispensing,
        ddd_dispensed,
        max(episode_number) over (
            partition by patient_id, drug_code order by point_date, is_dispensing
            rows between unbounded preceding and current row
        ) as episode_number,
        max(last_dispensing_date) over (
            partition by patient_id, drug_code order by point_date, is_dispensing
            rows between unbounded preceding and current row
        ) as last_dispensing_date
    from points
),

episode_doses as (
    select
        patient_id,
        drug_code,
        episode_number,
        count(*) as n_dispensings,
        count(ddd_dispensed) as n_with_ddd,
        sum(ddd_dispensed) as ddd_dispensed
    from carried
    where is_dispensing = 1
        and point_date <= last_dispensing_date
    group by patient_id, drug_code, episode_number
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
