{{ config(
    tags=['study'],
    materialized='incremental',
    incremental_strategy='subjects',
    on_schema_change='append_new_columns',
    pre_hook=['{{ refresh_lock() }}', '{{ study_scope() }}'],
    post_hook=['{{ refresh_mark() }}'],
    refresh_registry=true,
    refresh_vars=['stockpiling'],
) }}
{#-
  Treatment episodes per cohort x group (exposure, comparator) x patient, all drugs of the
  group's ATC prefixes together, built by the same macro as int_drug_episodes_built with the
  cohort's grace_days and end_delay_days (var stockpiling applies).
-#}

with dispensings as (
    select
        group_dispensings.cohort_id,
        group_dispensings.drug_group,
        group_dispensings.patient_id,
        group_dispensings.dispensing_id,
        group_dispensings.dispensing_date,
        group_dispensings.days_covered,
        cohorts.grace_days,
        cohorts.end_delay_days
    from {{ ref('int_study_group_dispensings') }} as group_dispensings
    inner join {{ ref('int_study_cohorts') }} as cohorts
        on group_dispensings.cohort_id = cohorts.cohort_id
    where group_dispensings.drug_group in ('exposure', 'comparator')
        and {{ in_study_scope('group_dispensings.cohort_id', 'group_dispensings.patient_id') }}
),

{{ build_episodes(
    'dispensings',
    ['cohort_id', 'drug_group', 'patient_id'],
    grace_days='grace_days',
    end_delay_days='end_delay_days',
    stockpiling=(var_bool('stockpiling', true) | trim == 'true'),
) }},

patients as (
    select patient_id, death_date from {{ ref('stg_claims__patients') }}
),

final as (
    select
        episodes.cohort_id,
        episodes.drug_group,
        episodes.patient_id,
        episodes.episode_number,
        episodes.episode_start,
        case
            when patients.death_date < episodes.episode_end then patients.death_date
            else episodes.episode_end
        end as episode_end,
        episodes.n_dispensings
    from episodes
    left join patients
        on episodes.patient_id = patients.patient_id
)

select * from final
