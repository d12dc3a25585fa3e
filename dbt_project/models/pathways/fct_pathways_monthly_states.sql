{{ config(materialized='table', schema='pathways', tags=['pathways']) }}
{#-
  Monthly care states of the patients treated with a line class (glucose-lowering drugs by
  default), over var pathways_months (60) months from the month of their first line-class
  dispensing. A month's state, read on its 15th day:
  * treatment: 0 none, 1 one class, 2 two or more classes without insulin, 3 insulin
    (from int_pathways__therapy_segments);
  * monitoring, over the 12 months around it (6 before, the month, 5 after): 0 low, 1 regular =
    at least var pathways_monitoring_threshold (4) monitoring contacts (day x item of
    int_pathways__monitoring_contacts), 2 complete = regular and a contact with an item of var
    pathways_complete_items (microalbumin: the yearly renal screening of the guidelines) in
    those 12 months;
  * hospitalised: 1 when a hospital stay overlaps the month;
  * observed: false outside the observation periods (and after death).
  state = 'A' + 6 * treatment + 2 * monitoring + hospitalised ('A'..'X'), '.' when not observed.
-#}
{%- set months = var('pathways_months', 60) %}
{%- set threshold = var('pathways_monitoring_threshold', 4) %}
{%- set complete_items = var('pathways_complete_items', ['microalbumin']) %}
{%- set items = pathways_monitoring_items() %}
{%- for item in complete_items %}
    {%- if item not in items %}
        {{ exceptions.raise_compiler_error("var pathways_complete_items: '" ~ item ~ "' is not an item of pathways_monitoring_items (" ~ (items.keys() | join(', ')) ~ ")") }}
    {%- endif %}
{%- endfor %}

with classes as (
    select * from {{ ref('int_pathways__drug_classes') }}
    where class_role = 'line'
),

segments as (
    select * from {{ ref('int_pathways__therapy_segments') }}
),

dispensings as (
    select * from {{ ref('int_drug_dispensings') }}
),

observation as (
    select * from {{ ref('fct_observation_periods') }}
),

stays as (
    select patient_id, admission_date, discharge_date from {{ source('claims', 'hospital_stay') }}
),

index_dates as (
    select
        dispensings.patient_id,
        min(dispensings.dispensing_date) as index_date
    from dispensings
    inner join classes
        on dispensings.atc7 like classes.atc_prefix || '%'
    group by dispensings.patient_id
),

patient_months as (
    select
        index_dates.patient_id,
        index_dates.index_date,
        month_index.m::int as month_index,
        {{ dbt.cast(dbt.dateadd('month', 'month_index.m', dbt.date_trunc('month', 'index_dates.index_date')), 'date') }} as month_start
    from index_dates
    cross join lateral {{ int_series('0', months ~ ' - 1') }} as month_index (m)
),

contacts as (
    select * from {{ ref('int_pathways__monitoring_contacts') }}
),

monitoring as (
    select
        patient_months.patient_id,
        patient_months.month_index,
        count(*) as contacts,
        bool_or(contacts.item in ('{{ complete_items | join("', '") }}')) as complete
    from patient_months
    inner join contacts
        on patient_months.patient_id = contacts.patient_id
        and contacts.contact_date >= {{ add_months('patient_months.month_start', -6) }}
        and contacts.contact_date < {{ add_months('patient_months.month_start', 6) }}
    group by patient_months.patient_id, patient_months.month_index
),

treatment as (
    select
        patient_months.patient_id,
        patient_months.month_index,
        max(
            case
                when segments.regimen like '%insulin%' then 3
                when segments.regimen like '%+%' then 2
                else 1
            end
        ) as treatment
    from patient_months
    inner join segments
        on patient_months.patient_id = segments.patient_id
        and segments.segment_start <= patient_months.month_start + 14
        and segments.segment_end > patient_months.month_start + 14
    group by patient_months.patient_id, patient_months.month_index
),

hospitalised as (
    select distinct
        patient_months.patient_id,
        patient_months.month_index
    from patient_months
    inner join stays
        on patient_months.patient_id = stays.patient_id
        and stays.admission_date < {{ add_months('patient_months.month_start', 1) }}
        and stays.discharge_date >= patient_months.month_start
),

observed as (
    select distinct
        patient_months.patient_id,
        patient_months.month_index
    from patient_months
    inner join observation
        on patient_months.patient_id = observation.patient_id
        and observation.observation_start <= patient_months.month_start + 14
        and observation.observation_end >= patient_months.month_start + 14
),

final as (
    select
        patient_months.patient_id,
        patient_months.index_date,
        patient_months.month_index,
        patient_months.month_start,
        observed.patient_id is not null as observed,
        coalesce(treatment.treatment, 0)::int as treatment,
        case
            when coalesce(monitoring.contacts, 0) < {{ threshold }} then 0
            when monitoring.complete then 2
            else 1
        end as monitoring,
        (hospitalised.patient_id is not null)::int as hospitalised,
        case
            when observed.patient_id is null then '.'
            else chr(
                65 + 6 * coalesce(treatment.treatment, 0)
                + 2 * case
                    when coalesce(monitoring.contacts, 0) < {{ threshold }} then 0
                    when monitoring.complete then 2
                    else 1
                end
                + (hospitalised.patient_id is not null)::int
            )
        end as state
    from patient_months
    left join observed
        on patient_months.patient_id = observed.patient_id
        and patient_months.month_index = observed.month_index
    left join treatment
        on patient_months.patient_id = treatment.patient_id
        and patient_months.month_index = treatment.month_index
    left join monitoring
        on patient_months.patient_id = monitoring.patient_id
        and patient_months.month_index = monitoring.month_index
    left join hospitalised
        on patient_months.patient_id = hospitalised.patient_id
        and patient_months.month_index = hospitalised.month_index
)

select * from final
