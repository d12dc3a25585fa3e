{{ config(
    tags=['study'],
    materialized='incremental',
    incremental_strategy='tail',
    on_schema_change='append_new_columns',
    tail_scope='group_scope',
    tail_key=['patient_id'],
    tail_column='dispensing_date',
    pre_hook=['{{ refresh_lock() }}', "{{ changes_scope('group_scope', ['dispensing', 'drug']) }}"],
    post_hook=['{{ refresh_mark() }}'],
    refresh_registry=true,
) }}
{#-
  Dispensings of each cohort's drug groups: exposure, comparator (active designs), base
  population (base_atc) and drugs non-user comparators must never have used (exclude: those
  prefixes minus the exposure's own drugs, so that an exclude dispensing is always another
  drug), matched on ATC prefixes; one row per cohort x group x dispensing.

  Incremental (macros/refresh.sql): a row is its dispensing's alone, so a patient changed from
  day d gets his rows from d on replaced, read through the dispensings' (patient_id, date) index
  (a change of the drug referential or of the registry: every row).
-#}

with cohorts as (
    select * from {{ ref('int_study_cohorts') }}
),

group_prefixes as (
    select cohort_id, 'exposure' as drug_group, {{ unnest_array('exposure_atc') }} as atc_prefix from cohorts
    union all
    select cohort_id, 'comparator', {{ unnest_array('comparator_atc') }} from cohorts where comparator_kind = 'active'
    union all
    select cohort_id, 'base', {{ unnest_array('base_atc') }} from cohorts
    union all
    select cohort_id, 'exclude', {{ unnest_array('comparator_exclude_atc') }} from cohorts where comparator_kind = 'non_user'
),

group_drugs as (
    select distinct
        group_prefixes.cohort_id,
        group_prefixes.drug_group,
        drugs.cip13
    from group_prefixes
    inner join {{ ref('stg_ref__drugs') }} as drugs
        on drugs.atc7 like upper(group_prefixes.atc_prefix) || '%'
),

kept_drugs as (
    select group_drugs.*
    from group_drugs
    where group_drugs.drug_group <> 'exclude'
        or not exists (
            select 1
            from group_drugs as exposure_drugs
            where exposure_drugs.cohort_id = group_drugs.cohort_id
                and exposure_drugs.cip13 = group_drugs.cip13
                and exposure_drugs.drug_group = 'exposure'
        )
),

final as (
    select
        group_drugs.cohort_id,
        group_drugs.drug_group,
        dispensings.patient_id,
        dispensings.dispensing_id,
        dispensings.dispensing_date,
        dispensings.atc7,
        dispensings.days_covered
    from kept_drugs as group_drugs
    inner join (
        {{ tail_rows(ref('int_drug_dispensings'), 'dispensing_date', 'group_scope') }}
    ) as dispensings
        on group_drugs.cip13 = dispensings.cip13
)

select * from final
