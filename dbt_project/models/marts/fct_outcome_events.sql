{{ config(materialized='view') }}

select
    outcome_id,
    patient_id,
    event_date
from {{ ref('int_outcome_events') }}
