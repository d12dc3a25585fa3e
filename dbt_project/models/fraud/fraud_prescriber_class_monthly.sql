{{ config(
    materialized='incremental', incremental_strategy='delete+insert', unique_key='month',
    schema='fraud', tags=['fraud'], indexes=[{'columns': ['month']}]
) }}
{#- Prescriber x drug class (ATC5) x flow month: dispensings and patients. -#}
{%- set month = var('fraud_month', none) %}

with dispensings as (
    select * from {{ ref('fraud_dispensings') }}
    where prescriber_id is not null
    {%- if month %}
        and month = '{{ month }}-01'::date
    {%- endif %}
),

final as (
    select
        month,
        prescriber_id,
        drug_class,
        count(*)::int as n_dispensings,
        count(distinct patient_id)::int as n_patients
    from dispensings
    group by month, prescriber_id, drug_class
)

select * from final
