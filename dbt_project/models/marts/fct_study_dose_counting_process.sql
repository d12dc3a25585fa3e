{{ config(tags=['study']) }}
{#-
  Counting-process rows for time-varying cumulative dose (issue 26), for the cohorts with
  cumulative-dose categories (study YAML cumulative_dose): an exposed subject's follow-up is
  split on each day the dose of the exposure's dispensings since index (fct_drug_dispensing_doses,
  counted on the dispensing day; what was dispensed before entry counts at entry) grows, each
  interval with its cumulative dose (mg, IU or DDDs) and category. Comparator subjects keep one
  row, no category. dose_complete is false when a dispensing of the subject has no known dose:
  the analysis leaves such subjects out, counted. dose_substances counts the ATC7 codes whose
  dose the cohort adds up: mg or IU of more than one cannot be added (the analysis refuses).
  Days since entry, as fct_study_counting_process.
-#}

with categories as (
    select cohort_id, category_number, lower_bound, upper_bound, unit as dose_unit, label
    from {{ ref('stg_study__cohort_exposure_categories') }}
    where measure = 'dose'
),

survival as (
    select cohort_id, outcome_id, patient_id, exposed, index_date, entry_date, exit_date, time_days, event
    from {{ ref('fct_study_survival') }}
    where cohort_id in (select cohort_id from categories)
),

dispensings as (
    select
        group_dispensings.cohort_id,
        group_dispensings.patient_id,
        group_dispensings.dispensing_date,
        doses.atc7,
        -- a dose counts when it is in the categories' unit and the pack's ATC code has a DDD of
        -- its own (seed drug_ddd): a combination pack (pioglitazone + metformin, A10BD05) has one
        -- dosage for two substances and no single-substance DDD, so its dose is unknown here
        case
            when units.dose_unit = 'ddd' then doses.ddd_dispensed
            when doses.dose_unit = units.dose_unit and doses.ddd_dispensed is not null then doses.dose_dispensed
        end as dose_dispensed
    from {{ ref('int_study_group_dispensings') }} as group_dispensings
    inner join (select distinct cohort_id, dose_unit from categories) as units
        on group_dispensings.cohort_id = units.cohort_id
    left join {{ ref('fct_drug_dispensing_doses') }} as doses
        on group_dispensings.dispensing_id = doses.dispensing_id
    where group_dispensings.drug_group = 'exposure'
),

substances as (
    select cohort_id, count(distinct atc7) as dose_substances
    from dispensings
    where dose_dispensed is not null
    group by cohort_id
),

-- each exposed subject's dispensings in [index, exit), on their day since entry (at least 0),
-- plus day 0 with no dose so that every exposed subject starts in a category
subject_days as (
    select
        survival.cohort_id,
        survival.outcome_id,
        survival.patient_id,
        greatest({{ days_between('dispensings.dispensing_date', 'survival.entry_date') }}, 0) as day,
        dispensings.dose_dispensed,
        1 as is_dispensing
    from survival
    inner join dispensings
        on survival.cohort_id = dispensings.cohort_id
        and survival.patient_id = dispensings.patient_id
        and dispensings.dispensing_date >= survival.index_date
        and dispensings.dispensing_date < survival.exit_date
    where survival.exposed = 1
    union all
    select cohort_id, outcome_id, patient_id, 0, 0, 0
    from survival
    where exposed = 1
),

cumulated as (
    select
        cohort_id,
        outcome_id,
        patient_id,
        day,
        sum(sum(coalesce(dose_dispensed, 0))) over (
            partition by cohort_id, outcome_id, patient_id order by day rows between unbounded preceding and current row
        ) as cum_dose,
        -- false when one of the subject's dispensings has no known dose
        min(min(case when is_dispensing = 1 and dose_dispensed is null then 0 else 1 end)) over (
            partition by cohort_id, outcome_id, patient_id
        ) = 1 as dose_complete
    from subject_days
    group by cohort_id, outcome_id, patient_id, day
),

categorized as (
    select
        cumulated.*,
        categories.category_number,
        categories.label
    from cumulated
    inner join categories
        on cumulated.cohort_id = categories.cohort_id
        and cumulated.cum_dose >= categories.lower_bound
        and (categories.upper_bound is null or cumulated.cum_dose < categories.upper_bound)
),

changes as (
    select
        categorized.*,
        survival.time_days,
        survival.event,
        lead(categorized.day) over (
            partition by categorized.cohort_id, categorized.outcome_id, categorized.patient_id order by categorized.day
        ) as next_day
    from categorized
    inner join survival
        on categorized.cohort_id = survival.cohort_id
        and categorized.outcome_id = survival.outcome_id
        and categorized.patient_id = survival.patient_id
    where categorized.day = 0 or categorized.day < survival.time_days
),

intervals as (
    select
        cohort_id,
        outcome_id,
        patient_id,
        1 as exposed,
        day as start_day,
        coalesce(next_day, time_days) as stop_day,
        case when next_day is null then event else 0 end as event,
        cum_dose,
        category_number,
        label,
        dose_complete
    from changes
    union all
    select
        cohort_id,
        outcome_id,
        patient_id,
        0,
        0,
        time_days,
        event,
        null,
        null,
        null,
        true
    from survival
    where exposed = 0
),

final as (
    select
        intervals.cohort_id,
        intervals.outcome_id,
        intervals.patient_id,
        cast(exposed as int) as exposed,
        cast(start_day as int) as start_day,
        cast(stop_day as int) as stop_day,
        cast(event as int) as event,
        cast(cum_dose as {{ dose_type() }}) as cum_dose,
        cast(category_number as int) as dose_category_number,
        label as dose_category,
        dose_complete,
        cast(coalesce(substances.dose_substances, 0) as int) as dose_substances
    from intervals
    left join substances
        on intervals.cohort_id = substances.cohort_id
)

select * from final
