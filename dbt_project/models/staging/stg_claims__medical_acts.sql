with source as (
    select * from {{ source('claims', 'medical_act') }}
),

final as (
    select
        act_id,
        patient_id,
        act_date,
        {{ dbt.cast("upper(ccam_code)", dbt.type_string()) }} as ccam_code
    from source
)

select * from final
