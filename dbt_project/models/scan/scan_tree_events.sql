{{ config(materialized='table', tags=['scan']) }}
{#-
  Tree-scan counts (self-controlled design): for the new users of each drug, the new outcomes of
  each ICD-10 3-character code whose onset falls in the risk window
  [var scan_risk_start_day, var scan_risk_end_day] (defaults 1, 182) or in the control window
  [var scan_control_start_day, var scan_control_end_day] (defaults 183, 365) after initiation
  (day 0 = first dispensing), with the code's block and chapter: the leaves of the tree.
-#}
{%- set risk_start = var_int('scan_risk_start_day', 1) | int %}
{%- set risk_end = var_int('scan_risk_end_day', 182) | int %}
{%- set control_start = var_int('scan_control_start_day', 183) | int %}
{%- set control_end = var_int('scan_control_end_day', 365) | int %}
{%- if not (risk_start <= risk_end and control_start <= control_end
            and (risk_end < control_start or control_end < risk_start)) %}
    {{ exceptions.raise_compiler_error("scan risk and control windows must be non-empty and must not overlap") }}
{%- endif %}

with initiations as (
    select * from {{ ref('scan_drug_initiations') }}
),

onsets as (
    select * from {{ ref('scan_outcome_onsets') }}
    where outcome_level = 'icd3'
),

blocks as (
    select * from {{ ref('scan_icd10_blocks') }}
),

windowed as (
    select
        initiations.drug_level,
        initiations.drug_code,
        onsets.outcome_code as icd3,
        {{ days_between('onsets.onset_date', 'initiations.initiation_date') }} between {{ risk_start }} and {{ risk_end }} as in_risk
    from initiations
    inner join onsets
        on initiations.patient_id = onsets.patient_id
    where {{ days_between('onsets.onset_date', 'initiations.initiation_date') }} between {{ risk_start }} and {{ risk_end }}
        or {{ days_between('onsets.onset_date', 'initiations.initiation_date') }} between {{ control_start }} and {{ control_end }}
),

leaf_counts as (
    select
        drug_level,
        drug_code,
        icd3,
        count(*) filter (where in_risk) as risk_events,
        count(*) filter (where not in_risk) as control_events
    from windowed
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
        leaf_counts.control_events
    from leaf_counts
    left join blocks
        on leaf_counts.icd3 between blocks.first_code and blocks.last_code
    left join chapters
        on leaf_counts.icd3 = chapters.icd3
)

select * from final
