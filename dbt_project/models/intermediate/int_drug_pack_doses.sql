{#-
  The dose in each drug pack (issue 26), one row per CIP13 of the referential: the dosage per unit
  (IR_PHA_R PHA_DOS_PRA_DSES, PHA_DOS_UNT_DSES) normalised by the seed dose_units (masses to mg,
  international units to IU), times the units per pack; and the pack's defined daily doses (seed
  drug_ddd, the WHO index). Nothing is guessed: a pack whose dose cannot be read has a null dose
  and says why in dose_status (missing dosage, unparseable dosage, missing unit, unknown unit,
  missing units per pack, implausible dosage: 10^8 mg or IU a pack or more); one without DDDs
  says why in ddd_status (a million DDDs a pack or more is an implausible dosage too). Those
  bounds keep every dose column far inside its type. A DDD in unit doses (UD, aspirin's 1
  tablet) counts units, whatever the dosage.
-#}

with drugs as (
    select * from {{ ref('stg_ref__drugs') }}
),

dose_units as (
    select * from {{ ref('dose_units') }}
),

drug_ddd as (
    select * from {{ ref('drug_ddd') }}
),

keyed as (
    select
        drugs.*,
        replace(replace(upper(translate(drugs.dosage_unit, 'µμ', 'uu')), ' ', ''), '.', '') as unit_key
    from drugs
),

doses as (
    select
        keyed.cip13,
        keyed.atc7,
        keyed.units_per_pack,
        keyed.dosage_text,
        keyed.dosage_unit,
        dose_units.dose_unit,
        case
            when keyed.dosage_text is null then 'missing dosage'
            when keyed.dosage is null then 'unparseable dosage'
            when keyed.dosage_unit is null then 'missing unit'
            when dose_units.unit_key is null or dose_units.dose_unit = 'UD' then 'unknown unit'
            when keyed.units_per_pack is null then 'missing units per pack'
            -- 100 kg of active substance (or 10^8 IU) in a pack is a referential error: such a
            -- pack gets no dose (nor would its dose fit the dose columns' type)
            when cast(keyed.dosage as {{ numeric_type() }}) * dose_units.factor * keyed.units_per_pack >= 100000000
                then 'implausible dosage'
            else 'ok'
        end as dose_status,
        cast(keyed.dosage as {{ numeric_type() }}) * dose_units.factor as wide_dose_per_unit
    from keyed
    left join dose_units
        on keyed.unit_key = dose_units.unit_key
),

checked as (
    select
        doses.*,
        case when dose_status = 'ok' then cast(wide_dose_per_unit as {{ dose_type() }}) end as dose_per_unit
    from doses
),

-- what a pack holds in the DDD's own unit (dose, or units for a DDD in unit doses) and the DDD
packs as (
    select
        checked.*,
        cast(drug_ddd.ddd as {{ numeric_type() }}) * ddd_units.factor as ddd,
        ddd_units.dose_unit as ddd_unit,
        drug_ddd.atc7 is not null as has_ddd,
        case
            when drug_ddd.atc7 is null or checked.units_per_pack is null then null
            when ddd_units.dose_unit = 'UD' then cast(checked.units_per_pack as {{ numeric_type() }})
            when checked.dose_status = 'ok' and ddd_units.dose_unit = checked.dose_unit
                then checked.dose_per_unit * checked.units_per_pack
        end as base_per_pack
    from checked
    left join drug_ddd
        on checked.atc7 = drug_ddd.atc7
    left join dose_units as ddd_units
        on upper(drug_ddd.ddd_unit) = ddd_units.unit_key
),

ddd_checked as (
    select
        packs.*,
        case
            when not has_ddd then 'no DDD for the ATC code'
            when ddd_unit = 'UD' and units_per_pack is null then 'missing units per pack'
            when ddd_unit <> 'UD' and dose_status <> 'ok' then 'no dose'
            when ddd_unit <> 'UD' and ddd_unit <> dose_unit then 'dose unit differs from the DDD unit'
            when base_per_pack >= 1000000 * ddd then 'implausible dosage'
            else 'ok'
        end as ddd_status
    from packs
),

final as (
    select
        cip13,
        atc7,
        units_per_pack,
        dosage_text,
        dosage_unit,
        dose_status,
        case when dose_status = 'ok' then dose_unit end as dose_unit,
        dose_per_unit,
        case when dose_status = 'ok' then cast(dose_per_unit * units_per_pack as {{ dose_type() }}) end as dose_per_pack,
        cast(ddd as {{ dose_type() }}) as ddd,
        ddd_unit,
        ddd_status,
        case when ddd_status = 'ok'
            then cast({{ decimal_ratio('base_per_pack', 'ddd', 6) }} as {{ dose_type() }}) end as ddd_per_pack,
        -- the DDDs of n packs are n x this / ddd, divided once (n x a rounded ddd_per_pack drifts)
        case when ddd_status = 'ok' then cast(base_per_pack as {{ dose_type() }}) end as ddd_base_per_pack
    from ddd_checked
)

select * from final
