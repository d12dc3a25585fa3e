with source as (
    select * from {{ source('claims', 'patient') }}
),

final as (
    select
        patient_id,
        sex::int as sex,
        birth_year::int as birth_year,
        birth_month::int as birth_month,
        death_date
    from source
)

select * from final
