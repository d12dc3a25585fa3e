{{ config(materialized='table', tags=['scan']) }}
{#-
  Cases of the convolutional self-controlled case series (veille.study.convsccs): for each
  ICD-10 3-character outcome, every patient with a new onset in the at-risk window, observed
  over that whole window (day 0 = at_risk_start). The age on day 0 counts from the middle of the
  birth year (the month is not in this mart).
-#}

with onsets as (
    select * from {{ ref('scan_outcome_onsets') }}
    where outcome_level = 'icd3'
),

windows as (
    select * from {{ ref('scan_patient_windows') }}
),

final as (
    select
        onsets.outcome_code,
        onsets.patient_id,
        {{ days_between('windows.at_risk_end', 'windows.at_risk_start') }} + 1 as n_days,
        {{ days_between('onsets.onset_date', 'windows.at_risk_start') }} as event_day,
        round((({{ days_between('windows.at_risk_start', 'make_date(windows.birth_year, 7, 1)') }}) / 365.25)::{{ numeric_type() }}, 2)::{{ double_type() }}
            as age_start
    from onsets
    inner join windows
        on onsets.patient_id = windows.patient_id
    where windows.birth_year is not null
)

select * from final
