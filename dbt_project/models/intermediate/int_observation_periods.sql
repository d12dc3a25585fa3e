{{ config(tags=['study']) }}
{#-
  Observation periods: from a patient's first claim to the last one, cut at trackloss (no claim
  during var trackloss_empty_months months: the period ends var trackloss_end_months months after
  the last claim before the gap) and at death. The last period ends at the end of the data unless
  the months before that end are empty too (trackloss).
-#}
{%- set empty_months = var_int('trackloss_empty_months', 4, 1) %}
{%- set end_months = var_int('trackloss_end_months', 2) %}

with activity as (
    select * from {{ ref('int_patient_activity_dates') }}
),

data_span as (
    select * from {{ ref('int_data_span') }}
),

patients as (
    select patient_id, death_date from {{ ref('stg_claims__patients') }}
),

activity_gaps as (
    select
        patient_id,
        activity_date,
        lag(activity_date) over (partition by patient_id order by activity_date) as previous_date,
        lead(activity_date) over (partition by patient_id order by activity_date) as next_date
    from activity
),

period_bounds as (
    select
        patient_id,
        activity_date,
        next_date,
        previous_date is null
            or activity_date > {{ dbt.dateadd('month', empty_months, 'previous_date') }} as starts_period,
        next_date is null
            or next_date > {{ dbt.dateadd('month', empty_months, 'activity_date') }} as ends_period
    from activity_gaps
),

-- A period's first and last days are the only rows that matter: keep them (one or two rows per
-- period, in the same order) and read each period's start on its last row. No aggregate over
-- a computed period number, whose number of groups the planner cannot know.
period_edges as (
    select
        patient_id,
        activity_date,
        next_date,
        ends_period,
        case
            when starts_period then activity_date
            else lag(activity_date) over (partition by patient_id order by activity_date)
        end as period_start
    from period_bounds
    where starts_period or ends_period
),

periods as (
    select
        patient_id,
        period_start as observation_start,
        activity_date as last_claim_date,
        next_date is null as is_last
    from period_edges
    where ends_period
),

periods_ended as (
    select
        periods.patient_id,
        periods.observation_start,
        periods.last_claim_date,
        case
            when periods.is_last and data_span.data_end <= {{ dbt.dateadd('month', empty_months, 'periods.last_claim_date') }}
                then data_span.data_end
            else least({{ dbt.cast(dbt.dateadd('month', end_months, 'periods.last_claim_date'), 'date') }}, data_span.data_end)
        end as censored_end,
        case
            when periods.is_last and data_span.data_end <= {{ dbt.dateadd('month', empty_months, 'periods.last_claim_date') }}
                then 'data_end'
            else 'trackloss'
        end as censored_reason,
        patients.death_date
    from periods
    cross join data_span
    inner join patients
        on periods.patient_id = patients.patient_id
),

final as (
    select
        patient_id,
        row_number() over (partition by patient_id order by observation_start)::int as observation_period_number,
        observation_start,
        case when death_date <= censored_end then death_date else censored_end end as observation_end,
        case when death_date <= censored_end then 'death' else censored_reason end as end_reason,
        last_claim_date
    from periods_ended
    where (death_date is null or observation_start <= death_date)
        and observation_start <= censored_end
)

select * from final
