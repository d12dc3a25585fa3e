-- Each criterion leaves at most as many subjects as the one before.
with ordered as (
    select
        *,
        lag(n_exposed) over (partition by cohort_id, outcome_id order by step) as previous_exposed,
        lag(n_comparator) over (partition by cohort_id, outcome_id order by step) as previous_comparator
    from {{ ref('fct_study_attrition') }}
)

select * from ordered
where n_exposed > previous_exposed or n_comparator > previous_comparator
