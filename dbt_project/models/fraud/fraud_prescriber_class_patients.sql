{{ config(
    materialized='incremental', incremental_strategy='delete+insert', unique_key='month',
    schema='fraud', tags=['fraud'], indexes=[{'columns': ['month']}]
) }}
{#- Prescriber x drug class x patient x flow month: the patients a prescriber's prescriptions
    reached that month. A class is an ATC5, or the pooled group 'controlled' (every drug of
    var fraud_controlled_atc, a patient counted once): an excess spread over several controlled
    classes (benzodiazepines, z-drugs, opioids), too small in each to be seen alone, adds up
    there. -#}
{%- set month = fraud_month() %}

with dispensings as (
    select * from {{ ref('fraud_dispensings') }}
    where prescriber_id is not null
    {%- if month %}
        and month = '{{ month }}-01'::date
    {%- endif %}
),

classes as (
    select month, prescriber_id, drug_class, patient_id
    from dispensings
    union all
    select month, prescriber_id, 'controlled' as drug_class, patient_id
    from dispensings
    where is_controlled
),

final as (
    select
        month,
        prescriber_id,
        drug_class,
        patient_id
    from classes
    group by month, prescriber_id, drug_class, patient_id
)

select * from final
