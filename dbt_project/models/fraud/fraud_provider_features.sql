{{ config(
    materialized='incremental', incremental_strategy='delete+insert', unique_key='month',
    schema='fraud', tags=['fraud'], indexes=[{'columns': ['month', 'provider_id']}],
    meta={'planner': {'enable_mergejoin': 'off', 'work_mem': '1048576'}}
) }}
{#- Provider x flow month: the feature vector the peer scoring compares. Peer group = provider
    kind and specialty.
    Planner settings (meta): every claim line of every provider is aggregated three ways (tens of
    millions of lines on a large extract). enable_mergejoin off: the dispensings read through
    fraud_dispensings were sorted (6.4 M rows, twice) to merge-join 47 drugs; hash joins stream.
    work_mem 1048576 kB (1 GB, 2 GB per hash with hash_mem_multiplier 2): the provider x patient
    and duplicate-line hash aggregates spill less (stress profile at 200,000 patients: 65 and 21
    batches at 256 MB, 17 and 5 at 1 GB); they still spill, linearly, beyond that. -#}
{%- set month = fraud_month() %}

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

-- the patient counts and sums per provider x month x patient department: the home department
-- and the per-provider figures both come from these rows (one pass over the patients)
department_patients as (
    select
        provider_patients.month,
        provider_patients.provider_id,
        provider_patients.residence_dpt,
        count(*) as n_patients,
        sum(provider_patients.n_lines) as n_lines,
        sum(provider_patients.amount) as amount,
        sum(provider_patients.n_drug_lines) as n_drug_lines,
        sum(provider_patients.n_controlled_lines) as n_controlled_lines,
        count(*) filter (where provider_patients.n_drug_lines > 0) as n_drug_patients,
        count(*) filter (where provider_patients.n_controlled_lines > 0) as n_controlled_patients,
        sum(provider_patients.dead_patient_lines) as dead_patient_lines,
        count(shoppers.patient_id) as shopper_patients
    from provider_patients
    left join shoppers
        on provider_patients.month = shoppers.month and provider_patients.patient_id = shoppers.patient_id
    group by provider_patients.month, provider_patients.provider_id, provider_patients.residence_dpt
),

home_department as (
    select month, provider_id, residence_dpt, n_patients
    from (
        select month, provider_id, residence_dpt, n_patients,
            row_number() over (partition by month, provider_id order by n_patients desc, residence_dpt) as k
        from department_patients
        where residence_dpt is not null
    ) as ranked
    where k = 1
),

-- distant patients: those with a known department other than the home one, i.e. the patients
-- with a known department less those of the home department
per_provider as (
    select
        department_patients.month,
        department_patients.provider_id,
        sum(department_patients.n_lines)::int as n_lines,
        sum(department_patients.n_patients)::int as n_patients,
        sum(department_patients.amount) as amount,
        sum(department_patients.n_drug_lines)::int as n_drug_lines,
        sum(department_patients.n_controlled_lines)::int as n_controlled_lines,
        sum(department_patients.n_drug_patients)::int as n_drug_patients,
        sum(department_patients.n_controlled_patients)::int as n_controlled_patients,
        sum(department_patients.dead_patient_lines)::int as dead_patient_lines,
        (coalesce(sum(department_patients.n_patients) filter (
            where department_patients.residence_dpt is not null), 0)
            - coalesce(min(home_department.n_patients), 0))::int as distant_patients,
        sum(department_patients.shopper_patients)::int as shopper_patients
    from department_patients
    left join home_department
        on department_patients.month = home_department.month
        and department_patients.provider_id = home_department.provider_id
    group by department_patients.month, department_patients.provider_id
),

final as (
    select
        per_provider.month,
        per_provider.provider_id,
        coalesce(providers.kind, 'professional') || ':' || coalesce(providers.specialty, '-') as peer_group,
        per_provider.n_lines,
        per_provider.n_patients,
        round(per_provider.n_lines::{{ numeric_type() }} / per_provider.n_patients, 4) as lines_per_patient,
        {{ rounded_ratio('per_provider.amount', 'per_provider.n_patients', 2) }} as amount_per_patient,
        round(per_provider.n_controlled_lines::{{ numeric_type() }} / nullif(per_provider.n_drug_lines, 0), 4) as controlled_line_share,
        round(per_provider.n_controlled_patients::{{ numeric_type() }} / nullif(per_provider.n_drug_patients, 0), 4) as controlled_patient_share,
        per_provider.dead_patient_lines,
        coalesce(duplicates.same_day_duplicates, 0)::int as same_day_duplicates,
        busiest_day.max_daily_lines::int as max_daily_lines,
        round(busiest_day.max_daily_hours, 2) as max_daily_hours,
        round(per_provider.distant_patients::{{ numeric_type() }} / per_provider.n_patients, 4) as distant_patient_share,
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
