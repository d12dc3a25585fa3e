with source as (
    select * from {{ source('ref', 'drug') }}
),

final as (
    select
        cip13::text as cip13,
        atc7::text as atc7,
        coalesce(pack_type, 'NGC')::text as pack_type,
        units_per_pack
    from source
)

select * from final
