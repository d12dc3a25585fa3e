with source as (
    select * from {{ source('claims', 'stay_act') }}
),

final as (
    select
        stay_act_id,
        stay_id,
        {{ dbt.cast("upper(ccam_code)", dbt.type_string()) }} as ccam_code,
        act_date
    from source
)

select * from final
