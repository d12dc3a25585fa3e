{{ config(materialized='table', schema='pathways', tags=['pathways']) }}
{#-
  Lines of therapy per patient from the treatment segments, under the three TreatmentPatterns
  filters: 'all' (every segment), 'changes' (consecutive identical regimens merged, even across a
  gap or a dropped segment), 'first' (only the first occurrence of each regimen). At most
  var pathways_max_path_length (5) lines per patient and filter. new_user: the first segment
  starts at least var pathways_lines_washout_days (365) after the start of the data.
-#}
{%- set max_length = var('pathways_max_path_length', 5) %}
{%- set washout = var('pathways_lines_washout_days', 365) %}

with segments as (
    select * from {{ ref('int_pathways__therapy_segments') }}
),

data_span as (
    select * from {{ ref('int_data_span') }}
),

changes_breaks as (
    select
        *,
        case when lag(regimen) over (partition by patient_id order by segment_number) = regimen then 0 else 1 end
            as starts_line
    from segments
),

changes_groups as (
    select
        *,
        sum(starts_line) over (
            partition by patient_id order by segment_number rows between unbounded preceding and current row
        ) as line_group
    from changes_breaks
),

changes as (
    select
        patient_id,
        'changes'::{{ text_type() }} as path_filter,
        regimen,
        min(segment_start) as line_start,
        max(segment_end) as line_end
    from changes_groups
    group by patient_id, line_group, regimen
),

firsts as (
    select
        patient_id,
        'first'::{{ text_type() }} as path_filter,
        regimen,
        segment_start as line_start,
        segment_end as line_end
    from (
        select
            *,
            row_number() over (partition by patient_id, regimen order by segment_number) as occurrence
        from segments
    ) as numbered
    where occurrence = 1
),

alls as (
    select
        patient_id,
        'all'::{{ text_type() }} as path_filter,
        regimen,
        segment_start as line_start,
        segment_end as line_end
    from segments
),

lines as (
    select * from alls
    union all
    select * from changes
    union all
    select * from firsts
),

numbered_lines as (
    select
        *,
        row_number() over (partition by patient_id, path_filter order by line_start)::int as line_number,
        min(line_start) over (partition by patient_id) as first_start
    from lines
),

final as (
    select
        numbered_lines.patient_id,
        numbered_lines.path_filter,
        numbered_lines.line_number,
        numbered_lines.regimen,
        numbered_lines.line_start,
        numbered_lines.line_end,
        numbered_lines.first_start >= data_span.data_start + {{ washout }} as new_user
    from numbered_lines
    cross join data_span
    where numbered_lines.line_number <= {{ max_length }}
)

select * from final
