-- Observation periods of a patient are disjoint and ordered.
with ordered as (
    select
        patient_id,
        observation_start,
        lag(observation_end) over (partition by patient_id order by observation_start) as previous_end
    from {{ ref('int_observation_periods') }}
)

select * from ordered
where observation_start <= previous_end
