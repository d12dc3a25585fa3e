with source as (
    select * from {{ source('study', 'cohort_outcome') }}
),

final as (
    select
        cohort_id,
        outcome_id,
        lookback_days,
        is_negative_control
    from source
)

select * from final
