{{ config(
    materialized='incremental', incremental_strategy='delete+insert', unique_key='month',
    schema='fraud', tags=['fraud']
) }}
{#- Drug x flow month: all dispensed units and the doctor-shopping units among them. -#}
{%- set month = fraud_month() %}

with shopping_dispensings as (
    select * from {{ ref('fraud_shopping_dispensings') }}
    {%- if month %}
    where month = '{{ month }}-01'::date
    {%- endif %}
),

final as (
    select
        month,
        drug_code,
        count(distinct patient_id)::int as n_patients,
        (count(distinct patient_id) filter (where shopping_units > 0))::int as n_shopping_patients,
        sum(units) as total_units,
        sum(shopping_units) as shopping_units
    from shopping_dispensings
    group by month, drug_code
)

select * from final
