{{ config(materialized='table', schema='pathways', tags=['pathways']) }}
{#-
  Monitoring contacts of each observed month of fct_pathways_monthly_states, per item: the
  counts behind the monitoring level of the states, month by month rather than over 12
  months (the trajectory mixture model of `veille pathways run` reads their totals). One row
  per patient x month x item with at least one contact; months outside observation are left
  out.
-#}
with months as (
    select patient_id, month_index, month_start
    from {{ ref('fct_pathways_monthly_states') }}
    where observed
),

contacts as (
    select * from {{ ref('int_pathways__monitoring_contacts') }}
),

final as (
    select
        months.patient_id,
        months.month_index,
        contacts.item,
        count(*)::int as contact_days
    from months
    inner join contacts
        on months.patient_id = contacts.patient_id
        and contacts.contact_date >= months.month_start
        and contacts.contact_date < {{ add_months('months.month_start', 1) }}
    group by months.patient_id, months.month_index, contacts.item
)

select * from final
