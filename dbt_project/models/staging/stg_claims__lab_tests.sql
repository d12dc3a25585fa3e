with source as (
    select * from {{ source('claims', 'lab_test') }}
),

final as (
    select
        lab_test_id,
        patient_id,
        test_date
    from source
)

select * from final
