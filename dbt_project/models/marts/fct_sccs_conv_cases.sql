{{ config(tags=['study']) }}
{#-
  Cases of the multi-drug case series (series with ConvSCCS drugs, 1.., in study.sccs_drug;
  the ConvSCCS of veille.study.convsccs): one row per series x outcome x case (int_sccs_cases)
  with its observation length, the day of its event counted from the start of its observation,
  and its age on that first day (birthdays on the first of the birth month, of January when
  unknown).
-#}

with cases as (
    select * from {{ ref('int_sccs_cases') }}
),

series as (
    select distinct sccs_id from {{ ref('stg_study__sccs_drugs') }}
    where drug_id > 0
),

final as (
    select
        cases.sccs_id,
        cases.outcome_id,
        cases.patient_id,
        cases.case_start,
        {{ days_between('cases.case_end', 'cases.case_start') }} as n_days,
        {{ days_between('cases.event_date', 'cases.case_start') }} as event_day,
        round((({{ days_between('cases.case_start', 'cases.birth_date') }}) / 365.25)::{{ numeric_type() }}, 2)::{{ double_type() }} as age_start
    from cases
    inner join series
        on cases.sccs_id = series.sccs_id
)

select * from final
