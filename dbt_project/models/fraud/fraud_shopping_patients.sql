{{ config(
    materialized='incremental', incremental_strategy='delete+insert', unique_key='month',
    schema='fraud', tags=['fraud'], indexes=[{'columns': ['month']}]
) }}
{#- Patient x drug x swept month: the dispensings of the drug over the window of
    var fraud_shopping_window_months (default 6) flow months ending at the swept month, with the
    doctor-shopping quantity and the evidence. Only patient x drug with at least one overlapping
    dispensing are kept. is_shopper: overlapping prescriptions from >= var
    fraud_shopping_min_prescribers (2) prescribers filled in >= var fraud_shopping_min_pharmacies
    (3) pharmacies (French addictovigilance definition). supply_ratio: the days supplied in the
    window over the days they could be taken in (first dispensing to the end of the supply that
    lasts longest): 1 for regular refills, about 1.1 for a GP and a specialist who both
    prescribe with an early refill, well above for a patient who gathers more than can be
    taken. -#}
{%- set month = fraud_month() %}
{%- set window = var_int('fraud_shopping_window_months', 6, 1) %}

with shopping_dispensings as (
    select * from {{ ref('fraud_shopping_dispensings') }}
),

swept_months as (
    {%- if month %}
    select '{{ month }}-01'::date as month
    {%- else %}
    select distinct month from shopping_dispensings
    {%- endif %}
),

candidates as (
    select distinct swept_months.month, shopping_dispensings.patient_id, shopping_dispensings.drug_code
    from swept_months
    inner join shopping_dispensings
        on swept_months.month = shopping_dispensings.month
    where shopping_dispensings.overlap_days > 0
),

window_dispensings as (
    select candidates.month as swept_month, shopping_dispensings.*
    from candidates
    inner join shopping_dispensings
        on candidates.patient_id = shopping_dispensings.patient_id
        and candidates.drug_code = shopping_dispensings.drug_code
        and shopping_dispensings.month > {{ add_months('candidates.month', -(window | int)) }}
        and shopping_dispensings.month <= candidates.month
),

per_patient_drug as (
    select
        swept_month as month,
        patient_id,
        drug_code,
        count(*)::int as n_dispensings,
        (count(*) filter (where overlap_days > 0))::int as n_overlapping,
        count(distinct prescriber_id)::int as n_prescribers,
        count(distinct pharmacy_id)::int as n_pharmacies,
        sum(units) as total_units,
        sum(shopping_units) as shopping_units,
        cast(sum(supply_days) as int) as supply_days,
        cast({{ days_between('max(dispensing_date + supply_days)', 'min(dispensing_date)') }} as int) as span_days,
        min(dispensing_date) as first_dispensing,
        max(dispensing_date) as last_dispensing,
        {{ sorted_distinct_array('prescriber_id') }} as prescriber_ids,
        {{ sorted_distinct_array('pharmacy_id') }} as pharmacy_ids
    from window_dispensings
    group by swept_month, patient_id, drug_code
),

final as (
    select
        *,
        {{ rounded_ratio('shopping_units', 'nullif(total_units, 0)', 4) }} as shopping_share,
        {{ rounded_ratio('supply_days', 'span_days', 3) }} as supply_ratio,
        n_overlapping >= 1
        and n_prescribers >= {{ var_int('fraud_shopping_min_prescribers', 2, 2) }}
        and n_pharmacies >= {{ var_int('fraud_shopping_min_pharmacies', 3, 1) }} as is_shopper
    from per_patient_drug
)

select * from final
