{{ config(materialized='table', schema='pathways', tags=['pathways']) }}
{#-
  Treatment segments of the line classes (role 'line' in int_pathways__drug_classes), with the
  TreatmentPatterns conventions:
  1. era collapse: episodes of one class less than var pathways_era_gap_days (30) apart merge;
  2. the patient's time is cut at every era start and end; each slice is labelled with the
     classes active in it, joined by '+' in alphabetical order (a combination);
  3. contiguous slices with the same label merge into segments;
  4. a combination shorter than var pathways_combination_window_days (30) is dropped, and so is a
     single-class segment shorter than var pathways_min_post_combination_days (30) that directly
     follows a combination.
  Output: patient_id, segment_number, regimen, segment_start, segment_end (exclusive).
-#}
{%- set era_gap = var('pathways_era_gap_days', 30) %}
{%- set combination_window = var('pathways_combination_window_days', 30) %}
{%- set min_post_combination = var('pathways_min_post_combination_days', 30) %}

with classes as (
    select * from {{ ref('int_pathways__drug_classes') }}
    where class_role = 'line'
),

episodes as (
    select * from {{ ref('fct_drug_episodes') }}
),

class_episodes as (
    select distinct
        episodes.patient_id,
        classes.drug_class,
        episodes.episode_start,
        episodes.episode_end
    from episodes
    inner join classes
        on episodes.drug_code like classes.atc_prefix || '%'
),

class_episodes_ordered as (
    select
        *,
        max(episode_end) over (
            partition by patient_id, drug_class
            order by episode_start, episode_end
            rows between unbounded preceding and 1 preceding
        ) as previous_end
    from class_episodes
),

class_eras_numbered as (
    select
        *,
        sum(case when previous_end is null or episode_start > previous_end + {{ era_gap }} then 1 else 0 end)
            over (
                partition by patient_id, drug_class
                order by episode_start, episode_end
                rows between unbounded preceding and current row
            ) as era_number
    from class_episodes_ordered
),

eras as (
    select
        patient_id,
        drug_class,
        min(episode_start) as era_start,
        max(episode_end) as era_end
    from class_eras_numbered
    group by patient_id, drug_class, era_number
),

boundaries as (
    select patient_id, era_start as boundary from eras
    union
    select patient_id, era_end from eras
),

slices as (
    select
        patient_id,
        boundary as slice_start,
        lead(boundary) over (partition by patient_id order by boundary) as slice_end
    from boundaries
),

labelled_slices as (
    select
        slices.patient_id,
        slices.slice_start,
        slices.slice_end,
        {{ ordered_listagg('eras.drug_class', "'+'", 'eras.drug_class') }} as regimen
    from slices
    inner join eras
        on slices.patient_id = eras.patient_id
        and eras.era_start <= slices.slice_start
        and eras.era_end >= slices.slice_end
    where slices.slice_end is not null
    group by slices.patient_id, slices.slice_start, slices.slice_end
),

slice_breaks as (
    select
        *,
        case
            when lag(regimen) over slice_order = regimen
                and lag(slice_end) over slice_order = slice_start then 0
            else 1
        end as starts_segment
    from labelled_slices
    window slice_order as (partition by patient_id order by slice_start)
),

slice_groups as (
    select
        *,
        sum(starts_segment) over (
            partition by patient_id order by slice_start rows between unbounded preceding and current row
        ) as group_number
    from slice_breaks
),

raw_segments as (
    select
        patient_id,
        regimen,
        min(slice_start) as segment_start,
        max(slice_end) as segment_end
    from slice_groups
    group by patient_id, group_number, regimen
),

raw_segments_context as (
    select
        *,
        lag(regimen) over (partition by patient_id order by segment_start) as previous_regimen,
        lag(segment_end) over (partition by patient_id order by segment_start) as previous_end
    from raw_segments
),

kept_segments as (
    select patient_id, regimen, segment_start, segment_end
    from raw_segments_context
    where not (
        regimen like '%+%' and {{ days_between('segment_end', 'segment_start') }} < {{ combination_window }}
    )
    and not (
        regimen not like '%+%'
        and previous_regimen like '%+%'
        and previous_end = segment_start
        and {{ days_between('segment_end', 'segment_start') }} < {{ min_post_combination }}
    )
),

final as (
    select
        patient_id,
        row_number() over (partition by patient_id order by segment_start)::int as segment_number,
        regimen::{{ text_type() }} as regimen,
        segment_start,
        segment_end
    from kept_segments
)

select * from final
