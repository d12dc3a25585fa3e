with source as (
    select * from {{ source('claims', 'hospital_stay') }}
),

final as (
    select
        stay_id,
        patient_id,
        admission_date,
        discharge_date,
        exit_mode::text as exit_mode
    from source
)

select * from final
