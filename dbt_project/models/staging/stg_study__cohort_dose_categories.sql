with source as (
    select * from {{ source('study', 'cohort_dose_category') }}
),

final as (
    select
        cohort_id,
        category_number,
        lower_bound,
        -- the next category's lower bound (null for the last one)
        lead(lower_bound) over (partition by cohort_id order by category_number) as upper_bound,
        dose_unit,
        label
    from source
)

select * from final
