{{ config(materialized='view') }}
{#- The dose of each net dispensing (issue 26): packs (signed lines and their regularisations
    already summed by the load) times the pack's dose and DDDs (int_drug_pack_doses). Only the
    dispensings of packs with a known dose or DDDs: empty for an extract without dosages. -#}

with dispensings as (
    select * from {{ ref('stg_claims__dispensings') }}
),

pack_doses as (
    select * from {{ ref('int_drug_pack_doses') }}
    where dose_status = 'ok' or ddd_status = 'ok'
)

select
    dispensings.dispensing_id,
    dispensings.patient_id,
    dispensings.dispensing_date,
    dispensings.cip13,
    pack_doses.atc7,
    dispensings.packs,
    pack_doses.dose_unit,
    cast(dispensings.packs * pack_doses.dose_per_pack as {{ dose_type() }}) as dose_dispensed,
    cast({{ decimal_ratio('dispensings.packs * pack_doses.ddd_base_per_pack', 'pack_doses.ddd', 6) }}
        as {{ dose_type() }}) as ddd_dispensed
from dispensings
inner join pack_doses
    on dispensings.cip13 = pack_doses.cip13
where dispensings.packs > 0
