with source as (
    select * from {{ source('ref', 'drug') }}
),

final as (
    select
        {{ dbt.cast("cip13", dbt.type_string()) }} as cip13,
        {{ dbt.cast("atc7", dbt.type_string()) }} as atc7,
        {{ dbt.cast("coalesce(pack_type, 'NGC')", dbt.type_string()) }} as pack_type,
        units_per_pack,
        {{ dbt.cast("dosage_text", dbt.type_string()) }} as dosage_text,
        dosage,
        {{ dbt.cast("dosage_unit", dbt.type_string()) }} as dosage_unit
    from source
)

select * from final
