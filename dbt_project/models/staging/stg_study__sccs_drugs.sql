with source as (
    select * from {{ source('study', 'sccs_drug') }}
),

definitions as (
    select * from {{ ref('stg_study__sccs_definitions') }}
),

final as (
    select
        sccs_id,
        {{ dbt.cast("drug_id", dbt.type_int()) }} as drug_id,
        label,
        atc_prefixes
    from source
    union all
    select
        definitions.sccs_id,
        0,
        definitions.exposure_label,
        definitions.exposure_atc
    from definitions
    where exists (
        select 1 from source
        where source.sccs_id = definitions.sccs_id and source.drug_id > 0
    )
)

select * from final
