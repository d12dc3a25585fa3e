{{ config(materialized='table', tags=['scan_ddi']) }}
{#-
  Per-case data of a self-controlled case series for each drug pair x outcome of
  scan_ddi_counts (issue 25, the ratio of ratios): one row per case of the outcome (the patients
  of scan_conv_cases: a new onset in the at-risk window) who has an exposure episode of either
  drug in that window (scan_drug_episodes, clipped to it, same drug level), with the window's
  length, each drug's exposed days and the pair's joint days (scan_ddi_coexposure) in it, and
  whether the onset fell in an episode of drug_a, of drug_b, in a joint interval. One drug's
  episodes of a patient do not overlap (grace merge, end_delay_days <= grace_days), so the
  days are plain sums.
-#}

with triples as (
    select drug_level, drug_a, drug_b, outcome_code from {{ ref('scan_ddi_counts') }}
),

episodes as (
    select * from {{ ref('scan_drug_episodes') }}
),

coexposure as (
    select * from {{ ref('scan_ddi_coexposure') }}
),

onsets as (
    select * from {{ ref('scan_outcome_onsets') }}
    where outcome_level = 'icd3'
),

cases as (
    select
        conv_cases.outcome_code,
        conv_cases.patient_id,
        conv_cases.n_days as window_days,
        onsets.onset_date
    from {{ ref('scan_conv_cases') }} as conv_cases
    inner join onsets
        on conv_cases.patient_id = onsets.patient_id
        and conv_cases.outcome_code = onsets.outcome_code
),

-- the drugs of some pair screened against each outcome
triple_drugs as (
    select drug_level, outcome_code, drug_a as drug_code from triples
    union
    select drug_level, outcome_code, drug_b from triples
),

case_drug_days as (
    select
        cases.outcome_code,
        cases.patient_id,
        cases.window_days,
        episodes.drug_level,
        episodes.drug_code,
        cast(sum({{ days_between('episodes.exposed_end', 'episodes.exposed_start') }}) as bigint) as exposed_days,
        max(case when cases.onset_date >= episodes.exposed_start and cases.onset_date < episodes.exposed_end
            then 1 else 0 end) as onset_exposed
    from cases
    inner join episodes
        on cases.patient_id = episodes.patient_id
    inner join triple_drugs
        on episodes.drug_level = triple_drugs.drug_level
        and episodes.drug_code = triple_drugs.drug_code
        and cases.outcome_code = triple_drugs.outcome_code
    group by cases.outcome_code, cases.patient_id, cases.window_days, episodes.drug_level, episodes.drug_code
),

case_drug_roles as (
    select
        triples.drug_level,
        triples.drug_a,
        triples.drug_b,
        triples.outcome_code,
        case_drug_days.patient_id,
        case_drug_days.window_days,
        case_drug_days.exposed_days as days_a,
        cast(0 as bigint) as days_b,
        case_drug_days.onset_exposed as event_a,
        0 as event_b
    from triples
    inner join case_drug_days
        on triples.drug_level = case_drug_days.drug_level
        and triples.outcome_code = case_drug_days.outcome_code
        and triples.drug_a = case_drug_days.drug_code
    union all
    select
        triples.drug_level,
        triples.drug_a,
        triples.drug_b,
        triples.outcome_code,
        case_drug_days.patient_id,
        case_drug_days.window_days,
        cast(0 as bigint),
        case_drug_days.exposed_days,
        0,
        case_drug_days.onset_exposed
    from triples
    inner join case_drug_days
        on triples.drug_level = case_drug_days.drug_level
        and triples.outcome_code = case_drug_days.outcome_code
        and triples.drug_b = case_drug_days.drug_code
),

case_pairs as (
    select
        drug_level,
        drug_a,
        drug_b,
        outcome_code,
        patient_id,
        window_days,
        sum(days_a) as days_a,
        sum(days_b) as days_b,
        max(event_a) as event_a,
        max(event_b) as event_b
    from case_drug_roles
    group by drug_level, drug_a, drug_b, outcome_code, patient_id, window_days
),

case_joint as (
    select
        triples.drug_level,
        triples.drug_a,
        triples.drug_b,
        triples.outcome_code,
        cases.patient_id,
        sum(coexposure.joint_days) as days_ab,
        max(case when cases.onset_date >= coexposure.joint_start and cases.onset_date < coexposure.joint_end
            then 1 else 0 end) as event_ab
    from triples
    inner join coexposure
        on triples.drug_level = coexposure.drug_level
        and triples.drug_a = coexposure.drug_a
        and triples.drug_b = coexposure.drug_b
    inner join cases
        on coexposure.patient_id = cases.patient_id
        and triples.outcome_code = cases.outcome_code
    group by triples.drug_level, triples.drug_a, triples.drug_b, triples.outcome_code, cases.patient_id
),

final as (
    select
        case_pairs.drug_level,
        case_pairs.drug_a,
        case_pairs.drug_b,
        case_pairs.outcome_code,
        case_pairs.patient_id,
        cast(case_pairs.window_days as int) as window_days,
        cast(case_pairs.days_a as bigint) as days_a,
        cast(case_pairs.days_b as bigint) as days_b,
        cast(coalesce(case_joint.days_ab, 0) as bigint) as days_ab,
        cast(case_pairs.event_a as int) as event_a,
        cast(case_pairs.event_b as int) as event_b,
        cast(coalesce(case_joint.event_ab, 0) as int) as event_ab
    from case_pairs
    left join case_joint
        on case_pairs.drug_level = case_joint.drug_level
        and case_pairs.drug_a = case_joint.drug_a
        and case_pairs.drug_b = case_joint.drug_b
        and case_pairs.outcome_code = case_joint.outcome_code
        and case_pairs.patient_id = case_joint.patient_id
)

select * from final
