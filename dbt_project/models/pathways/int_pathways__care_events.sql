{{ config(
    materialized='incremental',
    schema='pathways',
    tags=['pathways'],
    incremental_strategy='tail',
    tail_scope='care_scope',
    tail_key=['patient_id'],
    tail_column='event_date',
    refresh_vars=['pathways_visit_natures', 'pathways_gp_specialties'],
    pre_hook=['{{ refresh_lock() }}', "{{ changes_scope('care_scope', activity_sources() + ['drug']) }}"],
    indexes=[{'columns': ['patient_id', 'event_date']}],
    post_hook=['{{ refresh_mark() }}'],
) }}
{#-
  One row per care contact of a patient, from the claims tables: consultations and visits
  (service lines whose nature code is a visit: gp_visit when the executing professional is a GP,
  specialist_visit otherwise, with the specialty), lab tests (NABM), ambulatory CCAM acts,
  dispensings (ATC7) and hospital stays (stay_days = discharge - admission).
  `code` holds the specialty (visits), NABM, CCAM or ATC7 code; other service lines only carry
  amounts. NABM codes lose their leading zeros ('0592' = '592'). Vars: pathways_visit_natures (PRS_NAT_REF codes of visits, default C, CS, V, VS),
  pathways_gp_specialties (default 1, 22, 23).

  Incremental (macros/refresh.sql, strategy tail): a row is its claim's alone, so a patient
  changed from day d gets his rows from d on replaced, read through each claims table's
  (patient_id, date) index (a change of the drug referential: every row).
-#}
{%- set visit_natures = var('pathways_visit_natures', [1111, 1112, 1211, 1212]) %}
{%- set gp_specialties = var('pathways_gp_specialties', ['1', '22', '23']) %}

with service_lines as (
    select
        patient_id,
        service_date,
        nature_code,
        nullif(trim(leading '0' from trim(provider_specialty)), '') as specialty,
        coalesce(prescriber_id, provider_id) as professional_id,
        provider_id,
        amount_reimbursed
    from ({{ tail_rows(source('claims', 'service_line'), 'service_date', 'care_scope') }}) as service_line
),

visits as (
    select
        patient_id,
        service_date as event_date,
        case
            when nature_code in ({{ visit_natures | join(', ') }})
                and specialty in ('{{ gp_specialties | join("', '") }}') then 'gp_visit'
            when nature_code in ({{ visit_natures | join(', ') }}) then 'specialist_visit'
            else 'other_service'
        end as event_kind,
        specialty as code,
        provider_id as professional_id,
        coalesce(amount_reimbursed, 0) as amount_reimbursed,
        0 as stay_days
    from service_lines
),

lab_tests as (
    select
        patient_id,
        test_date as event_date,
        'lab_test' as event_kind,
        {{ nabm_code('nabm_code') }} as code,
        prescriber_id as professional_id,
        0::{{ numeric_type() }} as amount_reimbursed,
        0 as stay_days
    from ({{ tail_rows(source('claims', 'lab_test'), 'test_date', 'care_scope') }}) as lab_test
),

medical_acts as (
    select
        patient_id,
        act_date as event_date,
        'medical_act' as event_kind,
        trim(ccam_code) as code,
        provider_id as professional_id,
        0::{{ numeric_type() }} as amount_reimbursed,
        0 as stay_days
    from ({{ tail_rows(source('claims', 'medical_act'), 'act_date', 'care_scope') }}) as medical_act
),

dispensings as (
    select
        dispensing.patient_id,
        dispensing.dispensing_date as event_date,
        'dispensing' as event_kind,
        drug.atc7::{{ text_type() }} as code,
        dispensing.prescriber_id as professional_id,
        coalesce(dispensing.amount_reimbursed, 0) as amount_reimbursed,
        0 as stay_days
    from ({{ tail_rows(source('claims', 'dispensing'), 'dispensing_date', 'care_scope') }}) as dispensing
    left join {{ source('ref', 'drug') }} as drug
        on dispensing.cip13 = drug.cip13
),

hospital_stays as (
    select
        patient_id,
        admission_date as event_date,
        'hospital_stay' as event_kind,
        ghm::{{ text_type() }} as code,
        facility_id::{{ text_type() }} as professional_id,
        0::{{ numeric_type() }} as amount_reimbursed,
        {{ days_between('discharge_date', 'admission_date') }} as stay_days
    from ({{ tail_rows(source('claims', 'hospital_stay'), 'admission_date', 'care_scope') }}) as hospital_stay
),

final as (
    select * from visits
    union all
    select * from lab_tests
    union all
    select * from medical_acts
    union all
    select * from dispensings
    union all
    select * from hospital_stays
)

select
    patient_id,
    event_date,
    event_kind::{{ text_type() }} as event_kind,
    code::{{ text_type() }} as code,
    professional_id::{{ text_type() }} as professional_id,
    amount_reimbursed::numeric(14, 2) as amount_reimbursed,
    stay_days::int as stay_days
from final
