-- Episodes of one patient x drug never overlap: each starts after the previous one ended.
with ordered as (
    select
        patient_id,
        drug_code,
        episode_start,
        lag(episode_end) over (partition by patient_id, drug_code order by episode_start) as previous_end
    from {{ ref('int_drug_episodes_built') }}
)

select * from ordered
where episode_start <= previous_end
