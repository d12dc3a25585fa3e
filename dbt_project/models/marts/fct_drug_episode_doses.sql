{{ config(materialized='view') }}
{#- The dose of each drug exposure episode (issue 26): the DDDs of its dispensings
    (fct_drug_dispensing_doses) and the mean DDDs a day over the episode's days. Never guessed:
    ddd_per_day is null when one of the episode's dispensings has no DDD count.

    One sorted pass per patient x drug, no range join: each episode's first dispensing day (with
    its number and last dispensing day) is sorted with the dispensings, before those of the same
    day, and running maxima carry the episode in force to each dispensing (episodes of one
    patient x drug do not overlap, so their numbers, first and last days grow together). A
    dispensing after the last dispensing day of the episode in force belongs to no episode and
    is not counted: a purchase of an episode that min_purchases drops, one in an episode that
    starts after death. The episodes are read twice (not materialized): PostgreSQL then sorts in
    parallel workers. -#}
{%- set carried = 'partition by patient_id, drug_code order by event_date, is_dispensing rows between unbounded preceding and current row' %}

with episodes as {{ not_materialized() }} (
    select * from {{ ref('int_drug_episodes_built') }}
),

dispensings as (
    {{ dispensings_with_ddd() }}
),

-- the episodes' first days and the dispensings, in one sequence per patient x drug
events as (
    select
        patient_id,
        drug_code,
        first_dispensing_date as event_date,
        0 as is_dispensing,
        episode_number,
        last_dispensing_date,
        cast(null as {{ dose_type() }}) as ddd_dispensed
    from episodes
    union all
    select
        patient_id,
        drug_code,
        dispensing_date,
        1,
        cast(null as int),
        cast(null as date),
        ddd_dispensed
    from dispensings
),

-- the episode in force at each dispensing, and that episode's last dispensing day
located as (
    select
        patient_id,
        drug_code,
        event_date,
        is_dispensing,
        ddd_dispensed,
        max(episode_number) over ({{ carried }}) as episode_number,
        max(last_dispensing_date) over ({{ carried }}) as episode_last_date
    from events
),

episode_doses as (
    select
        patient_id,
        drug_code,
        episode_number,
        count(*) as n_dispensings,
        count(ddd_dispensed) as n_with_ddd,
        sum(ddd_dispensed) as ddd_dispensed
    from located
    where is_dispensing = 1 and event_date <= episode_last_date
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
