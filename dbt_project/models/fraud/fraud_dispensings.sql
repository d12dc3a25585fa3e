{{ config(materialized='view', schema='fraud', tags=['fraud']) }}
{#- Dispensings with everything the sweep needs: drug (ATC7) and class (ATC5), units, days
    covered (from int_drug_dispensings), days supplied (units / daily units of the seed
    drug_daily_units, 1 unit a day when the drug is not in it), prescriber, pharmacy, flow month, controlled flag,
    the patient's death date. var fraud_controlled_atc: ATC prefixes of controlled drugs. -#}
{%- set controlled = var('fraud_controlled_atc', ['N02A', 'N05B', 'N05C', 'N06BA', 'N07BC']) %}

with drug_dispensings as (
    select * from {{ ref('int_drug_dispensings') }}
),

claims_dispensings as (
    select * from {{ source('claims', 'dispensing') }}
),

drugs as (
    select * from {{ ref('stg_ref__drugs') }}
),

patients as (
    select * from {{ source('claims', 'patient') }}
),

daily_units as (
    select * from {{ ref('drug_daily_units') }}
),

drug_daily_units as materialized (
    select drugs.cip13,
        coalesce((
            select daily_units.daily_units
            from daily_units
            where drugs.atc7 like daily_units.atc_prefix || '%'
            order by length(daily_units.atc_prefix) desc
            limit 1
        ), 1)::numeric as daily_units
    from drugs
),

final as (
    select
        drug_dispensings.dispensing_id,
        drug_dispensings.patient_id,
        drug_dispensings.dispensing_date,
        claims_dispensings.flow_month as month,
        drug_dispensings.cip13,
        drug_dispensings.atc7 as drug_code,
        left(drug_dispensings.atc7, 5) as drug_class,
        drug_dispensings.packs * coalesce(drugs.units_per_pack, 1) as units,
        drug_dispensings.days_covered,
        greatest(1, round(drug_dispensings.packs * coalesce(drugs.units_per_pack, 1)
            / drug_daily_units.daily_units))::int as supply_days,
        claims_dispensings.prescriber_id::text as prescriber_id,
        claims_dispensings.pharmacy_id::text as pharmacy_id,
        coalesce(claims_dispensings.amount_paid, 0) as amount_paid,
        drug_dispensings.atc7 ~ '^({{ controlled | join("|") }})' as is_controlled,
        patients.death_date
    from drug_dispensings
    inner join claims_dispensings
        on drug_dispensings.dispensing_id = claims_dispensings.dispensing_id
    inner join drugs
        on drug_dispensings.cip13 = drugs.cip13
    inner join drug_daily_units
        on drug_dispensings.cip13 = drug_daily_units.cip13
    inner join patients
        on drug_dispensings.patient_id = patients.patient_id
)

select * from final
