with source as (
    select * from {{ source('study', 'sccs_outcome') }}
),

final as (
    select
        sccs_id,
        outcome_id,
        is_negative_control
    from source
)

select * from final
