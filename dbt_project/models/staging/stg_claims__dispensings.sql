with source as (
    select * from {{ source('claims', 'dispensing') }}
),

final as (
    select
        dispensing_id,
        patient_id,
        dispensing_date,
        {{ dbt.cast("cip13", dbt.type_string()) }} as cip13,
        packs
    from source
)

select * from final
