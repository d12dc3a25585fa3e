with source as (
    select * from {{ source('study', 'cohort_definition') }}
),

final as (
    select
        cohort_id,
        study_id,
        exposure_label,
        exposure_atc,
        comparator_kind,
        comparator_label,
        comparator_atc,
        comparator_exclude_atc,
        base_atc,
        washout_days,
        min_prior_observation_days,
        age_min,
        age_max,
        {{ dbt.cast("sex", dbt.type_int()) }} as sex,
        study_start,
        study_end,
        min_purchases,
        purchase_window_days,
        strategy,
        grace_days,
        end_delay_days,
        start_delay_days,
        max_followup_days,
        covariate_atc
    from source
)

select * from final
