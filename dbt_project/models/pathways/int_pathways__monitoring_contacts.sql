{{ config(materialized='table', schema='pathways', tags=['pathways']) }}
{#-
  One row per monitoring contact: a patient, a day and a monitoring item, once however many
  claim lines record it (an eye examination billed as an ophthalmology visit and a fundus act
  on the same day is one eye_exam contact). Items are declared by var pathways_monitoring_items
  (macro pathways_monitoring_items): item name -> {nabm: [...], ccam: [...], specialty: [...]}
  (lab tests, ambulatory CCAM acts, specialist visits). NABM and specialty codes are compared
  without leading zeros ('0592' = '592').
-#}
{%- set items = pathways_monitoring_items() %}
{%- set rows = [] %}
{%- for item, sources in items.items() %}
    {%- for source, codes in sources.items() %}
        {%- for code in codes %}
            {%- do rows.append("('" ~ item ~ "', '" ~ source ~ "', '" ~ (code | string | trim) ~ "')") %}
        {%- endfor %}
    {%- endfor %}
{%- endfor %}

with events as (
    select * from {{ ref('int_pathways__care_events') }}
),

declared (item, source, code) as (
    values {{ rows | join(',\n        ') }}
),

items as (
    -- codes compared as int_pathways__care_events writes them
    select
        item,
        case source
            when 'nabm' then 'lab_test'
            when 'ccam' then 'medical_act'
            else 'specialist_visit'
        end as event_kind,
        case source
            when 'nabm' then {{ nabm_code('code') }}
            when 'ccam' then code
            else nullif(trim(leading '0' from code), '')
        end as code
    from declared
),

final as (
    select distinct
        events.patient_id,
        events.event_date as contact_date,
        items.item
    from events
    inner join items
        on events.event_kind = items.event_kind
        and events.code = items.code
)

select * from final
