{{ config(tags=['study']) }}
{#-
  The drug codes (CIP13) of each case series' drugs: drug 0 is the series' exposure (its
  exposure_atc), drugs 1.. those of a multi-drug series and drug -1 the object drug of an
  interaction series (stg_study__sccs_drugs); with the series' grace. A table of its own, so
  that the planner knows it is small: inlined into int_sccs_drug_episodes (views over unnested
  ATC prefixes, estimated at 17,060 rows for 11), it made PostgreSQL sort all 6.4 M dispensings
  of the 200,000-patient stress extract for a merge join, or compare cip13 row by row (8.1 s;
  2.3 s with this table, 2026-12-05).
-#}

with definitions as (
    select * from {{ ref('stg_study__sccs_definitions') }}
),

series_drugs as (
    select sccs_id, 0 as drug_id, exposure_atc as atc_prefixes from definitions
    union all
    select sccs_id, drug_id, atc_prefixes from {{ ref('stg_study__sccs_drugs') }}
    where drug_id <> 0
),

final as (
    select distinct
        series_drugs.sccs_id,
        series_drugs.drug_id,
        definitions.grace_days,
        drugs.cip13
    from series_drugs
    inner join definitions
        on series_drugs.sccs_id = definitions.sccs_id
    cross join lateral unnest(series_drugs.atc_prefixes) as prefixes (atc_prefix)
    inner join {{ ref('stg_ref__drugs') }} as drugs
        on drugs.atc7 like upper(prefixes.atc_prefix) || '%'
)

select * from final
