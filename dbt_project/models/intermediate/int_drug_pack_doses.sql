{#-
  The dose in each drug pack (issue 26), one row per CIP13 of the referential: the dosage per unit
  (IR_PHA_R PHA_DOS_PRA_DSES, PHA_DOS_UNT_DSES) normalised by the seed dose_units (masses to mg,
  international units to IU), times the units per pack; and the pack's defined daily doses (seed
  drug_ddd, the WHO index). Nothing is guessed: a pack whose dose cannot be read has a null dose
  and says why in dose_status (missing dosage, unparseable dosage, missing unit, unknown unit,
  missing units per pack); one without DDDs says why in ddd_status. A DDD in unit doses (UD,
  aspirin's 1 tablet) counts units, whatever the dosage.
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
            else 'ok'
        end as dose_status,
        cast(keyed.dosage * dose_units.factor as {{ dose_type() }}) as dose_per_unit
    from keyed
    left join dose_units
        on keyed.unit_key = dose_units.unit_key
),

final as (
    select
        doses.cip13,
        doses.atc7,
        doses.units_per_pack,
        doses.dosage_text,
        doses.dosage_unit,
        doses.dose_status,
        case when doses.dose_status = 'ok' then doses.dose_unit end as dose_unit,
        case when doses.dose_status = 'ok' then doses.dose_per_unit end as dose_per_unit,
        case when doses.dose_status = 'ok'
            then cast(doses.dose_per_unit * doses.units_per_pack as {{ dose_type() }}) end as dose_per_pack,
        cast(drug_ddd.ddd * ddd_units.factor as {{ dose_type() }}) as ddd,
        ddd_units.dose_unit as ddd_unit,
        case
            when drug_ddd.atc7 is null then 'no DDD for the ATC code'
            when ddd_units.dose_unit = 'UD' and doses.units_per_pack is null then 'missing units per pack'
            when ddd_units.dose_unit = 'UD' then 'ok'
            when doses.dose_status <> 'ok' then 'no dose'
            when ddd_units.dose_unit <> doses.dose_unit then 'dose unit differs from the DDD unit'
            else 'ok'
        end as ddd_status,
        case
            when drug_ddd.atc7 is null or doses.units_per_pack is null then null
            when ddd_units.dose_unit = 'UD'
                then cast({{ decimal_ratio('doses.units_per_pack', 'drug_ddd.ddd * ddd_units.factor', 6) }} as {{ dose_type() }})
            when doses.dose_status = 'ok' and ddd_units.dose_unit = doses.dose_unit
                then cast({{ decimal_ratio('doses.dose_per_unit * doses.units_per_pack', 'drug_ddd.ddd * ddd_units.factor', 6) }} as {{ dose_type() }})
        end as ddd_per_pack,
        -- what a pack holds in the DDD's own unit (dose, or units for a DDD in unit doses): the
        -- DDDs of n packs are n x this / ddd, divided once (n x a rounded ddd_per_pack drifts)
        case
            when drug_ddd.atc7 is null or doses.units_per_pack is null then null
            when ddd_units.dose_unit = 'UD' then cast(doses.units_per_pack as {{ dose_type() }})
            when doses.dose_status = 'ok' and ddd_units.dose_unit = doses.dose_unit
                then cast(doses.dose_per_unit * doses.units_per_pack as {{ dose_type() }})
        end as ddd_base_per_pack
    from doses
    left join drug_ddd
        on doses.atc7 = drug_ddd.atc7
    left join dose_units as ddd_units
        on upper(drug_ddd.ddd_unit) = ddd_units.unit_key
)

select * from final
