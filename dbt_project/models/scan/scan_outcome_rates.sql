{{ config(materialized='table', tags=['scan']) }}
{#-
  The whole population's rate of each new outcome (ICD-10 3-character code and block) per
  stratum: calendar year x 5-year age band x sex, new onsets (scan_outcome_onsets) over the
  person-days at risk (scan_stratum_person_time). With a drug's exposed person-days (or a drug
  pair's joint days) per stratum, they give the counts expected under no effect
  (scan_pair_counts, scan_ddi_counts). Strata without an onset have no row (rate 0).
-#}

with onsets as (
    select * from {{ ref('scan_outcome_onsets') }}
),

windows as (
    select * from {{ ref('scan_patient_windows') }}
),

stratum_time as (
    select * from {{ ref('scan_stratum_person_time') }}
),

outcome_strata as (
    select
        onsets.outcome_level,
        onsets.outcome_code,
        extract(year from onsets.onset_date)::int as calendar_year,
        coalesce(least(greatest({{ int_div('extract(year from onsets.onset_date)::int - windows.birth_year', '5') }}, 0), 18), -1)
            as age_band,
        windows.sex,
        count(*) as cases
    from onsets
    inner join windows
        on onsets.patient_id = windows.patient_id
    group by 1, 2, 3, 4, 5
),

final as (
    select
        outcome_strata.outcome_level,
        outcome_strata.outcome_code,
        outcome_strata.calendar_year,
        outcome_strata.age_band,
        outcome_strata.sex,
        outcome_strata.cases::bigint as cases,
        stratum_time.person_days,
        outcome_strata.cases::{{ double_type() }} / stratum_time.person_days as cases_per_day
    from outcome_strata
    inner join stratum_time
        on outcome_strata.calendar_year = stratum_time.calendar_year
        and outcome_strata.age_band = stratum_time.age_band
        and outcome_strata.sex = stratum_time.sex
)

select * from final
