{{ config(materialized='table', schema='pathways', tags=['pathways']) }}
{#- Guideline compliance per indicator, nationally, per prescriber and per department
    (fct_pathways_indicator_patient, periods pooled): denominator and numerator patients;
    veille.pathways.summaries.indicator_rates adds the intervals and the funnel position. -#}

with indicator_patients as (
    select * from {{ ref('fct_pathways_indicator_patient') }}
),

final as (
    select indicator_id, 'national' as level, 'all' as unit, count(*) as denominator,
        count(case when compliant then 1 end) as numerator
    from indicator_patients
    group by indicator_id
    union all
    select indicator_id, 'prescriber', coalesce(prescriber_id, 'unknown'), count(*),
        count(case when compliant then 1 end)
    from indicator_patients
    group by indicator_id, prescriber_id
    union all
    select indicator_id, 'department', coalesce(department, 'unknown'), count(*),
        count(case when compliant then 1 end)
    from indicator_patients
    group by indicator_id, department
)

select * from final
