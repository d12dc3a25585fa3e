{{ config(materialized='table', tags=['scan_ddi']) }}
{#-
  Joint exposure of two drugs (the interaction screen, issue 25): for every pair of drugs of one
  screen level taken together by at least var scan_ddi_min_patients (20) patients, each
  interval [joint_start, joint_end) over which a patient's episodes of both overlap, clipped to
  the at-risk window (scan_drug_episodes). Only episodes of the same patient are compared, and
  only of drugs that themselves have that many users (a pair has no more co-users than its
  rarer drug): no patient-day and no all-pairs expansion. Episodes that touch (one ends the day
  the other starts) do not overlap. drug_a sorts before drug_b.
-#}
{%- set min_patients = var_int('scan_ddi_min_patients', 20, 1) %}

with episodes as (
    select * from {{ ref('scan_drug_episodes') }}
),

frequent_drugs as (
    select drug_level, drug_code
    from episodes
    group by drug_level, drug_code
    having count(distinct patient_id) >= {{ min_patients }}
),

candidates as (
    select episodes.patient_id, episodes.drug_level, episodes.drug_code, episodes.exposed_start,
        episodes.exposed_end
    from episodes
    inner join frequent_drugs
        on episodes.drug_level = frequent_drugs.drug_level
        and episodes.drug_code = frequent_drugs.drug_code
),

joint_intervals as (
    select
        a.patient_id,
        a.drug_level,
        a.drug_code as drug_a,
        b.drug_code as drug_b,
        greatest(a.exposed_start, b.exposed_start) as joint_start,
        least(a.exposed_end, b.exposed_end) as joint_end
    from candidates as a
    inner join candidates as b
        on a.patient_id = b.patient_id
        and a.drug_level = b.drug_level
        and a.drug_code < b.drug_code
        and a.exposed_start < b.exposed_end
        and b.exposed_start < a.exposed_end
),

frequent_pairs as (
    select drug_level, drug_a, drug_b
    from joint_intervals
    group by drug_level, drug_a, drug_b
    having count(distinct patient_id) >= {{ min_patients }}
),

final as (
    select
        joint_intervals.patient_id,
        joint_intervals.drug_level,
        joint_intervals.drug_a,
        joint_intervals.drug_b,
        joint_intervals.joint_start,
        joint_intervals.joint_end,
        cast({{ days_between('joint_intervals.joint_end', 'joint_intervals.joint_start') }} as int) as joint_days
    from joint_intervals
    inner join frequent_pairs
        on joint_intervals.drug_level = frequent_pairs.drug_level
        and joint_intervals.drug_a = frequent_pairs.drug_a
        and joint_intervals.drug_b = frequent_pairs.drug_b
)

select * from final
