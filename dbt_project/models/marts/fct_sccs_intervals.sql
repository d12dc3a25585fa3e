{{ config(tags=['study']) }}
{#-
  Self-controlled case series: each case's observation period cut into intervals of constant
  exposure window, age group and calendar year (the data of a conditional Poisson fit,
  veille.study.sccs).

  Per series (study.sccs_definition) x outcome x case (int_sccs_cases: a patient with the
  outcome, its first event inside its observation clipped to the series' period, ages and sex):
  * exposure episodes of the series' ATC prefixes, all drugs together (int_sccs_drug_episodes,
    drug 0: the series' grace_days, no end delay); each risk window k is days
    start_day..end_day after an episode starts, cut at the episode's end when end_day is null;
    the pre-exposure window is the pre_exposure_days before an episode starts (window_id -1);
  * where windows overlap, the lowest risk window wins, then the pre-exposure window; the rest
    is baseline (window_id 0);
  * age groups start at the birthdays of age_group_bounds (age_group = how many bounds are
    reached, 0 below the first); calendar_year is the interval's year when the series adjusts
    for calendar time (calendar_adjustment 'year'), else 0;
  * an interaction series (study.sccs_drug, drug -1: the object drug, whose interaction with
    the exposure is asked) also cuts at the start and end of each object episode
    (int_sccs_drug_episodes, drug -1); object_exposed is 1 inside one, else 0. A series
    without an object drug has no such cut and object_exposed 0 throughout.
  Intervals are [interval_start, interval_end) in days; events is 1 in the interval holding the
  case's first event, else 0. Only first events count (a non-recurrent outcome).
-#}

with definitions as (
    select * from {{ ref('stg_study__sccs_definitions') }}
),

eligible_cases as (
    select * from {{ ref('int_sccs_cases') }}
),

episodes as (
    select * from {{ ref('int_sccs_drug_episodes') }}
    where drug_id = 0
),

object_episodes as (
    select
        eligible_cases.sccs_id,
        eligible_cases.outcome_id,
        eligible_cases.patient_id,
        greatest(episodes.episode_start, eligible_cases.case_start) as object_start,
        least(episodes.episode_end, eligible_cases.case_end) as object_end
    from eligible_cases
    inner join {{ ref('int_sccs_drug_episodes') }} as episodes
        on eligible_cases.sccs_id = episodes.sccs_id
        and eligible_cases.patient_id = episodes.patient_id
    where episodes.drug_id = -1
        and episodes.episode_start < eligible_cases.case_end
        and episodes.episode_end > eligible_cases.case_start
),

windows as (
    select
        episodes.sccs_id,
        episodes.patient_id,
        sccs_windows.window_id,
        episodes.episode_start + sccs_windows.start_day as window_start,
        case
            when sccs_windows.end_day is null then episodes.episode_end
            else least(episodes.episode_start + sccs_windows.end_day + 1, episodes.episode_end)
        end as window_end
    from episodes
    inner join {{ ref('stg_study__sccs_windows') }} as sccs_windows
        on episodes.sccs_id = sccs_windows.sccs_id
    union all
    select
        episodes.sccs_id,
        episodes.patient_id,
        -1 as window_id,
        episodes.episode_start - definitions.pre_exposure_days,
        episodes.episode_start
    from episodes
    inner join definitions
        on episodes.sccs_id = definitions.sccs_id
    where definitions.pre_exposure_days > 0
),

case_windows as (
    select
        eligible_cases.sccs_id,
        eligible_cases.outcome_id,
        eligible_cases.patient_id,
        windows.window_id,
        greatest(windows.window_start, eligible_cases.case_start) as window_start,
        least(windows.window_end, eligible_cases.case_end) as window_end
    from eligible_cases
    inner join windows
        on eligible_cases.sccs_id = windows.sccs_id
        and eligible_cases.patient_id = windows.patient_id
        and windows.window_start < eligible_cases.case_end
        and windows.window_end > eligible_cases.case_start
        and windows.window_start < windows.window_end
),

birthdays as (
    select
        eligible_cases.sccs_id,
        eligible_cases.outcome_id,
        eligible_cases.patient_id,
        {{ add_years('eligible_cases.birth_date', 'bounds.age') }} as cut
    from eligible_cases
    inner join definitions
        on eligible_cases.sccs_id = definitions.sccs_id
    cross join lateral unnest(definitions.age_group_bounds) as bounds (age)
),

cuts as (
    select sccs_id, outcome_id, patient_id, case_start as cut from eligible_cases
    union
    select sccs_id, outcome_id, patient_id, case_end from eligible_cases
    union
    select sccs_id, outcome_id, patient_id, window_start from case_windows
    union
    select sccs_id, outcome_id, patient_id, window_end from case_windows
    union
    select sccs_id, outcome_id, patient_id, object_start from object_episodes
    union
    select sccs_id, outcome_id, patient_id, object_end from object_episodes
    union
    select birthdays.sccs_id, birthdays.outcome_id, birthdays.patient_id, birthdays.cut
    from birthdays
    inner join eligible_cases using (sccs_id, outcome_id, patient_id)
    where birthdays.cut > eligible_cases.case_start and birthdays.cut < eligible_cases.case_end
    union
    select eligible_cases.sccs_id, eligible_cases.outcome_id, eligible_cases.patient_id,
        make_date(years.calendar_year, 1, 1)
    from eligible_cases
    inner join definitions
        on eligible_cases.sccs_id = definitions.sccs_id
    cross join lateral {{ int_series('extract(year from eligible_cases.case_start)::int + 1', 'extract(year from eligible_cases.case_end - 1)::int') }} as years (calendar_year)
    where definitions.calendar_adjustment = 'year'
),

segments as (
    select
        sccs_id,
        outcome_id,
        patient_id,
        cut as interval_start,
        lead(cut) over (partition by sccs_id, outcome_id, patient_id order by cut) as interval_end
    from cuts
),

segment_windows as (
    select
        segments.sccs_id,
        segments.outcome_id,
        segments.patient_id,
        segments.interval_start,
        segments.interval_end,
        coalesce(
            min(case_windows.window_id) filter (where case_windows.window_id > 0),
            min(case_windows.window_id),
            0
        ) as window_id
    from segments
    left join case_windows
        on segments.sccs_id = case_windows.sccs_id
        and segments.outcome_id = case_windows.outcome_id
        and segments.patient_id = case_windows.patient_id
        and case_windows.window_start <= segments.interval_start
        and case_windows.window_end > segments.interval_start
    where segments.interval_end is not null
    group by segments.sccs_id, segments.outcome_id, segments.patient_id,
        segments.interval_start, segments.interval_end
),

object_segments as (
    select distinct
        segments.sccs_id,
        segments.outcome_id,
        segments.patient_id,
        segments.interval_start
    from segments
    inner join object_episodes
        on segments.sccs_id = object_episodes.sccs_id
        and segments.outcome_id = object_episodes.outcome_id
        and segments.patient_id = object_episodes.patient_id
        and object_episodes.object_start <= segments.interval_start
        and object_episodes.object_end > segments.interval_start
),

final as (
    select
        segment_windows.sccs_id,
        segment_windows.outcome_id,
        segment_windows.patient_id,
        segment_windows.interval_start,
        segment_windows.interval_end,
        {{ days_between('segment_windows.interval_end', 'segment_windows.interval_start') }} as days,
        segment_windows.window_id,
        (
            select count(*)
            from unnest(definitions.age_group_bounds) as bounds (age)
            where {{ add_years('eligible_cases.birth_date', 'bounds.age') }}
                <= segment_windows.interval_start
        )::int as age_group,
        case when definitions.calendar_adjustment = 'year'
            then extract(year from segment_windows.interval_start)::int else 0 end as calendar_year,
        case when eligible_cases.event_date >= segment_windows.interval_start
            and eligible_cases.event_date < segment_windows.interval_end then 1 else 0 end as events,
        case when object_segments.patient_id is null then 0 else 1 end as object_exposed
    from segment_windows
    inner join eligible_cases
        on segment_windows.sccs_id = eligible_cases.sccs_id
        and segment_windows.outcome_id = eligible_cases.outcome_id
        and segment_windows.patient_id = eligible_cases.patient_id
    inner join definitions
        on segment_windows.sccs_id = definitions.sccs_id
    left join object_segments
        on segment_windows.sccs_id = object_segments.sccs_id
        and segment_windows.outcome_id = object_segments.outcome_id
        and segment_windows.patient_id = object_segments.patient_id
        and segment_windows.interval_start = object_segments.interval_start
)

select * from final
