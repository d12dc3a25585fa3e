{{ config(tags=['study']) }}
{#- Registry rows with the study period resolved (null = the span of the loaded data). -#}

with definitions as (
    select * from {{ ref('stg_study__cohort_definitions') }}
),

data_span as (
    select * from {{ ref('int_data_span') }}
),

final as (
    select
        definitions.*,
        coalesce(definitions.study_start, data_span.data_start) as period_start,
        coalesce(definitions.study_end, data_span.data_end) as period_end
    from definitions
    cross join data_span
)

select * from final
