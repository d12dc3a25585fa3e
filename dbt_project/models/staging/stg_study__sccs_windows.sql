with source as (
    select * from {{ source('study', 'sccs_window') }}
),

final as (
    select
        sccs_id,
        {{ dbt.cast("window_id", dbt.type_int()) }} as window_id,
        label,
        start_day,
        end_day
    from source
)

select * from final
