with source as (
    select * from {{ source('ref', 'drug') }}
),

final as (
    select
        {{ dbt.cast("cip13", dbt.type_string()) }} as cip13,
        {{ dbt.cast("atc7", dbt.type_string()) }} as atc7,
        {{ dbt.cast("coalesce(pack_type, 'NGC')", dbt.type_string()) }} as pack_type,
        units_per_pack
    from source
)

select * from final
