{{ config(tags=['study']) }}
{#-
  Exposure episodes of the multi-drug case series: for each series x outcome x case
  (fct_sccs_conv_cases) and each drug of its model (stg_study__sccs_drugs: 0 = the exposure,
  1.. the others; not the object drug -1 of an interaction series), every episode of the drug
  (int_sccs_drug_episodes) that overlaps the case's observation, as days counted from the
  case's first day: start_day (negative for an episode begun before it) and end_day (first day
  after the episode).
-#}

with cases as (
    select * from {{ ref('fct_sccs_conv_cases') }}
),

episodes as (
    select * from {{ ref('int_sccs_drug_episodes') }}
),

final as (
    select
        cases.sccs_id,
        cases.outcome_id,
        cases.patient_id,
        episodes.drug_id,
        {{ days_between('episodes.episode_start', 'cases.case_start') }} as start_day,
        {{ days_between('episodes.episode_end', 'cases.case_start') }} as end_day
    from cases
    inner join episodes
        on cases.sccs_id = episodes.sccs_id
        and cases.patient_id = episodes.patient_id
    where episodes.drug_id >= 0
        and episodes.episode_start < cases.case_start + cases.n_days
        and episodes.episode_end > cases.case_start
)

select * from final
