with source as (
    select * from {{ source('claims', 'dispensing') }}
),

final as (
    select
        dispensing_id,
        patient_id,
        dispensing_date,
        cip13::text as cip13,
        packs
    from source
)

select * from final
