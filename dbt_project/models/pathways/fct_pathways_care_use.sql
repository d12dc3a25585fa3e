{{ config(materialized='table', schema='pathways', tags=['pathways']) }}
{#-
  Care use per patient x calendar year of observation: observed days in the year (from the
  observation periods), age on 1 July, 5-year age band (90+ last), sex, residence department,
  and counts: GP visits, specialist visits, lab tests (lines), CCAM acts, dispensings,
  hospital stays (admitted in the year) and their days, reimbursed amount (service lines and
  dispensings). A patient-year with no observed day is absent; one with no care has zeros.
-#}
with observation as (
    select * from {{ ref('fct_observation_periods') }}
),

patients as (
    select patient_id, sex, birth_year, residence_dpt::{{ text_type() }} as department
    from {{ source('claims', 'patient') }}
),

events as (
    select * from {{ ref('int_pathways__care_events') }}
),

observed_years as (
    select
        observation.patient_id,
        years.year::int as year,
        sum(
            {{ days_between('least(observation.observation_end, make_date(years.year::int, 12, 31))',
                            'greatest(observation.observation_start, make_date(years.year::int, 1, 1))') }} + 1
        )::int as observed_days
    from observation
    cross join lateral {{ int_series('extract(year from observation.observation_start)::int', 'extract(year from observation.observation_end)::int') }} as years (year)
    group by observation.patient_id, years.year
),

event_counts as (
    select
        events.patient_id,
        extract(year from events.event_date)::int as year,
        count(*) filter (where events.event_kind = 'gp_visit')::int as gp_visits,
        count(*) filter (where events.event_kind = 'specialist_visit')::int as specialist_visits,
        count(*) filter (where events.event_kind = 'lab_test')::int as lab_tests,
        count(*) filter (where events.event_kind = 'medical_act')::int as medical_acts,
        count(*) filter (where events.event_kind = 'dispensing')::int as dispensings,
        count(*) filter (where events.event_kind = 'hospital_stay')::int as hospital_stays,
        coalesce(sum(events.stay_days) filter (where events.event_kind = 'hospital_stay'), 0)::int
            as hospital_days,
        sum(events.amount_reimbursed)::numeric(14, 2) as amount_reimbursed
    from events
    group by events.patient_id, extract(year from events.event_date)
),

final as (
    select
        observed_years.patient_id,
        observed_years.year,
        observed_years.observed_days,
        observed_years.year - patients.birth_year as age,
        case
            when patients.birth_year is null then null
            when observed_years.year - patients.birth_year >= 90 then '90+'
            else (5 * floor(greatest(observed_years.year - patients.birth_year, 0) / 5))::int
                || '-' || (5 * floor(greatest(observed_years.year - patients.birth_year, 0) / 5) + 4)::int
        end as age_band,
        patients.sex,
        patients.department,
        coalesce(event_counts.gp_visits, 0) as gp_visits,
        coalesce(event_counts.specialist_visits, 0) as specialist_visits,
        coalesce(event_counts.lab_tests, 0) as lab_tests,
        coalesce(event_counts.medical_acts, 0) as medical_acts,
        coalesce(event_counts.dispensings, 0) as dispensings,
        coalesce(event_counts.hospital_stays, 0) as hospital_stays,
        coalesce(event_counts.hospital_days, 0) as hospital_days,
        coalesce(event_counts.amount_reimbursed, 0)::numeric(14, 2) as amount_reimbursed
    from observed_years
    inner join patients
        on observed_years.patient_id = patients.patient_id
    left join event_counts
        on observed_years.patient_id = event_counts.patient_id
        and observed_years.year = event_counts.year
    where observed_years.observed_days > 0
)

select * from final
