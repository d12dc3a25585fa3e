with source as (
    select * from {{ source('claims', 'ald') }}
),

final as (
    select
        ald_id,
        patient_id,
        ald_number::int as ald_number,
        upper(icd10)::text as icd10,
        start_date,
        end_date
    from source
)

select * from final
