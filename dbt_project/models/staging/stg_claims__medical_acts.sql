with source as (
    select * from {{ source('claims', 'medical_act') }}
),

final as (
    select
        act_id,
        patient_id,
        act_date,
        upper(ccam_code)::text as ccam_code
    from source
)

select * from final
