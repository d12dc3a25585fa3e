{{ config(materialized='table', schema='pathways', tags=['pathways']) }}
{#- Specialist visits per patient x year x specialty (SNDS specialty code, leading zeros cut). -#}
with events as (
    select * from {{ ref('int_pathways__care_events') }}
    where event_kind = 'specialist_visit'
),

final as (
    select
        patient_id,
        extract(year from event_date)::int as year,
        coalesce(code, 'unknown')::{{ text_type() }} as specialty,
        count(*)::int as visits
    from events
    group by patient_id, extract(year from event_date), coalesce(code, 'unknown')
)

select * from final
