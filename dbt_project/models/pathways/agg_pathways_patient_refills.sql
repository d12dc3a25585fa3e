{{ config(materialized='table', schema='pathways', tags=['pathways']) }}
{#- Refill timing per patient over the observed months of their state sequence
    (fct_pathways_monthly_states): the adherence channel of the trajectory mixture model.
    Dispensings of one line-class drug (ATC7) on one day are one fill; a refill interval runs
    from a fill to the next fill of the same drug. It counts when it is at most
    var pathways_refill_max_ratio (4) times the fill's days covered (a longer gap is a stop, not
    a late refill), and it is late when it exceeds var pathways_refill_late_ratio (1.1) times
    those days (int_drug_dispensings: 30 days a pack, 90 a large pack, by default).
    Counting intervals, not months, keeps lateness visible when a late refill still falls
    within the month's grace period. -#}
{%- set late_ratio = var('pathways_refill_late_ratio', 1.1) %}
{%- set max_ratio = var('pathways_refill_max_ratio', 4) %}

with classes as (
    select * from {{ ref('int_pathways__drug_classes') }}
    where class_role = 'line'
),

drugs as (
    select * from {{ ref('stg_ref__drugs') }}
),

dispensings as (
    select * from {{ ref('int_drug_dispensings') }}
),

states as (
    select * from {{ ref('fct_pathways_monthly_states') }}
    where observed
),

line_drugs as (
    select distinct drugs.atc7
    from drugs
    inner join classes
        on drugs.atc7 like classes.atc_prefix || '%'
),

fills as (
    select
        dispensings.patient_id,
        dispensings.atc7,
        dispensings.dispensing_date,
        sum(dispensings.days_covered) as days_covered
    from dispensings
    inner join line_drugs on dispensings.atc7 = line_drugs.atc7
    inner join states
        on dispensings.patient_id = states.patient_id
        and {{ dbt.cast(dbt.date_trunc('month', 'dispensings.dispensing_date'), 'date') }} = states.month_start
    group by dispensings.patient_id, dispensings.atc7, dispensings.dispensing_date
),

intervals as (
    select
        patient_id,
        days_covered,
        {{ days_between('lead(dispensing_date) over (partition by patient_id, atc7 order by dispensing_date)', 'dispensing_date') }} as interval_days
    from fills
    where days_covered > 0
),

final as (
    select
        patient_id,
        cast(count(*) as int) as refill_intervals,
        cast(sum(case when interval_days > {{ late_ratio }} * days_covered then 1 else 0 end) as int) as late_refills
    from intervals
    where interval_days <= {{ max_ratio }} * days_covered
    group by patient_id
)

select * from final
