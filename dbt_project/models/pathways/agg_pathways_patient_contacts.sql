{{ config(materialized='table', schema='pathways', tags=['pathways']) }}
{#- Monitoring contact days per patient and item over all the patient's observed months
    (fct_pathways_monthly_contacts): the channels of the trajectory mixture model. -#}

with contacts as (
    select * from {{ ref('fct_pathways_monthly_contacts') }}
),

final as (
    select patient_id, item, cast(sum(contact_days) as int) as contact_days
    from contacts
    group by patient_id, item
)

select * from final
