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
  first changed date on replaced (a day is only ever the day of its claims).
-#}

with activity as (
    select x.patient_id, x.dispensing_date as activity_date
    from {{ ref('stg_claims__dispensings') }} as x {{ activity_tail('x', 'dispensing_date') }}
    union
    select x.patient_id, x.service_date from {{ ref('stg_claims__service_lines') }} as x {{ activity_tail('x', 'service_date') }}
    union
    select x.patient_id, x.act_date from {{ ref('stg_claims__medical_acts') }} as x {{ activity_tail('x', 'act_date') }}
    union
    select x.patient_id, x.test_date from {{ ref('stg_claims__lab_tests') }} as x {{ activity_tail('x', 'test_date') }}
    union
    select x.patient_id, x.admission_date from {{ ref('stg_claims__hospital_stays') }} as x {{ activity_tail('x', 'admission_date') }}
    union
    select x.patient_id, x.discharge_date from {{ ref('stg_claims__hospital_stays') }} as x {{ activity_tail('x', 'discharge_date') }}
),

final as (
    select patient_id, activity_date
    from activity
)

select * from final
