{{ config(tags=['study'], meta={'planner': {'enable_hashagg': 'off'}}) }}
{#-
  Every distinct day with a claim of a patient (any source): the raw material of observation.
  `union` of the six sources, de-duplicated by sorting (meta planner: enable_hashagg off): a
  merge of the sources' (patient_id, date) index scans followed by Unique, streaming, in no
  memory, whatever the number of distinct days. The former `distinct` over a `union all` was
  planned from no statistics (PostgreSQL assumes 200 distinct values per column of a union
  subquery: 40,000 groups for tens of millions) as a hash aggregate and never finished on a
  200,000-patient extract.
-#}

with activity as (
    select patient_id, dispensing_date as activity_date from {{ ref('stg_claims__dispensings') }}
    union
    select patient_id, service_date from {{ ref('stg_claims__service_lines') }}
    union
    select patient_id, act_date from {{ ref('stg_claims__medical_acts') }}
    union
    select patient_id, test_date from {{ ref('stg_claims__lab_tests') }}
    union
    select patient_id, admission_date from {{ ref('stg_claims__hospital_stays') }}
    union
    select patient_id, discharge_date from {{ ref('stg_claims__hospital_stays') }}
),

final as (
    select patient_id, activity_date
    from activity
)

select * from final
