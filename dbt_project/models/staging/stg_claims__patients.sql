with source as (
    select * from {{ source('claims', 'patient') }}
),

final as (
    select
        patient_id,
        {{ dbt.cast("sex", dbt.type_int()) }} as sex,
        {{ dbt.cast("birth_year", dbt.type_int()) }} as birth_year,
        {{ dbt.cast("birth_month", dbt.type_int()) }} as birth_month,
        death_date
    from source
)

select * from final
