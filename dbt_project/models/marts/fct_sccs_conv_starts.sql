{{ config(tags=['study']) }}
{#-
  Exposure episodes of the multi-drug case series: for each series x outcome x case
  (fct_sccs_conv_cases) and each drug of the series (stg_study__sccs_drugs: 0 = the exposure),
  every episode of the drug's ATC prefixes (build_episodes, the series' grace_days, no end delay)
  that overlaps the case's observation, as days counted from the case's first day: start_day
  (negative for an episode begun before it) and end_day (first day after the episode).
-#}

with cases as (
    select * from {{ ref('fct_sccs_conv_cases') }}
),

series_drugs as (
    select
        sccs_drugs.sccs_id,
        sccs_drugs.drug_id,
        definitions.grace_days,
        drugs.cip13
    from {{ ref('stg_study__sccs_drugs') }} as sccs_drugs
    inner join {{ ref('stg_study__sccs_definitions') }} as definitions
        on sccs_drugs.sccs_id = definitions.sccs_id
    cross join lateral unnest(sccs_drugs.atc_prefixes) as prefixes (atc_prefix)
    inner join {{ ref('stg_ref__drugs') }} as drugs
        on drugs.atc7 like upper(prefixes.atc_prefix) || '%'
),

dispensings as (
    select distinct
        series_drugs.sccs_id,
        series_drugs.drug_id,
        series_drugs.grace_days,
        0 as end_delay_days,
        dispensings.patient_id,
        dispensings.dispensing_id,
        dispensings.dispensing_date,
        dispensings.days_covered
    from series_drugs
    inner join {{ ref('int_drug_dispensings') }} as dispensings
        on series_drugs.cip13 = dispensings.cip13
    where exists (
        select 1 from cases
        where cases.sccs_id = series_drugs.sccs_id
            and cases.patient_id = dispensings.patient_id
    )
),

{{ build_episodes(
    'dispensings',
    ['sccs_id', 'drug_id', 'patient_id'],
    grace_days='grace_days',
    end_delay_days='end_delay_days',
    stockpiling=(var_bool('stockpiling', true) | trim == 'true'),
) }},

final as (
    select
        cases.sccs_id,
        cases.outcome_id,
        cases.patient_id,
        episodes.drug_id,
        episodes.episode_start - cases.case_start as start_day,
        episodes.episode_end - cases.case_start as end_day
    from cases
    inner join episodes
        on cases.sccs_id = episodes.sccs_id
        and cases.patient_id = episodes.patient_id
    where episodes.episode_start < cases.case_start + cases.n_days
        and episodes.episode_end > cases.case_start
)

select * from final
