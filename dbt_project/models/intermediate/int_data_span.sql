{{ config(tags=['study']) }}
{#- First and last claim day of the extract (var data_end_date overrides the end). -#}

with activity as (
    select * from {{ ref('int_patient_activity_dates') }}
),

final as (
    select
        min(activity_date) as data_start,
        {%- if var('data_end_date', none) %}
        '{{ var("data_end_date") }}'::date as data_end
        {%- else %}
        max(activity_date) as data_end
        {%- endif %}
    from activity
)

select * from final
