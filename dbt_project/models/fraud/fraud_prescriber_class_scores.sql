{{ config(
    materialized='incremental', incremental_strategy='delete+insert', unique_key='month',
    schema='fraud', tags=['fraud'], indexes=[{'columns': ['month']}]
) }}
{#- Prescriber x drug class at each swept month, over the window of var
    fraud_class_window_months (default 12) flow months ending there, counted in patients (not
    dispensings: one chronic patient's monthly refills made any GP with three such patients "in
    excess"). Observed O = the prescriber's patients dispensed the class in the window; expected
    E = the prescriber's patients (any class) x the share of their patients the specialty's
    prescribers dispensed the class to. Quasi-Poisson z = (O - E) / sqrt(phi E), phi = the
    peers' median (O - E)^2 / E for that specialty x class over 0.4549, the median of a
    chi-square with 1 degree of freedom (at least 1): robust, so that a few prescribers far in
    excess do not widen their own yardstick as a mean would. The peers with no patient of the
    class are not in the median (their (O - E)^2 / E is E: small for a rare class, so leaving
    them out usually makes phi larger, not smaller). The ratio is shrunk
    towards 1 by a gamma prior of weight var fraud_class_prior (default 5 expected patients):
    (O + prior) / (E + prior). Only classes prescribed above expectation are kept. E and the
    ratio are rounded from exact fractions of the counts (macro rounded_ratio), so that a tie
    rounds the same on every engine.
    A patient counts once in every window that holds one of its months (macro
    patients_per_window: count(distinct) for one swept month, runs of months for the full
    sweep). -#}
{%- set month = fraud_month() %}
{%- set window = var_int('fraud_class_window_months', 12, 1) %}
{%- set prior = var_int('fraud_class_prior', 5, 1) %}

with presence as (
    select * from {{ ref('fraud_prescriber_class_patients') }}
    {%- if month %}
    where month > {{ add_months("'" ~ month ~ "-01'::date", -(window | int)) }}
        and month <= '{{ month }}-01'::date
    {%- endif %}
),

providers as (
    select * from {{ source('fraud_claims', 'provider') }}
),

swept_months as (
    {%- if month %}
    select '{{ month }}-01'::date as month
    {%- else %}
    select distinct month from presence
    {%- endif %}
),

-- one row per prescriber x patient x month, for the runs of the full sweep
prescriber_months as (
    select distinct prescriber_id, patient_id, month from presence
),

class_covered as (
    {{- patients_per_window('presence', ['prescriber_id', 'drug_class'], window, month, 'observed') }}
),

prescriber_totals as (
    {{- patients_per_window('presence' if month else 'prescriber_months', ['prescriber_id'], window, month, 'total') }}
),

windowed as (
    select
        class_covered.month,
        class_covered.prescriber_id,
        coalesce(providers.specialty, '-') as specialty,
        class_covered.drug_class,
        class_covered.observed
    from class_covered
    left join providers on class_covered.prescriber_id = providers.provider_id
),

specialty_totals as (
    select prescriber_totals.month, coalesce(providers.specialty, '-') as specialty,
        sum(prescriber_totals.total) as specialty_total
    from prescriber_totals
    left join providers on prescriber_totals.prescriber_id = providers.provider_id
    group by prescriber_totals.month, coalesce(providers.specialty, '-')
),

peer_shares as (
    select windowed.month, windowed.specialty, windowed.drug_class,
        sum(windowed.observed) as peer_observed,
        max(specialty_totals.specialty_total) as specialty_total,
        sum(windowed.observed)::{{ double_type() }} / max(specialty_totals.specialty_total) as peer_share
    from windowed
    inner join specialty_totals using (month, specialty)
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
        prescriber_totals.total * peer_shares.peer_share as expected,
        peer_shares.peer_observed,
        peer_shares.specialty_total
    from windowed
    inner join prescriber_totals using (month, prescriber_id)
    inner join peer_shares using (month, specialty, drug_class)
),

dispersion as (
    select month, specialty, drug_class,
        greatest(1, percentile_cont(0.5) within group (order by power(observed - expected, 2) / expected)
            / 0.4549) as dispersion
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
        {{ rounded_ratio('prescriber_total * peer_observed', 'specialty_total', 3) }} as expected,
        {{ round_double('dispersion', 3) }} as dispersion,
        {{ round_double('(observed - expected) / sqrt(dispersion * expected)', 3) }} as poisson_z,
        {{ rounded_ratio('(observed + ' ~ prior ~ ') * specialty_total',
            'prescriber_total * peer_observed + ' ~ prior ~ ' * specialty_total', 4) }} as shrunk_ratio
    from scored
    inner join dispersion using (month, specialty, drug_class)
    where observed > expected
)

select * from final
