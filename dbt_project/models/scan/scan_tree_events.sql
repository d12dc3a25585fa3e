{{ config(materialized='table', tags=['scan']) }}
{#-
  Tree-scan counts (self-controlled design on exposed time): for the new users of each drug,
  the new outcomes of each ICD-10 3-character code in their at-risk window, split into those
  whose onset falls on a day exposed to the drug (risk_events: inside one of its episodes) and
  the others (control_events: before initiation, or off treatment after it), with the code's
  block and chapter (the leaves of the tree).

  expected_risk is what the risk count would be with no effect: each event counts its
  patient's share of exposed days among his observed days of that drug (exposed over observed
  days, both inside the at-risk window), so that late initiations, short observation and long
  or short treatments weigh as they do in the person-time. The var scan_tree_gap_days (default
  30) days before initiation count neither as exposed nor as control time, with their events:
  an outcome that leads to the prescription must not look protective.
-#}
{%- set gap = var_int('scan_tree_gap_days', 30, 0) | int %}

with initiations as (
    select * from {{ ref('scan_drug_initiations') }}
),

windows as (
    select * from {{ ref('scan_patient_windows') }}
),

episodes as (
    select * from {{ ref('scan_drug_episodes') }}
),

onsets as (
    select patient_id, outcome_code as icd3, onset_date
    from {{ ref('scan_outcome_onsets') }}
    where outcome_level = 'icd3'
),

blocks as (
    select * from {{ ref('scan_icd10_blocks') }}
),

-- each new user's episodes of the drug (clipped to the at-risk window; end exclusive)
user_episodes as (
    select
        episodes.patient_id,
        episodes.drug_level,
        episodes.drug_code,
        episodes.exposed_start,
        episodes.exposed_end
    from episodes
    inner join initiations
        on episodes.patient_id = initiations.patient_id
        and episodes.drug_level = initiations.drug_level
        and episodes.drug_code = initiations.drug_code
),

exposed_days as (
    select
        patient_id,
        drug_level,
        drug_code,
        sum({{ days_between('exposed_end', 'exposed_start') }}) as exposed_days
    from user_episodes
    group by patient_id, drug_level, drug_code
),

-- each new user's observed days: the at-risk window but the gap before initiation
new_users as (
    select
        initiations.patient_id,
        initiations.drug_level,
        initiations.drug_code,
        initiations.initiation_date,
        {{ days_between('windows.at_risk_end', 'windows.at_risk_start') }} + 1
            - {{ days_between('initiations.initiation_date',
                              'greatest(windows.at_risk_start, initiations.initiation_date - ' ~ gap ~ ')') }}
            as observed_days,
        coalesce(exposed_days.exposed_days, 0) as exposed_days
    from initiations
    inner join windows
        on initiations.patient_id = windows.patient_id
    left join exposed_days
        on initiations.patient_id = exposed_days.patient_id
        and initiations.drug_level = exposed_days.drug_level
        and initiations.drug_code = exposed_days.drug_code
),

-- the new outcomes of each new user outside the gap (onsets are inside the at-risk window)
user_events as (
    select
        new_users.patient_id,
        new_users.drug_level,
        new_users.drug_code,
        onsets.icd3,
        onsets.onset_date,
        -- 12 decimals, summed exactly: the same sum whatever the order of its terms, on either engine
        {{ round_double('cast(new_users.exposed_days as ' ~ double_type() ~ ') / new_users.observed_days', 12) }}
            as exposed_share
    from new_users
    inner join onsets
        on new_users.patient_id = onsets.patient_id
    where onsets.onset_date >= new_users.initiation_date
        or onsets.onset_date < new_users.initiation_date - {{ gap }}
),

flagged as (
    select
        user_events.drug_level,
        user_events.drug_code,
        user_events.icd3,
        user_events.exposed_share,
        user_episodes.patient_id is not null as is_exposed
    from user_events
    left join user_episodes
        on user_events.patient_id = user_episodes.patient_id
        and user_events.drug_level = user_episodes.drug_level
        and user_events.drug_code = user_episodes.drug_code
        and user_events.onset_date >= user_episodes.exposed_start
        and user_events.onset_date < user_episodes.exposed_end
),

leaf_counts as (
    select
        drug_level,
        drug_code,
        icd3,
        count(*) filter (where is_exposed) as risk_events,
        count(*) filter (where not is_exposed) as control_events,
        cast(sum(exposed_share) as {{ double_type() }}) as expected_risk
    from flagged
    group by drug_level, drug_code, icd3
),

-- the chapter of each leaf outside every block (its code inside a chapter's range, the last
-- chapter when ranges overlap)
chapters as (
    select leaves.icd3, max(chapter_blocks.chapter_code) as chapter_code
    from (select distinct icd3 from leaf_counts) as leaves
    inner join blocks as chapter_blocks
        on leaves.icd3 between left(chapter_blocks.chapter_code, 3) and right(chapter_blocks.chapter_code, 3)
    group by leaves.icd3
),

final as (
    select
        leaf_counts.drug_level,
        leaf_counts.drug_code,
        leaf_counts.icd3,
        blocks.block_code,
        coalesce(blocks.chapter_code, chapters.chapter_code, 'other') as chapter_code,
        leaf_counts.risk_events,
        leaf_counts.control_events,
        leaf_counts.expected_risk
    from leaf_counts
    left join blocks
        on leaf_counts.icd3 between blocks.first_code and blocks.last_code
    left join chapters
        on leaf_counts.icd3 = chapters.icd3
)

select * from final
