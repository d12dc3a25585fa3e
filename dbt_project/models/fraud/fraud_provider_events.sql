{{ config(materialized='view', schema='fraud', tags=['fraud']) }}
{#- Every claim line once per provider it names (pharmacy, prescriber, executing professional,
    facility), with its flow month, a code (CIP13, nature, CCAM, NABM), the amount, and the
    minutes of work it stands for (vars fraud_consultation_minutes, fraud_visit_minutes,
    fraud_act_minutes; other lines count 0 minutes). -#}
{%- set consultation = var_int('fraud_consultation_minutes', 15) %}
{%- set visit = var_int('fraud_visit_minutes', 30) %}
{%- set act = var_int('fraud_act_minutes', 20) %}

with dispensings as {{ not_materialized() }} (
    select * from {{ ref('fraud_dispensings') }}
),

service_lines as {{ not_materialized() }} (
    select * from {{ source('claims', 'service_line') }}
),

medical_acts as (
    select * from {{ source('claims', 'medical_act') }}
),

lab_tests as (
    select * from {{ source('claims', 'lab_test') }}
),

events as (
    select pharmacy_id as provider_id, 'pharmacy' as role, patient_id, dispensing_date as event_date,
        month, cip13 as code, amount_paid as amount, true as is_drug, is_controlled, 0 as minutes
    from dispensings
    where pharmacy_id is not null
    union all
    select prescriber_id, 'prescriber', patient_id, dispensing_date,
        month, cip13, 0, true, is_controlled, 0
    from dispensings
    where prescriber_id is not null
    union all
    select provider_id, 'executing', patient_id, service_date,
        flow_month, nature_code::{{ text_type() }}, coalesce(amount_paid, 0), false, false,
        case
            when nature_code in (1111, 1112) then {{ consultation }}
            when nature_code = 1211 then {{ visit }}
            else 0
        end
    from service_lines
    where provider_id is not null
    union all
    select facility_id, 'facility', patient_id, service_date,
        flow_month, nature_code::{{ text_type() }}, coalesce(amount_paid, 0), false, false, 0
    from service_lines
    where facility_id is not null
    union all
    select provider_id, 'executing', patient_id, act_date,
        flow_month, ccam_code, 0, false, false, {{ act }}
    from medical_acts
    where provider_id is not null
    union all
    select provider_id, 'executing', patient_id, test_date,
        flow_month, nabm_code, 0, false, false, 0
    from lab_tests
    where provider_id is not null
),

final as (
    select
        provider_id::{{ text_type() }} as provider_id,
        role,
        patient_id,
        event_date,
        month,
        code::{{ text_type() }} as code,
        amount::{{ numeric_type() }} as amount,
        is_drug,
        is_controlled,
        minutes
    from events
)

select * from final
