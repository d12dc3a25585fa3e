{{ config(tags=['study']) }}
{#- Exposure episodes per patient x drug (drug = ATC code cut at var episode_level). -#}

with dispensings as (
    select
        patient_id,
        drug_code,
        dispensing_id,
        dispensing_date,
        days_covered
    from {{ ref('int_drug_dispensings') }}
),

{{ build_episodes(
    'dispensings',
    ['patient_id', 'drug_code'],
    grace_days=var_int('grace_days', 30),
    end_delay_days=var_int('end_delay_days', 0),
    stockpiling=(var_bool('stockpiling', true) | trim == 'true'),
    min_purchases=var_int('min_purchases', 1, 1) | int,
    purchase_window_days=var_int('purchase_window_days', 0) | int,
) }},

patients as (
    select patient_id, death_date from {{ ref('stg_claims__patients') }}
),

final as (
    select
        episodes.patient_id,
        episodes.drug_code,
        episodes.episode_number,
        episodes.episode_start,
        case
            when patients.death_date < episodes.episode_end then patients.death_date
            else episodes.episode_end
        end as episode_end,
        case
            when patients.death_date < episodes.episode_end then 'death'
            else 'treatment_end'
        end as end_reason,
        episodes.n_dispensings
    from episodes
    left join patients
        on episodes.patient_id = patients.patient_id
    where patients.death_date is null or episodes.episode_start <= patients.death_date
)

select * from final
