{{ config(tags=['study'], refresh_vars=['data_end_date']) }}
{#- First and last claim day of the extract (var data_end_date overrides the end), read from the
    spans of claims (their first and last days are the extreme claim days). -#}

with spans as (
    select * from {{ ref('int_observation_spans') }}
),

final as (
    select
        min(observation_start) as data_start,
        {%- if var('data_end_date', none) %}
        '{{ var("data_end_date") }}'::date as data_end
        {%- else %}
        max(last_claim_date) as data_end
        {%- endif %}
    from spans
)

select * from final
