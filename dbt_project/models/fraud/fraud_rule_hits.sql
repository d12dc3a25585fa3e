{{ config(
    materialized='incremental', incremental_strategy='delete+insert', unique_key='month',
    schema='fraud', tags=['fraud']
) }}
{#- Hard rules, no statistics, per flow month:
    claims_after_death: a pharmacy, executing professional or facility billing a line dated
      after the patient's death (the prescriber named on such a line is not blamed);
    hours_beyond_day: a professional whose billed consultations, visits and acts of one day add
      up to more than var fraud_max_work_hours (default 12) hours of work;
    supply_beyond_dates: a patient given more than var fraud_max_supply_days (default 365) days
      of one drug by the dispensings of one month. -#}
{%- set month = fraud_month() %}
{%- set max_hours = var_int('fraud_max_work_hours', 12, 1) %}
{%- set max_supply = var_int('fraud_max_supply_days', 365, 31) %}

with events as {{ not_materialized() }} (
    select * from {{ ref('fraud_provider_events') }}
    {%- if month %}
    where month = '{{ month }}-01'::date
    {%- endif %}
),

dispensings as (
    select * from {{ ref('fraud_dispensings') }}
    {%- if month %}
    where month = '{{ month }}-01'::date
    {%- endif %}
),

patients as (
    select * from {{ source('claims', 'patient') }}
),

after_death as (
    select
        events.month,
        'claims_after_death' as rule,
        'provider' as entity_kind,
        events.provider_id as entity_id,
        count(*)::int as hits,
        count(distinct events.patient_id)::int as n_patients,
        max({{ days_between('events.event_date', 'patients.death_date') }})::{{ double_type() }} as measure,
        count(*) || ' lines dated after the patient''s death (' || count(distinct events.patient_id)
        || ' patients, up to ' || max({{ days_between('events.event_date', 'patients.death_date') }}) || ' days after)' as evidence
    from events
    inner join patients on events.patient_id = patients.patient_id
    where events.event_date > patients.death_date
        and events.role <> 'prescriber'
    group by events.month, events.provider_id
),

work_days as (
    select month, provider_id, event_date, sum(minutes) as minutes, count(*) as lines,
        count(distinct patient_id) as n_patients
    from events
    where minutes > 0
    group by month, provider_id, event_date
    having sum(minutes) > {{ max_hours }} * 60
),

hours_beyond_day as (
    select
        month,
        'hours_beyond_day' as rule,
        'provider' as entity_kind,
        provider_id as entity_id,
        count(*)::int as hits,
        max(n_patients)::int as n_patients,
        round(max(minutes) / 60.0, 2)::{{ double_type() }} as measure,
        count(*) || ' days above {{ max_hours }} hours of billed work (busiest: '
        || round(max(minutes) / 60.0, 1) || ' hours, ' || max(lines) || ' lines)' as evidence
    from work_days
    group by month, provider_id
),

supply as (
    select month, patient_id, drug_code, sum(supply_days) as days_supplied, count(*) as n_dispensings
    from dispensings
    group by month, patient_id, drug_code
    having sum(supply_days) > {{ max_supply }}
),

supply_beyond_dates as (
    select
        month,
        'supply_beyond_dates' as rule,
        'patient' as entity_kind,
        patient_id::{{ text_type() }} as entity_id,
        count(*)::int as hits,
        1 as n_patients,
        max(days_supplied)::{{ double_type() }} as measure,
        {{ ordered_listagg("drug_code || ': ' || days_supplied || ' days in ' || n_dispensings || ' dispensings'",
            "'; '", 'drug_code') }} || ' within one month' as evidence
    from supply
    group by month, patient_id
),

final as (
    select * from after_death
    union all
    select * from hours_beyond_day
    union all
    select * from supply_beyond_dates
)

select * from final
