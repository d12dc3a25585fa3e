{{ config(
    tags=['scan'],
    materialized='incremental',
    incremental_strategy='tail',
    tail_scope='episode_scope',
    tail_key=['patient_id', 'drug_level', 'drug_code'],
    tail_column='episode_number',
    pre_hook=['{{ refresh_lock() }}', "{{ episode_scope(['patient_id', 'drug_level', 'drug_code']) }}"],
    post_hook=['{{ refresh_mark() }}'],
    refresh_vars=['grace_days', 'stockpiling', 'end_delay_days'],
) }}
{#-
  Exposure episodes of each drug at both screen levels (ATC7 and ATC5), built by the shared
  build_episodes macro with the project's episode vars (grace_days, stockpiling,
  end_delay_days), over the patient's whole history (scan_drug_episodes clips them to the
  at-risk window, which moves with the end of the data).

  Incremental (macros/episode_refresh.sql), as int_drug_episodes_built: a changed patient keeps
  his episodes closed before his first changed day and carries on the one open at it.
-#}
{%- set keys = ['patient_id', 'drug_level', 'drug_code'] %}

with level_dispensings as (
    select patient_id, 'atc7' as drug_level, atc7 as drug_code, dispensing_id, dispensing_date, days_covered
    from {{ ref('int_drug_dispensings') }}
    union all
    select patient_id, 'atc5', left(atc7, 5), dispensing_id, dispensing_date, days_covered
    from {{ ref('int_drug_dispensings') }}
),

dispensings as (
    {{ episode_dispensings('level_dispensings', keys) }}
),

{{ build_project_episodes('dispensings', keys) }},

final as (
    select
        episodes.patient_id,
        episodes.drug_level,
        episodes.drug_code,
        {{ episode_number_column() }} as episode_number,
        episodes.episode_start,
        episodes.episode_end,
        episodes.covered_end,
        episodes.first_dispensing_date,
        {{ episode_last_dispensing_column() }} as last_dispensing_date,
        {{ episode_dispensings_column() }} as n_dispensings
    from episodes
    {%- if is_incremental() %}
    {{ episode_scope_join('episodes', keys) }}
    {%- endif %}
)

select * from final
