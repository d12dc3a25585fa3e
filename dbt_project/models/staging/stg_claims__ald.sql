with source as (
    select * from {{ source('claims', 'ald') }}
),

final as (
    select
        ald_id,
        patient_id,
        {{ dbt.cast("ald_number", dbt.type_int()) }} as ald_number,
        {{ dbt.cast("upper(icd10)", dbt.type_string()) }} as icd10,
        start_date,
        end_date
    from source
)

select * from final
