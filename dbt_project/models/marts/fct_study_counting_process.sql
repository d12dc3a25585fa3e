{{ config(tags=['study']) }}
{#-
  Counting-process rows for time-varying cumulative exposure: cumulative days inside the
  subject's own-group episodes since index, split where the cumulative-duration category of the
  study (YAML cumulative_exposure, registry study.cohort_exposure_category; by default < 12,
  12-23 and >= 24 months, i.e. < 365, 365-729 and >= 730 days) changes. Days since entry; a
  subject with time_days = 0 has one row [0, 0].
-#}

with categories as (
    select cohort_id, category_number, lower_bound, upper_bound, label
    from {{ ref('stg_study__cohort_exposure_categories') }}
    where measure = 'duration'
),

survival as (
    select cohort_id, outcome_id, patient_id, exposed, index_date, entry_date, exit_date, time_days, event
    from {{ ref('fct_study_survival') }}
),

episodes as (
    select * from {{ ref('int_study_episodes') }}
),

-- Only the subjects with own-group exposure during follow-up have more than one interval (most
-- subjects of a non-user design have none): the spans, their crossings and the windows below
-- run over them alone, and the other subjects get their single row by a hash join.
exposure_spans as (
    select
        survival.cohort_id,
        survival.outcome_id,
        survival.patient_id,
        survival.entry_date,
        survival.time_days,
        greatest(episodes.episode_start, survival.index_date) as span_start,
        least(episodes.episode_end, survival.exit_date) as span_end
    from survival
    inner join episodes
        on survival.cohort_id = episodes.cohort_id
        and survival.patient_id = episodes.patient_id
        and episodes.drug_group = case when survival.exposed = 1 then 'exposure' else 'comparator' end
        and episodes.episode_end > survival.index_date
        and episodes.episode_start < survival.exit_date
),

spans_cumulated as (
    select
        *,
        coalesce(
            sum({{ days_between('span_end', 'span_start') }}) over (
                partition by cohort_id, outcome_id, patient_id
                order by span_start
                rows between unbounded preceding and 1 preceding
            ),
            0
        ) as prior_days
    from exposure_spans
),

exposure_at_entry as (
    select
        cohort_id,
        outcome_id,
        patient_id,
        sum(greatest(0, {{ days_between('least(span_end, entry_date)', 'span_start') }}))::int as cum_days
    from spans_cumulated
    group by cohort_id, outcome_id, patient_id
),

-- the days (since entry) where cumulative exposure reaches a category's lower bound, inside follow-up
crossings as (
    select
        cohort_id,
        outcome_id,
        patient_id,
        cum_days,
        start_day,
        lead(start_day) over (partition by cohort_id, outcome_id, patient_id order by start_day) as next_start_day,
        time_days
    from (
        select
            spans.cohort_id,
            spans.outcome_id,
            spans.patient_id,
            thresholds.threshold as cum_days,
            {{ days_between('spans.span_start + (thresholds.threshold - spans.prior_days)::int', 'spans.entry_date') }} as start_day,
            spans.time_days
        from spans_cumulated as spans
        inner join (
            select cohort_id, cast(lower_bound as int) as threshold from categories where category_number > 0
        ) as thresholds
            on spans.cohort_id = thresholds.cohort_id
        where spans.prior_days < thresholds.threshold
            and spans.prior_days + ({{ days_between('spans.span_end', 'spans.span_start') }}) >= thresholds.threshold
    ) as reached
    where start_day > 0
        and start_day < time_days
),

first_crossings as (
    select cohort_id, outcome_id, patient_id, min(start_day) as start_day
    from crossings
    group by cohort_id, outcome_id, patient_id
),

intervals as (
    select
        survival.cohort_id,
        survival.outcome_id,
        survival.patient_id,
        survival.exposed,
        0 as start_day,
        coalesce(first_crossings.start_day, survival.time_days) as stop_day,
        case when first_crossings.start_day is null then survival.event else 0 end as event,
        coalesce(exposure_at_entry.cum_days, 0) as cum_days
    from survival
    left join exposure_at_entry
        on survival.cohort_id = exposure_at_entry.cohort_id
        and survival.outcome_id = exposure_at_entry.outcome_id
        and survival.patient_id = exposure_at_entry.patient_id
    left join first_crossings
        on survival.cohort_id = first_crossings.cohort_id
        and survival.outcome_id = first_crossings.outcome_id
        and survival.patient_id = first_crossings.patient_id
    union all
    select
        crossings.cohort_id,
        crossings.outcome_id,
        crossings.patient_id,
        survival.exposed,
        crossings.start_day,
        coalesce(crossings.next_start_day, crossings.time_days) as stop_day,
        case when crossings.next_start_day is null then survival.event else 0 end as event,
        crossings.cum_days
    from crossings
    inner join survival
        on crossings.cohort_id = survival.cohort_id
        and crossings.outcome_id = survival.outcome_id
        and crossings.patient_id = survival.patient_id
),

final as (
    select
        intervals.cohort_id,
        intervals.outcome_id,
        intervals.patient_id,
        intervals.exposed,
        intervals.start_day::int as start_day,
        intervals.stop_day::int as stop_day,
        intervals.event,
        intervals.cum_days::int as cum_exposure_days,
        cast(categories.category_number as int) as cum_exposure_category_number,
        categories.label as cum_exposure_category
    from intervals
    left join categories
        on intervals.cohort_id = categories.cohort_id
        and intervals.cum_days >= categories.lower_bound
        and (categories.upper_bound is null or intervals.cum_days < categories.upper_bound)
)

select * from final
