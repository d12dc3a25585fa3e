with source as (
    select * from {{ source('claims', 'service_line') }}
),

final as (
    select
        service_id,
        patient_id,
        service_date
    from source
)

select * from final
