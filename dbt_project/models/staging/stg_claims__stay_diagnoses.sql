with source as (
    select * from {{ source('claims', 'stay_diagnosis') }}
),

final as (
    select
        stay_id,
        {{ dbt.cast("upper(icd10)", dbt.type_string()) }} as icd10,
        {{ dbt.cast("role", dbt.type_string()) }} as role
    from source
)

select * from final
