{{ config(materialized='table', schema='pathways', tags=['pathways']) }}
{#- Person-years and care use per calendar year x age band x sex x department
    (fct_pathways_care_use), the strata veille.pathways.summaries.care_rates standardises. -#}
{%- set measures = ['gp_visits', 'specialist_visits', 'lab_tests', 'medical_acts', 'dispensings',
    'hospital_stays', 'hospital_days', 'amount_reimbursed'] %}

with care_use as (
    select * from {{ ref('fct_pathways_care_use') }}
    where age_band is not null
),

final as (
    select
        year,
        age_band,
        coalesce(cast(sex as {{ text_type() }}), 'unknown') as sex,
        coalesce(department, 'unknown') as department,
        cast(sum(observed_days) as {{ double_type() }}) / 365.25 as person_years,
        {%- for m in measures %}
        cast(sum({{ m }}) as {{ double_type() }}) as {{ m }}{{ "," if not loop.last }}
        {%- endfor %}
    from care_use
    group by year, age_band, sex, department
)

select * from final
