{{ config(materialized='view') }}

select
    patient_id,
    drug_code,
    episode_number,
    episode_start,
    episode_end,
    end_reason,
    n_dispensings
from {{ ref('int_drug_episodes_built') }}
