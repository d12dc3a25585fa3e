{{ config(tags=['study']) }}
{#-
  The cases of each self-controlled case series (study.sccs_definition) and outcome: a patient
  with the outcome (its first event) inside an observation period, the study period, the age
  range and the sex of the series; its observation [case_start, case_end) = that observation
  period clipped to the study period and the age range (birthdays on the first of the birth
  month, of January when the month is unknown) and ended by death. Read by fct_sccs_intervals
  and the multi-drug marts fct_sccs_conv_*.
-#}

with definitions as (
    select
        sccs.*,
        coalesce(sccs.study_start, data_span.data_start) as period_start,
        coalesce(sccs.study_end, data_span.data_end) as period_end
    from {{ ref('stg_study__sccs_definitions') }} as sccs
    cross join {{ ref('int_data_span') }} as data_span
),

patients as (
    select
        patient_id,
        sex,
        death_date,
        make_date(birth_year, coalesce(birth_month, 1), 1) as birth_date
    from {{ ref('stg_claims__patients') }}
    where birth_year is not null
),

first_events as (
    select
        sccs_outcomes.sccs_id,
        events.outcome_id,
        events.patient_id,
        min(events.event_date) as event_date
    from {{ ref('stg_study__sccs_outcomes') }} as sccs_outcomes
    inner join {{ ref('fct_outcome_events') }} as events
        on sccs_outcomes.outcome_id = events.outcome_id
    group by sccs_outcomes.sccs_id, events.outcome_id, events.patient_id
),

cases as (
    select
        first_events.sccs_id,
        first_events.outcome_id,
        first_events.patient_id,
        first_events.event_date,
        patients.birth_date,
        greatest(
            observation.observation_start,
            definitions.period_start,
            case when definitions.age_min is not null
                then {{ add_years('patients.birth_date', 'definitions.age_min') }} end
        ) as case_start,
        least(
            observation.observation_end + 1,
            definitions.period_end + 1,
            patients.death_date + 1,
            case when definitions.age_max is not null
                then {{ add_years('patients.birth_date', 'definitions.age_max + 1') }} end
        ) as case_end
    from first_events
    inner join definitions
        on first_events.sccs_id = definitions.sccs_id
    inner join patients
        on first_events.patient_id = patients.patient_id
    inner join {{ ref('fct_observation_periods') }} as observation
        on first_events.patient_id = observation.patient_id
        and first_events.event_date between observation.observation_start and observation.observation_end
    where definitions.sex is null or patients.sex = definitions.sex
),

eligible_cases as (
    select * from cases
    where event_date >= case_start and event_date < case_end
)

select * from eligible_cases
