-- Cohort episodes of one cohort x group x patient never overlap.
with ordered as (
    select
        cohort_id,
        drug_group,
        patient_id,
        episode_start,
        lag(episode_end) over (partition by cohort_id, drug_group, patient_id order by episode_start) as previous_end
    from {{ ref('int_study_episodes') }}
)

select * from ordered
where episode_start <= previous_end
