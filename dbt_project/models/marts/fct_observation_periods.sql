{{ config(materialized='view') }}

select
    patient_id,
    observation_period_number,
    observation_start,
    observation_end,
    end_reason
from {{ ref('int_observation_periods') }}
