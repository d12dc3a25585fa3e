{{ config(
    tags=['study'],
    meta={'planner': {'enable_hashagg': 'off'}},
    materialized='incremental',
    incremental_strategy='tail',
    tail_scope='activity_scope',
    tail_key=['patient_id'],
    tail_column='activity_date',
    pre_hook=['{{ refresh_lock() }}', '{{ activity_scope() }}'],
    post_hook=['{{ refresh_mark() }}'],
) }}
{#-
  Every distinct day with a claim of a patient (any source): the raw material of observation.
  `union` of the six sources, de-duplicated by sorting (meta planner: enable_hashagg off): a
  merge of the sources' (patient_id, date) index scans followed by Unique, streaming, in no
  memory, whatever the number of distinct days. The former `distinct` over a `union all` was
  planned from no statistics (PostgreSQL assumes 200 distinct values per column of a union
  subquery: 40,000 groups for tens of millions) as a hash aggregate and never finished on a
  200,000-patient extract.

  Incremental (macros/refresh.sql): a patient changed by a new load gets his days from the
  first changed date on replaced (a day is only ever the day of its claims), read through each
  source's (patient_id, date) index, one range per changed patient: the cost follows the
  changed tails, not the size of the claims tables.
-#}

with activity as (
    {{ activity_rows(ref('stg_claims__dispensings'), 'dispensing_date') }}
    union
    {{ activity_rows(ref('stg_claims__service_lines'), 'service_date') }}
    union
    {{ activity_rows(ref('stg_claims__medical_acts'), 'act_date') }}
    union
    {{ activity_rows(ref('stg_claims__lab_tests'), 'test_date') }}
    union
    {{ activity_rows(ref('stg_claims__hospital_stays'), 'admission_date') }}
    union
    {{ activity_rows(ref('stg_claims__hospital_stays'), 'discharge_date') }}
),

final as (
    select patient_id, activity_date
    from activity
)

select * from final
