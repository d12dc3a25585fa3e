{{ config(materialized='table', schema='pathways', tags=['pathways']) }}
{#- One row per patient of fct_pathways_monthly_states: the state letters in month order. -#}
with states as (
    select * from {{ ref('fct_pathways_monthly_states') }}
),

final as (
    select
        patient_id,
        index_date,
        count(*) filter (where observed)::int as months_observed,
        {{ ordered_listagg('state', "''", 'month_index') }} as states
    from states
    group by patient_id, index_date
)

select * from final
