{{ config(
    tags=['study'],
    materialized='incremental',
    incremental_strategy='tail',
    tail_scope='episode_scope',
    tail_key=['patient_id', 'drug_code'],
    tail_column='episode_number',
    pre_hook=['{{ refresh_lock() }}', "{{ episode_scope(['patient_id', 'drug_code'], exact=(var_int('min_purchases', 1, 1) | int) == 1) }}"],
    post_hook=['{{ refresh_mark() }}'],
    refresh_vars=['episode_level', 'days_covered_mode', 'fixed_days_ngc', 'fixed_days_gc', 'grace_days',
                  'stockpiling', 'end_delay_days', 'min_purchases', 'purchase_window_days'],
) }}
{#-
  Exposure episodes per patient x drug (drug = ATC code cut at var episode_level).

  Incremental (macros/episode_refresh.sql): for a patient changed from day d, the episodes
  closed before d stay; the one open at d is carried on from a seed row standing for its
  dispensings before d, or rebuilt from its first dispensing when a late correction falls inside
  it. With min_purchases > 1 a changed patient is rebuilt whole.
-#}
{%- set keys = ['patient_id', 'drug_code'] %}

with dispensings as (
    {{ episode_dispensings(ref('int_drug_dispensings'), keys) }}
),

{{ build_project_episodes('dispensings', keys, purchases=true) }},

patients as (
    select patient_id, death_date from {{ ref('stg_claims__patients') }}
),

final as (
    select
        episodes.patient_id,
        episodes.drug_code,
        {{ episode_number_column() }} as episode_number,
        episodes.episode_start,
        case
            when patients.death_date < episodes.episode_end then patients.death_date
            else episodes.episode_end
        end as episode_end,
        case
            when patients.death_date < episodes.episode_end then 'death'
            else 'treatment_end'
        end as end_reason,
        {{ episode_dispensings_column() }} as n_dispensings,
        episodes.covered_end,
        episodes.first_dispensing_date,
        {{ episode_last_dispensing_column() }} as last_dispensing_date
    from episodes
    left join patients
        on episodes.patient_id = patients.patient_id
    {%- if is_incremental() %}
    {{ episode_scope_join('episodes', keys) }}
    {%- endif %}
    where patients.death_date is null or episodes.episode_start <= patients.death_date
)

select * from final
