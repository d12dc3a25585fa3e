with source as (
    select * from {{ source('study', 'cohort_exposure_category') }}
),

final as (
    select
        cohort_id,
        measure,
        category_number,
        lower_bound,
        -- the next category's lower bound (null for the last one)
        lead(lower_bound) over (partition by cohort_id, measure order by category_number) as upper_bound,
        unit,
        label
    from source
)

select * from final
