{{ config(
    tags=['study'],
    materialized='incremental',
    incremental_strategy='tail',
    tail_scope='episode_scope',
    tail_key=['patient_id', 'drug_code'],
    tail_column='episode_number',
    pre_hook=['{{ refresh_lock() }}', '{{ episode_scope() }}'],
    post_hook=['{{ refresh_mark() }}'],
    refresh_vars=['episode_level', 'days_covered_mode', 'fixed_days_ngc', 'fixed_days_gc', 'grace_days',
                  'stockpiling', 'end_delay_days', 'min_purchases', 'purchase_window_days'],
) }}
{#-
  Exposure episodes per patient x drug (drug = ATC code cut at var episode_level).

  Incremental (macros/refresh.sql): for a patient changed from day d (a dispensing, its
  regularisation, his death date; the drug referential: everyone), the episodes that closed
  before d, grace included, stay. The episode still open at d is carried on from a seed row that
  stands for its dispensings before d (its first day, the days it covered, its number of
  dispensings): the coverage recurrence needs nothing else, so a patient treated for years is not
  re-read from his first dispensing. When the open episode had dispensings on or after d (a late
  correction), it is rebuilt from its first dispensing. With min_purchases > 1 a changed patient
  is rebuilt whole (an episode's number counts the purchase groups it drops).
-#}
{%- set incremental = is_incremental() %}
{%- set n = var_int('min_purchases', 1, 1) | int %}

with dispensings as (
    select
        dispensings.patient_id,
        dispensings.drug_code,
        dispensings.dispensing_id,
        dispensings.dispensing_date,
        dispensings.days_covered
    from {{ ref('int_drug_dispensings') }} as dispensings
    {%- if incremental %}
    inner join episode_changes as changes
        on dispensings.patient_id = changes.patient_id
    left join episode_scope as scope
        on dispensings.patient_id = scope.patient_id
        and dispensings.drug_code = scope.drug_code
    where dispensings.dispensing_date >= coalesce(scope.read_from, changes.changed_from)
    union all
    -- the open episode's dispensings before d, as one row covering what they covered
    select
        patient_id,
        drug_code,
        -1 as dispensing_id,
        seed_date as dispensing_date,
        seed_days as days_covered
    from episode_scope
    where seed_date is not null
    {%- endif %}
),

{{ build_episodes(
    'dispensings',
    ['patient_id', 'drug_code'],
    grace_days=var_int('grace_days', 30),
    end_delay_days=var_int('end_delay_days', 0),
    stockpiling=(var_bool('stockpiling', true) | trim == 'true'),
    min_purchases=n,
    purchase_window_days=var_int('purchase_window_days', 0) | int,
) }},

patients as (
    select patient_id, death_date from {{ ref('stg_claims__patients') }}
),

final as (
    select
        episodes.patient_id,
        episodes.drug_code,
        {%- if incremental %}
        (episodes.episode_number + coalesce(scope.kept_episodes, 0))::int as episode_number,
        {%- else %}
        episodes.episode_number,
        {%- endif %}
        episodes.episode_start,
        case
            when patients.death_date < episodes.episode_end then patients.death_date
            else episodes.episode_end
        end as episode_end,
        case
            when patients.death_date < episodes.episode_end then 'death'
            else 'treatment_end'
        end as end_reason,
        {%- if incremental %}
        (episodes.n_dispensings
            + case when episodes.episode_number = 1 and scope.seed_date is not null then scope.seed_dispensings - 1 else 0 end
        )::int as n_dispensings,
        {%- else %}
        episodes.n_dispensings,
        {%- endif %}
        episodes.covered_end,
        episodes.first_dispensing_date,
        {%- if incremental %}
        case
            when episodes.episode_number = 1 and scope.seed_date is not null
                then greatest(episodes.last_dispensing_date, scope.seed_last_date)
            else episodes.last_dispensing_date
        end as last_dispensing_date
        {%- else %}
        episodes.last_dispensing_date
        {%- endif %}
    from episodes
    left join patients
        on episodes.patient_id = patients.patient_id
    {%- if incremental %}
    left join episode_scope as scope
        on episodes.patient_id = scope.patient_id
        and episodes.drug_code = scope.drug_code
    {%- endif %}
    where patients.death_date is null or episodes.episode_start <= patients.death_date
)

select * from final
