{{ config(tags=['study']) }}
{#-
  Exposure episodes of each self-controlled case series' drugs, for the series' cases only
  (int_sccs_cases): drug 0 is the series' exposure (its exposure_atc, all drugs together), drugs
  1.. are those of the multi-drug series, drug -1 the object drug of an interaction series
  (stg_study__sccs_drugs). Built by build_episodes with the series' grace_days and no end delay
  (var stockpiling applies). Read by fct_sccs_intervals (drugs 0 and -1) and
  fct_sccs_conv_starts (drugs 0 and 1..).
-#}

with drug_cips as (
    select * from {{ ref('int_sccs_drug_cips') }}
),

drug_dispensings as (
    select
        drug_cips.sccs_id,
        drug_cips.drug_id,
        drug_cips.grace_days,
        dispensings.patient_id,
        dispensings.dispensing_id,
        dispensings.dispensing_date,
        dispensings.days_covered
    from drug_cips
    inner join {{ ref('int_drug_dispensings') }} as dispensings
        on drug_cips.cip13 = dispensings.cip13
),

dispensings as (
    select
        drug_dispensings.*,
        0 as end_delay_days
    from drug_dispensings
    where exists (
        select 1 from {{ ref('int_sccs_cases') }} as cases
        where cases.sccs_id = drug_dispensings.sccs_id
            and cases.patient_id = drug_dispensings.patient_id
    )
),

{{ build_episodes(
    'dispensings',
    ['sccs_id', 'drug_id', 'patient_id'],
    grace_days='grace_days',
    end_delay_days='end_delay_days',
    stockpiling=(var_bool('stockpiling', true) | trim == 'true'),
) }},

final as (
    select sccs_id, drug_id, patient_id, episode_start, episode_end from episodes
)

select * from final
