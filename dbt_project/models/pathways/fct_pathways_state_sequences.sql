{{ config(materialized='table', schema='pathways', tags=['pathways']) }}
{#- One row per patient of fct_pathways_monthly_states: the state letters in month order, with
    the patient's age in the index year and sex (the clusters' descriptions). -#}
with states as (
    select * from {{ ref('fct_pathways_monthly_states') }}
),

patients as (
    select * from {{ source('claims', 'patient') }}
),

sequences as (
    select
        patient_id,
        index_date,
        count(*) filter (where observed)::int as months_observed,
        {{ ordered_listagg('state', "''", 'month_index') }} as states
    from states
    group by patient_id, index_date
),

final as (
    select
        sequences.*,
        cast(extract(year from sequences.index_date) as int) - patients.birth_year as age,
        patients.sex
    from sequences
    inner join patients on sequences.patient_id = patients.patient_id
)

select * from final
