{{ config(
    materialized='incremental', incremental_strategy='delete+insert', unique_key='month',
    schema='fraud', tags=['fraud'], indexes=[{'columns': ['month', 'provider_id']}]
) }}
{#- Provider x flow month: the feature vector the peer scoring compares. Peer group = provider
    kind and specialty. -#}
{%- set month = var('fraud_month', none) %}

with events as (
    select * from {{ ref('fraud_provider_events') }}
    {%- if month %}
    where month = '{{ month }}-01'::date
    {%- endif %}
),

patients as (
    select * from {{ source('claims', 'patient') }}
),

providers as (
    select * from {{ source('fraud_claims', 'provider') }}
),

shoppers as (
    select distinct month, patient_id
    from {{ ref('fraud_shopping_patients') }}
    where is_shopper
    {%- if month %}
        and month = '{{ month }}-01'::date
    {%- endif %}
),

per_day as (
    select month, provider_id, event_date, count(*) as lines, sum(minutes) as minutes
    from events
    group by month, provider_id, event_date
),

busiest_day as (
    select month, provider_id, max(lines) as max_daily_lines, max(minutes) / 60.0 as max_daily_hours
    from per_day
    group by month, provider_id
),

duplicates as (
    select month, provider_id, sum(n - 1) as same_day_duplicates
    from (
        select month, provider_id, patient_id, event_date, role, code, count(*) as n
        from events
        group by month, provider_id, patient_id, event_date, role, code
        having count(*) > 1
    ) as repeated
    group by month, provider_id
),

-- one row per provider x month x patient: every patient count below is a count of these rows,
-- not a count(distinct) that sorts all the month's lines inside each provider (five times)
provider_patients as (
    select
        events.month,
        events.provider_id,
        events.patient_id,
        patients.residence_dpt,
        count(*) as n_lines,
        sum(events.amount) as amount,
        count(*) filter (where events.is_drug) as n_drug_lines,
        count(*) filter (where events.is_controlled) as n_controlled_lines,
        count(*) filter (where events.event_date > patients.death_date) as dead_patient_lines
    from events
    inner join patients on events.patient_id = patients.patient_id
    group by events.month, events.provider_id, events.patient_id, patients.residence_dpt
),

patient_departments as (
    select month, provider_id, residence_dpt, count(*) as n
    from provider_patients
    where residence_dpt is not null
    group by month, provider_id, residence_dpt
),

home_department as (
    select distinct on (month, provider_id) month, provider_id, residence_dpt
    from patient_departments
    order by month, provider_id, n desc, residence_dpt
),

per_provider as (
    select
        provider_patients.month,
        provider_patients.provider_id,
        sum(provider_patients.n_lines)::int as n_lines,
        count(*)::int as n_patients,
        sum(provider_patients.amount) as amount,
        sum(provider_patients.n_drug_lines)::int as n_drug_lines,
        sum(provider_patients.n_controlled_lines)::int as n_controlled_lines,
        (count(*) filter (where provider_patients.n_drug_lines > 0))::int as n_drug_patients,
        (count(*) filter (where provider_patients.n_controlled_lines > 0))::int as n_controlled_patients,
        sum(provider_patients.dead_patient_lines)::int as dead_patient_lines,
        (count(*) filter (
            where provider_patients.residence_dpt <> home_department.residence_dpt))::int as distant_patients,
        (count(*) filter (where shoppers.patient_id is not null))::int as shopper_patients
    from provider_patients
    left join home_department
        on provider_patients.month = home_department.month
        and provider_patients.provider_id = home_department.provider_id
    left join shoppers
        on provider_patients.month = shoppers.month and provider_patients.patient_id = shoppers.patient_id
    group by provider_patients.month, provider_patients.provider_id
),

final as (
    select
        per_provider.month,
        per_provider.provider_id,
        coalesce(providers.kind, 'professional') || ':' || coalesce(providers.specialty, '-') as peer_group,
        per_provider.n_lines,
        per_provider.n_patients,
        round(per_provider.n_lines::numeric / per_provider.n_patients, 4) as lines_per_patient,
        round(per_provider.amount / per_provider.n_patients, 2) as amount_per_patient,
        round(per_provider.n_controlled_lines::numeric / nullif(per_provider.n_drug_lines, 0), 4) as controlled_line_share,
        round(per_provider.n_controlled_patients::numeric / nullif(per_provider.n_drug_patients, 0), 4) as controlled_patient_share,
        per_provider.dead_patient_lines,
        coalesce(duplicates.same_day_duplicates, 0)::int as same_day_duplicates,
        busiest_day.max_daily_lines::int as max_daily_lines,
        round(busiest_day.max_daily_hours, 2) as max_daily_hours,
        round(per_provider.distant_patients::numeric / per_provider.n_patients, 4) as distant_patient_share,
        per_provider.shopper_patients,
        per_provider.n_drug_lines,
        per_provider.n_controlled_lines,
        per_provider.n_drug_patients
    from per_provider
    left join providers on per_provider.provider_id = providers.provider_id
    left join busiest_day
        on per_provider.month = busiest_day.month and per_provider.provider_id = busiest_day.provider_id
    left join duplicates
        on per_provider.month = duplicates.month and per_provider.provider_id = duplicates.provider_id
)

select * from final
