{{ config(materialized='table', schema='pathways', tags=['pathways']) }}
{#-
  One row per monitoring contact: a patient, a day and a monitoring item, once however many
  claim lines record it (an eye examination billed as an ophthalmology visit and a fundus act
  on the same day is one eye_exam contact). Items are declared by var pathways_monitoring_items:
  item name -> {nabm: [...], ccam: [...], specialty: [...]} (lab tests, ambulatory CCAM acts,
  specialist visits). NABM codes are compared without leading zeros ('0592' = '592').
-#}
{%- set items = var('pathways_monitoring_items', {
    'hba1c': {'nabm': ['1577']},
    'creatinine': {'nabm': ['592']},
    'lipids': {'nabm': ['996']},
    'microalbumin': {'nabm': ['1133']},
    'eye_exam': {'ccam': ['BGQP002', 'BGQP007'], 'specialty': ['15']},
    'endocrinology': {'specialty': ['42']},
}) %}
{%- set kinds = {'nabm': 'lab_test', 'ccam': 'medical_act', 'specialty': 'specialist_visit'} %}

{%- set rows = [] %}
{%- for item, sources in items.items() %}
    {%- for source, codes in sources.items() %}
        {%- if source not in kinds %}
            {{ exceptions.raise_compiler_error("var pathways_monitoring_items, item " ~ item ~ ": unknown source '" ~ source ~ "' (nabm, ccam or specialty)") }}
        {%- endif %}
        {%- for code in codes %}
            {%- set value = (code | string | trim) if source == 'ccam' else (code | string | trim).lstrip('0') %}
            {%- do rows.append("('" ~ item ~ "', '" ~ kinds[source] ~ "', '" ~ (value if value else '0') ~ "')") %}
        {%- endfor %}
    {%- endfor %}
{%- endfor %}

with events as (
    select * from {{ ref('int_pathways__care_events') }}
),

items (item, event_kind, code) as (
    values {{ rows | join(',\n        ') }}
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
