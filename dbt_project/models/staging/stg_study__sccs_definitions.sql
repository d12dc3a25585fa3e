with source as (
    select * from {{ source('study', 'sccs_definition') }}
),

final as (
    select
        sccs_id,
        study_id,
        exposure_label,
        exposure_atc,
        age_min,
        age_max,
        {{ dbt.cast("sex", dbt.type_int()) }} as sex,
        study_start,
        study_end,
        grace_days,
        pre_exposure_days,
        age_group_bounds,
        calendar_adjustment
    from source
)

select * from final
