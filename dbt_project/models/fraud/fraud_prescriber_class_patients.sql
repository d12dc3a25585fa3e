{{ config(
    materialized='incremental', incremental_strategy='delete+insert', unique_key='month',
    schema='fraud', tags=['fraud'], indexes=[{'columns': ['month']}]
) }}
{#- Prescriber x drug class (ATC5) x patient x flow month: the patients a prescriber's
    prescriptions reached that month. -#}
{%- set month = fraud_month() %}

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
        patient_id
    from dispensings
    group by month, prescriber_id, drug_class, patient_id
)

select * from final
