with source as (
    select * from {{ source('claims', 'stay_act') }}
),

final as (
    select
        stay_act_id,
        stay_id,
        upper(ccam_code)::text as ccam_code,
        act_date
    from source
)

select * from final
