{{ config(materialized='view', schema='fraud', tags=['fraud']) }}
{#- Dispensings with everything the sweep needs: drug (ATC7) and class (ATC5), units, days
    supplied (units / daily units of the seed drug_daily_units, 1 unit a day when the drug is
    not in it), prescriber, pharmacy, flow month, controlled flag, the patient's death date.
    Read from the source (not int_drug_dispensings, which lacks prescriber, pharmacy and flow
    month) so that a month filter reaches the flow-month index. var fraud_controlled_atc: ATC
    prefixes of controlled drugs. -#}
{%- set controlled = var('fraud_controlled_atc', ['N02A', 'N05B', 'N05C', 'N06BA', 'N07BC']) %}

with claims_dispensings as (
    select * from {{ source('claims', 'dispensing') }}
    where packs > 0
),

drugs as (
    select * from {{ ref('stg_ref__drugs') }}
    where atc7 is not null
),

patients as (
    select * from {{ source('claims', 'patient') }}
),

daily_units as (
    select * from {{ ref('drug_daily_units') }}
),

-- the daily units of the longest matching ATC prefix (1 when none matches)
drug_daily_units as {{ cte_materialized() }} (
    select cip13, coalesce(daily_units, 1)::{{ numeric_type() }} as daily_units
    from (
        select drugs.cip13, daily_units.daily_units,
            row_number() over (partition by drugs.cip13 order by length(daily_units.atc_prefix) desc) as k
        from drugs
        left join daily_units
            on drugs.atc7 like daily_units.atc_prefix || '%'
    ) as matches
    where k = 1
),

final as (
    select
        claims_dispensings.dispensing_id,
        claims_dispensings.patient_id,
        claims_dispensings.dispensing_date,
        claims_dispensings.flow_month as month,
        drugs.cip13,
        drugs.atc7 as drug_code,
        left(drugs.atc7, 5) as drug_class,
        claims_dispensings.packs * coalesce(drugs.units_per_pack, 1) as units,
        greatest(1, round(claims_dispensings.packs * coalesce(drugs.units_per_pack, 1)
            / drug_daily_units.daily_units))::int as supply_days,
        claims_dispensings.prescriber_id::{{ text_type() }} as prescriber_id,
        claims_dispensings.pharmacy_id::{{ text_type() }} as pharmacy_id,
        coalesce(claims_dispensings.amount_paid, 0) as amount_paid,
        {{ regex_match('drugs.atc7', "'^(" ~ (controlled | join("|")) ~ ")'") }} as is_controlled,
        patients.death_date
    from claims_dispensings
    inner join drugs
        on claims_dispensings.cip13::{{ text_type() }} = drugs.cip13
    inner join drug_daily_units
        on drugs.cip13 = drug_daily_units.cip13
    inner join patients
        on claims_dispensings.patient_id = patients.patient_id
)

select * from final
