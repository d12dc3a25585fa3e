{{ config(tags=['study']) }}
{#-
  Counting-process rows for time-varying cumulative exposure: cumulative days inside the
  subject's own-group episodes since index, split where the category changes
  (<1y: < 365 days, 1-2y: 365-729, >=2y: >= 730). Days since entry; a subject with
  time_days = 0 has one row [0, 0].
-#}

with survival as (
    select * from {{ ref('fct_study_survival') }}
),

episodes as (
    select * from {{ ref('int_study_episodes') }}
),

exposure_spans as (
    select
        survival.cohort_id,
        survival.outcome_id,
        survival.patient_id,
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
            sum(span_end - span_start) over (
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
        spans.cohort_id,
        spans.outcome_id,
        spans.patient_id,
        sum(greatest(0, least(spans.span_end, survival.entry_date) - spans.span_start))::int as cum_days
    from spans_cumulated as spans
    inner join survival
        on spans.cohort_id = survival.cohort_id
        and spans.outcome_id = survival.outcome_id
        and spans.patient_id = survival.patient_id
    group by spans.cohort_id, spans.outcome_id, spans.patient_id
),

crossings as (
    select
        spans.cohort_id,
        spans.outcome_id,
        spans.patient_id,
        thresholds.threshold as cum_days,
        (spans.span_start + (thresholds.threshold - spans.prior_days)::int) - survival.entry_date as start_day
    from spans_cumulated as spans
    cross join (values (365), (730)) as thresholds (threshold)
    inner join survival
        on spans.cohort_id = survival.cohort_id
        and spans.outcome_id = survival.outcome_id
        and spans.patient_id = survival.patient_id
    where spans.prior_days < thresholds.threshold
        and spans.prior_days + (spans.span_end - spans.span_start) >= thresholds.threshold
),

boundaries as (
    select
        survival.cohort_id,
        survival.outcome_id,
        survival.patient_id,
        0 as start_day,
        coalesce(exposure_at_entry.cum_days, 0) as cum_days
    from survival
    left join exposure_at_entry
        on survival.cohort_id = exposure_at_entry.cohort_id
        and survival.outcome_id = exposure_at_entry.outcome_id
        and survival.patient_id = exposure_at_entry.patient_id
    union all
    select
        crossings.cohort_id,
        crossings.outcome_id,
        crossings.patient_id,
        crossings.start_day,
        crossings.cum_days
    from crossings
    inner join survival
        on crossings.cohort_id = survival.cohort_id
        and crossings.outcome_id = survival.outcome_id
        and crossings.patient_id = survival.patient_id
    where crossings.start_day > 0
        and crossings.start_day < survival.time_days
),

intervals as (
    select
        boundaries.cohort_id,
        boundaries.outcome_id,
        boundaries.patient_id,
        survival.exposed,
        boundaries.start_day,
        coalesce(
            lead(boundaries.start_day) over (
                partition by boundaries.cohort_id, boundaries.outcome_id, boundaries.patient_id
                order by boundaries.start_day
            ),
            survival.time_days
        ) as stop_day,
        boundaries.cum_days,
        survival.event
    from boundaries
    inner join survival
        on boundaries.cohort_id = survival.cohort_id
        and boundaries.outcome_id = survival.outcome_id
        and boundaries.patient_id = survival.patient_id
),

final as (
    select
        cohort_id,
        outcome_id,
        patient_id,
        exposed,
        start_day::int as start_day,
        stop_day::int as stop_day,
        case
            when lead(start_day) over (partition by cohort_id, outcome_id, patient_id order by start_day) is null
                then event
            else 0
        end as event,
        cum_days::int as cum_exposure_days,
        case
            when cum_days < 365 then '<1y'
            when cum_days < 730 then '1-2y'
            else '>=2y'
        end as cum_exposure_category
    from intervals
)

select * from final
