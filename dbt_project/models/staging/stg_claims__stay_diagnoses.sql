with source as (
    select * from {{ source('claims', 'stay_diagnosis') }}
),

final as (
    select
        stay_id,
        upper(icd10)::text as icd10,
        role::text as role
    from source
)

select * from final
