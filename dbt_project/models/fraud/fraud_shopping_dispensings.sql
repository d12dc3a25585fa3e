{{ config(
    materialized='incremental', incremental_strategy='delete+insert', unique_key='month',
    schema='fraud', tags=['fraud'],
    indexes=[{'columns': ['month']}, {'columns': ['patient_id', 'drug_code', 'dispensing_date']}]
) }}
{#- Each dispensing of the swept month(s) with the days and units of it that overlap an earlier
    dispensing of the same drug to the same patient written by another prescriber (Pradel 2004
    doctor-shopping quantity); a dispensing covers its days supplied (fraud_dispensings).
    A monthly scan looks for earlier dispensings among the rows already swept (run
    `veille fraud sweep` once before scanning month by month). var fraud_month ('YYYY-MM'): sweep that flow month only; unset:
    every month. -#}
{%- set month = var('fraud_month', none) %}
{%- if month and not modules.re.match('^[0-9]{4}-(0[1-9]|1[0-2])$', month | string) %}
    {{ exceptions.raise_compiler_error("var fraud_month must be YYYY-MM, got " ~ month) }}
{%- endif %}

with dispensings as not materialized (
    select * from {{ ref('fraud_dispensings') }}
),

swept as (
    select * from dispensings
    {%- if month %}
    where month = '{{ month }}-01'::date
    {%- endif %}
),

{%- if is_incremental() and month %}
-- earlier dispensings: the swept ones and, for the swept patients, the already swept rows of
-- the year before (indexed on patient_id, drug_code, dispensing_date)
earlier_dispensings as (
    select dispensing_id, patient_id, drug_code, dispensing_date, supply_days, prescriber_id
    from {{ this }}
    where month <> '{{ month }}-01'::date
        and dispensing_date >= (select min(dispensing_date) from swept) - 366
        and patient_id in (select patient_id from swept)
    union all
    select dispensing_id, patient_id, drug_code, dispensing_date, supply_days, prescriber_id
    from swept
),
{%- else %}
earlier_dispensings as (
    select dispensing_id, patient_id, drug_code, dispensing_date, supply_days, prescriber_id
    from dispensings
),
{%- endif %}

overlapping as (
    select
        swept.dispensing_id,
        max(earlier.dispensing_date + earlier.supply_days - swept.dispensing_date) as overlap_days,
        count(distinct earlier.prescriber_id) as other_prescribers
    from swept
    inner join earlier_dispensings as earlier
        on swept.patient_id = earlier.patient_id
        and swept.drug_code = earlier.drug_code
        and earlier.dispensing_date between swept.dispensing_date - 366 and swept.dispensing_date
        and (earlier.dispensing_date, earlier.dispensing_id) < (swept.dispensing_date, swept.dispensing_id)
        and earlier.dispensing_date + earlier.supply_days > swept.dispensing_date
        and earlier.prescriber_id <> swept.prescriber_id
    group by swept.dispensing_id
),

final as (
    select
        swept.month,
        swept.dispensing_id,
        swept.patient_id,
        swept.dispensing_date,
        swept.drug_code,
        swept.prescriber_id,
        swept.pharmacy_id,
        swept.units,
        swept.supply_days,
        least(coalesce(overlapping.overlap_days, 0), swept.supply_days)::int as overlap_days,
        round(
            swept.units * least(coalesce(overlapping.overlap_days, 0), swept.supply_days)::numeric
            / swept.supply_days, 3
        ) as shopping_units
    from swept
    left join overlapping
        on swept.dispensing_id = overlapping.dispensing_id
)

select * from final
