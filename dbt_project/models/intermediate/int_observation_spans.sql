{%- set empty_months = var_int('trackloss_empty_months', 4, 1) %}
{{ config(
    tags=['study'],
    materialized='incremental',
    incremental_strategy='tail',
    tail_scope='span_scope',
    tail_key=['patient_id'],
    tail_column='observation_start',
    pre_hook=['{{ refresh_lock() }}', '{{ span_scope() }}'],
    post_hook=['{{ refresh_mark() }}'],
    refresh_vars=['trackloss_empty_months'],
) }}
{#-
  The spans of claims of each patient: from a first claim to the last one before a gap of more
  than var trackloss_empty_months months without any claim. int_observation_periods turns them
  into observation periods (trackloss, death, end of the data); they depend on nothing else than
  the patient's own claims, so they refresh incrementally.

  Incremental (macros/refresh.sql): for a patient changed from day d, the spans that closed more
  than trackloss_empty_months months before d stay; the span still open at d (its last claim
  within that gap of d) is rebuilt from its claims of the months before d on, its start carried
  over, so that a patient under continuous care is not re-read from his first claim.
-#}

with activity as (
    select
        activity.patient_id,
        activity.activity_date,
        {%- if is_incremental() %}
        scope.open_start
        {%- else %}
        null::date as open_start
        {%- endif %}
    from {{ ref('int_patient_activity_dates') }} as activity
    {%- if is_incremental() %}
    inner join span_scope as scope
        on activity.patient_id = scope.patient_id
        and activity.activity_date >= scope.read_from
    {%- endif %}
),

activity_gaps as (
    select
        patient_id,
        activity_date,
        lag(activity_date) over (partition by patient_id order by activity_date) as previous_date,
        lead(activity_date) over (partition by patient_id order by activity_date) as next_date,
        open_start
    from activity
),

period_bounds as (
    select
        patient_id,
        activity_date,
        -- the first day read of a span that started before (incremental runs): its true start
        case when previous_date is null and open_start is not null then open_start else activity_date end as start_value,
        previous_date is null
            or activity_date > {{ dbt.dateadd('month', empty_months, 'previous_date') }} as starts_period,
        next_date is null
            or next_date > {{ dbt.dateadd('month', empty_months, 'activity_date') }} as ends_period
    from activity_gaps
),

-- A span's first and last days are the only rows that matter: keep them (one or two rows per
-- span, in the same order) and read each span's start on its last row.
period_edges as (
    select
        patient_id,
        activity_date,
        ends_period,
        case
            when starts_period then start_value
            else lag(start_value) over (partition by patient_id order by activity_date)
        end as period_start
    from period_bounds
    where starts_period or ends_period
),

final as (
    select
        patient_id,
        period_start as observation_start,
        activity_date as last_claim_date
    from period_edges
    where ends_period
)

select * from final
