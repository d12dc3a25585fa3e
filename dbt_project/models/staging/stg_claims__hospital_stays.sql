with source as (
    select * from {{ source('claims', 'hospital_stay') }}
),

final as (
    select
        stay_id,
        patient_id,
        admission_date,
        discharge_date,
        {{ dbt.cast("exit_mode", dbt.type_string()) }} as exit_mode
    from source
)

select * from final
