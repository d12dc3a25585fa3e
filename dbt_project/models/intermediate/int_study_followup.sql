{{ config(tags=['study']) }}
{#-
  Follow-up of each cohort subject before outcome censoring.
  entry = index + start_delay_days. Censoring at the earliest of: death, trackloss (end of the
  observation period containing index), switching to or adding the other drug (as-treated, active
  comparator: first dispensing of the other group after index; non-user comparator with
  comparator_exclude_atc: an exposed subject's first dispensing after index of an excluded drug
  (never one of the exposure's own drugs, int_study_group_dispensings), i.e. adding another drug the comparators never use), treatment end (as-treated: end of
  the first episode, end delay included), entry + max_followup_days, study end (or end of data).
  Ties are broken in that order.
-#}

with cohorts as (
    select * from {{ ref('int_study_cohorts') }}
),

subjects as (
    select * from {{ ref('int_study_candidates') }}
    where last_step_passed = 7
),

first_episodes as (
    select cohort_id, drug_group, patient_id, episode_end
    from {{ ref('int_study_episodes') }}
    where episode_number = 1
),

other_group_starts as (
    select
        subjects.cohort_id,
        subjects.patient_id,
        min(group_dispensings.dispensing_date) as switch_date
    from subjects
    inner join {{ ref('int_study_group_dispensings') }} as group_dispensings
        on subjects.cohort_id = group_dispensings.cohort_id
        and subjects.patient_id = group_dispensings.patient_id
        and group_dispensings.dispensing_date > subjects.index_date
        and (
            group_dispensings.drug_group = case when subjects.exposed = 1 then 'comparator' else 'exposure' end
            or (subjects.exposed = 1 and group_dispensings.drug_group = 'exclude')
        )
    group by subjects.cohort_id, subjects.patient_id
),

followup as (
    select
        subjects.cohort_id,
        subjects.patient_id,
        subjects.exposed,
        subjects.index_date,
        subjects.index_date + cohorts.start_delay_days as entry_date,
        subjects.age_at_index,
        subjects.sex,
        case when cohorts.strategy = 'as_treated' then first_episodes.episode_end end as treatment_end_date,
        case when cohorts.strategy = 'as_treated' then other_group_starts.switch_date end as switch_date,
        subjects.death_date,
        case when subjects.observation_end_reason = 'trackloss' then subjects.observation_end end as trackloss_date,
        subjects.index_date + cohorts.start_delay_days + cohorts.max_followup_days as max_followup_date,
        least(cohorts.period_end, subjects.observation_end) as study_end_date
    from subjects
    inner join cohorts
        on subjects.cohort_id = cohorts.cohort_id
    left join first_episodes
        on subjects.cohort_id = first_episodes.cohort_id
        and subjects.patient_id = first_episodes.patient_id
        and first_episodes.drug_group = case when subjects.exposed = 1 then 'exposure' else 'comparator' end
    left join other_group_starts
        on subjects.cohort_id = other_group_starts.cohort_id
        and subjects.patient_id = other_group_starts.patient_id
),

final as (
    select
        followup.cohort_id,
        followup.patient_id,
        followup.exposed,
        followup.index_date,
        followup.entry_date,
        followup.age_at_index,
        followup.sex,
        followup.treatment_end_date,
        censoring.censor_date,
        censoring.censor_reason
    from followup
    cross join lateral (
        -- the first censoring date; on a tie, the first reason in this order
        select
            least(followup.death_date, followup.trackloss_date, followup.switch_date,
                followup.treatment_end_date, followup.max_followup_date, followup.study_end_date) as censor_date
    ) as first_censoring
    cross join lateral (
        select
            first_censoring.censor_date,
            case first_censoring.censor_date
                when followup.death_date then 'death'
                when followup.trackloss_date then 'trackloss'
                when followup.switch_date then 'switch'
                when followup.treatment_end_date then 'treatment_end'
                when followup.max_followup_date then 'max_followup'
                when followup.study_end_date then 'study_end'
            end as censor_reason
    ) as censoring
    where first_censoring.censor_date is not null
)

select * from final
