{{ config(materialized='view') }}
{#-
  The counting process of every patient x drug (issue 26): from the first episode on, the
  maximal date intervals over which the patient is exposed or not (inside an episode of
  int_drug_episodes_built) and the cumulative duration and cumulative DDD categories stay
  the same, for Cox models with time-varying cumulative exposure outside the study registry.
  Cumulative duration: the days inside the patient x drug's episodes before the interval;
  cumulative DDDs: those of its dispensings up to the interval's first day included
  (fct_drug_dispensing_doses; null from the first dispensing without a DDD count: never
  guessed). Categories cut at the vars cumulative_duration_days and cumulative_ddd.

  One sorted pass per patient x drug, no range join: the episodes' starts and ends, the
  dispensings and the days where the cumulative duration reaches a threshold are the change
  points; the episode in force at each point is carried forward with running maxima (episodes
  of one patient x drug do not overlap, so their start, end and prior days all grow together).
-#}
{%- set duration_default = [365, 730] %}
{%- set ddd_default = [365, 730] %}
{%- set by_day = 'partition by patient_id, drug_code order by point_date' %}
{#- the default range frame: every point of one day gets the running values of the whole day -#}
{%- set running = by_day ~ ' range between unbounded preceding and current row' %}

with episodes as (
    select
        patient_id,
        drug_code,
        episode_start,
        episode_end,
        coalesce(
            sum({{ days_between('episode_end', 'episode_start') }}) over (
                partition by patient_id, drug_code order by episode_start
                rows between unbounded preceding and 1 preceding
            ),
            0
        ) as prior_days
    from {{ ref('int_drug_episodes_built') }}
),

dispensings as (
    {{ dispensings_with_ddd() }}
),

thresholds as (
    {%- for t in var('cumulative_duration_days', duration_default) %}
    select {{ t | int }} as threshold{% if not loop.last %} union all{% endif %}
    {%- endfor %}
),

-- every change point, with what it brings: an episode (its start, end and prior days), a DDD count
points as (
    select patient_id, drug_code, episode_start as point_date, episode_start, episode_end, prior_days,
        cast(0 as {{ dose_type() }}) as ddd, 0 as unknown_ddd
    from episodes
    union all
    select patient_id, drug_code, episode_end, null, null, null, cast(0 as {{ dose_type() }}), 0
    from episodes
    union all
    select patient_id, drug_code, dispensing_date, null, null, null, coalesce(ddd_dispensed, 0),
        case when ddd_dispensed is null then 1 else 0 end
    from dispensings
    union all
    -- the day the cumulative duration reaches a threshold strictly inside an episode
    select episodes.patient_id, episodes.drug_code,
        episodes.episode_start + cast(thresholds.threshold - episodes.prior_days as int), null, null, null,
        cast(0 as {{ dose_type() }}), 0
    from episodes
    inner join thresholds
        on episodes.prior_days < thresholds.threshold
        and episodes.prior_days + {{ days_between('episodes.episode_end', 'episodes.episode_start') }} > thresholds.threshold
),

-- running values per patient x drug (range frame: no group by day is needed before the sort)
carried as (
    select
        patient_id,
        drug_code,
        point_date,
        max(episode_start) over ({{ running }}) as episode_start,
        max(episode_end) over ({{ running }}) as episode_end,
        max(prior_days) over ({{ running }}) as prior_days,
        sum(ddd) over ({{ running }}) as cum_ddd,
        sum(unknown_ddd) over ({{ running }}) as unknown_ddd
    from points
),

states as (
    select
        patient_id,
        drug_code,
        point_date,
        case when point_date < episode_end then 1 else 0 end as exposed,
        prior_days + {{ days_between('least(point_date, episode_end)', 'episode_start') }} as cum_days,
        case when unknown_ddd = 0 then cum_ddd end as cum_ddd
    from carried
    -- a dispensing before the first episode (an episode that needs n purchases) starts nothing
    where episode_start is not null
),

categorized as (
    select
        *,
        {{ category_number('cum_days', 'cumulative_duration_days', duration_default) }} as duration_category,
        case when cum_ddd is not null
            then {{ category_number('cum_ddd', 'cumulative_ddd', ddd_default) }} end as ddd_category
    from states
),

changes as (
    select
        *,
        lag(exposed) over ({{ by_day }}) as previous_exposed,
        lag(duration_category) over ({{ by_day }}) as previous_duration_category,
        lag(coalesce(ddd_category, -1)) over ({{ by_day }}) as previous_ddd_category
    from categorized
),

intervals as (
    select
        *,
        lead(point_date) over ({{ by_day }}) as end_date
    from changes
    where previous_exposed is null
        or exposed <> previous_exposed
        or duration_category <> previous_duration_category
        or coalesce(ddd_category, -1) <> previous_ddd_category
)

select
    patient_id,
    drug_code,
    point_date as start_date,
    end_date,
    cast(exposed as int) as exposed,
    cast(cum_days as int) as cum_days,
    cast(duration_category as int) as duration_category,
    cast(cum_ddd as {{ dose_type() }}) as cum_ddd,
    cast(ddd_category as int) as ddd_category
from intervals
