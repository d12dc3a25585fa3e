{{ config(materialized='view', tags=['study']) }}
{#-
  New users of each cohort (int_study_new_users) with the end of the observation period
  containing their index and its reason, which follow the end of the data (a view: a new month
  rewrites no row).
-#}

with new_users as (
    select * from {{ ref('int_study_new_users') }}
),

observation_periods as (
    select * from {{ ref('int_observation_periods') }}
),

final as (
    select
        new_users.cohort_id,
        new_users.patient_id,
        new_users.exposed,
        new_users.index_date,
        new_users.observation_start,
        observation_periods.observation_end,
        observation_periods.end_reason as observation_end_reason,
        new_users.age_at_index,
        new_users.sex,
        new_users.death_date,
        new_users.last_step_passed
    from new_users
    left join observation_periods
        on new_users.patient_id = observation_periods.patient_id
        and new_users.observation_start = observation_periods.observation_start
)

select * from final
