{{ config(
    materialized='incremental', incremental_strategy='delete+insert', unique_key='month',
    schema='fraud', tags=['fraud'],
    indexes=[{'columns': ['month']}, {'columns': ['patient_id', 'drug_code', 'dispensing_date']}],
    meta={'planner': {'enable_mergejoin': 'off'}}
) }}
{#- Each dispensing of the swept month(s) with the days and units of it that overlap an earlier
    dispensing of the same drug to the same patient written by another prescriber (Pradel 2004
    doctor-shopping quantity); a dispensing covers its days supplied (fraud_dispensings).
    A monthly scan looks for earlier dispensings among the rows already swept (run
    `veille fraud sweep` once before scanning month by month). var fraud_month ('YYYY-MM'): sweep that flow month only; unset:
    every month. -#}
{%- set month = fraud_month() %}
{#- meta enable_mergejoin off: fraud_dispensings sorted its 6.4 M rows (stress profile) to
    merge-join 47 drugs, and the overlap join sorted both sides; hash joins stream. -#}
{#- width of the day buckets of the overlap join (earlier_buckets below); any width gives the same
    rows: 14 days lists a 30-day supply in 3 buckets and leaves few candidates per bucket -#}
{%- set bucket_days = 14 %}

with dispensings as {{ not_materialized() }} (
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
-- the year before whose supply reaches the swept days (indexed on patient_id, drug_code,
-- dispensing_date)
earlier_dispensings as (
    select dispensing_id, patient_id, drug_code, dispensing_date, supply_days, prescriber_id
    from {{ this }}
    where month <> '{{ month }}-01'::date
        and dispensing_date >= (select min(dispensing_date) from swept) - 366
        and dispensing_date + supply_days > (select min(dispensing_date) from swept)
        and patient_id in (select patient_id from swept)
    union all
    select dispensing_id, patient_id, drug_code, dispensing_date, supply_days, prescriber_id
    from swept
),
{%- else %}
earlier_dispensings as (
    select dispensing_id, patient_id, drug_code, dispensing_date, supply_days, prescriber_id
    from {{ 'dispensings' if month else 'swept' }}
),
{%- endif %}

-- A dispensing can only overlap an earlier one written by another prescriber in a series
-- (patient x drug) with two prescribers at least; the other series are left out of the join
-- (a null prescriber matches none, as in the join below).
shared_series as (
    select patient_id, drug_code
    from earlier_dispensings
    group by patient_id, drug_code
    having min(prescriber_id) <> max(prescriber_id)
),

-- An earlier dispensing can overlap a later one only on the days it covers: from its own date
-- to its last day supplied, and at most 366 days on (the look-back below). Each earlier
-- dispensing is listed once per bucket of bucket_days days of those days, each swept one falls
-- in one bucket, and the join matches on (patient, drug, bucket): an equality that hashes or
-- merges, so the candidates of a swept dispensing are the earlier ones whose supply reaches its
-- bucket, not every dispensing of the year before (quadratic for a twice-weekly heavy user:
-- 914 M candidate pairs for 1.9 M overlaps on the stress profile at 200,000 patients). The
-- conditions of the join are unchanged, so every pair found before is found once. Materialized:
-- else the planner joins first and lists the buckets of every candidate pair.
earlier_buckets as {{ cte_materialized() }} (
    select
        earlier.dispensing_id,
        earlier.patient_id,
        earlier.drug_code,
        earlier.dispensing_date,
        earlier.supply_days,
        earlier.prescriber_id,
        bucket
    from earlier_dispensings as earlier
    inner join shared_series
        on earlier.patient_id = shared_series.patient_id
        and earlier.drug_code = shared_series.drug_code
    cross join lateral {{ int_series(
        int_div(days_between('earlier.dispensing_date', "date '1900-01-01'"), bucket_days),
        int_div(days_between('least(earlier.dispensing_date + earlier.supply_days - 1, earlier.dispensing_date + 366)',
            "date '1900-01-01'"), bucket_days)) }} as buckets (bucket)
),

overlapping as (
    select
        swept.dispensing_id,
        max({{ days_between('earlier.dispensing_date + earlier.supply_days', 'swept.dispensing_date') }}) as overlap_days
    from swept
    inner join earlier_buckets as earlier
        on swept.patient_id = earlier.patient_id
        and swept.drug_code = earlier.drug_code
        and {{ int_div(days_between('swept.dispensing_date', "date '1900-01-01'"), bucket_days) }} = earlier.bucket
        and earlier.dispensing_date between swept.dispensing_date - 366 and swept.dispensing_date
        and (earlier.dispensing_date < swept.dispensing_date
            or (earlier.dispensing_date = swept.dispensing_date and earlier.dispensing_id < swept.dispensing_id))
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
            swept.units * least(coalesce(overlapping.overlap_days, 0), swept.supply_days)::{{ numeric_type() }}
            / swept.supply_days, 3
        ) as shopping_units
    from swept
    left join overlapping
        on swept.dispensing_id = overlapping.dispensing_id
)

select * from final
