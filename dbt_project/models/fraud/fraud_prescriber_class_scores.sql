{{ config(
    materialized='incremental', incremental_strategy='delete+insert', unique_key='month',
    schema='fraud', tags=['fraud'], indexes=[{'columns': ['month']}]
) }}
{#- Prescriber x drug class at each swept month, over the window of var
    fraud_class_window_months (default 12) flow months ending there: observed dispensings O
    against the expected E = the prescriber's dispensings x the class share among the peers of
    the same specialty; quasi-Poisson z = (O - E) / sqrt(phi E), phi = the peers' mean
    (O - E)^2 / E for that specialty x class (at least 1: dispensings of one patient cluster), and the ratio shrunk towards 1 by a gamma
    prior of weight var fraud_class_prior (default 10 expected dispensings):
    (O + prior) / (E + prior). Only classes prescribed above expectation are kept. -#}
{%- set month = var('fraud_month', none) %}
{%- set window = var_int('fraud_class_window_months', 12, 1) %}
{%- set prior = var_int('fraud_class_prior', 10, 1) %}

with monthly as (
    select * from {{ ref('fraud_prescriber_class_monthly') }}
),

providers as (
    select * from {{ source('fraud_claims', 'provider') }}
),

swept_months as (
    {%- if month %}
    select '{{ month }}-01'::date as month
    {%- else %}
    select distinct month from monthly
    {%- endif %}
),

windowed as (
    select
        swept_months.month,
        monthly.prescriber_id,
        coalesce(providers.specialty, '-') as specialty,
        monthly.drug_class,
        sum(monthly.n_dispensings) as observed
    from swept_months
    inner join monthly
        on monthly.month > swept_months.month - interval '{{ window }} months'
        and monthly.month <= swept_months.month
    left join providers on monthly.prescriber_id = providers.provider_id
    group by swept_months.month, monthly.prescriber_id, coalesce(providers.specialty, '-'), monthly.drug_class
),

prescriber_totals as (
    select month, prescriber_id, sum(observed) as total
    from windowed
    group by month, prescriber_id
),

peer_shares as (
    select windowed.month, windowed.specialty, windowed.drug_class,
        sum(windowed.observed)::double precision
        / sum(sum(windowed.observed)) over (partition by windowed.month, windowed.specialty) as peer_share,
        count(distinct windowed.prescriber_id) as n_prescribing_peers
    from windowed
    group by windowed.month, windowed.specialty, windowed.drug_class
),

scored as (
    select
        windowed.month,
        windowed.prescriber_id,
        windowed.specialty,
        windowed.drug_class,
        windowed.observed::int as observed,
        prescriber_totals.total::int as prescriber_total,
        prescriber_totals.total * peer_shares.peer_share as expected
    from windowed
    inner join prescriber_totals using (month, prescriber_id)
    inner join peer_shares using (month, specialty, drug_class)
),

dispersion as (
    select month, specialty, drug_class,
        greatest(1, avg((observed - expected) ^ 2 / expected)) as dispersion
    from scored
    group by month, specialty, drug_class
),

final as (
    select
        month,
        prescriber_id,
        specialty,
        drug_class,
        observed,
        prescriber_total,
        round(expected::numeric, 3) as expected,
        round(dispersion::numeric, 3) as dispersion,
        round(((observed - expected) / sqrt(dispersion * expected))::numeric, 3) as poisson_z,
        round(((observed + {{ prior }}) / (expected + {{ prior }}))::numeric, 4) as shrunk_ratio
    from scored
    inner join dispersion using (month, specialty, drug_class)
    where observed > expected
)

select * from final
