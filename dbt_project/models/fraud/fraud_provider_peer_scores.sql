{{ config(
    materialized='incremental', incremental_strategy='delete+insert', unique_key='month',
    schema='fraud', tags=['fraud'], indexes=[{'columns': ['month', 'provider_id']}]
) }}
{#- Provider x month x feature: robust z-score against the peer group of the month,
    (value - median) / (1.4826 MAD); when the MAD is 0, 1.2533 x the mean absolute deviation
    stands in. The scale has floors, so that sampling noise and tiny differences from very
    homogeneous peers are not outliers: count features at least sqrt(peer mean + 1) (the
    Poisson spread at the peers' mean rate: 4 same-day duplicates against a median of 0 and a
    mean of 0.3 is z 3.5, not 4); share features at least var fraud_share_floor (0.03, 3
    percentage points) and at least the binomial spread sqrt(p (1 - p) / (n + prior)) of a share
    of n lines or patients, p = the peer median (at least the floor); ratio features (per
    patient, hours a day) at least var fraud_ratio_floor (0.2) x the peer median. A share is
    also shrunk towards the peer median by var fraud_share_prior (5) pseudo-lines before it is
    scored, (value x n + prior x median) / (n + prior): 2 controlled lines of 4 in a month's
    tail (peer median 0) are z 3.9, not 11. A scale of 0 gives a z-score of 0. Peer groups smaller than var
    fraud_min_peers (default 5) are not scored. -#}
{%- set month = fraud_month() %}
{%- set features = ['n_lines', 'n_patients', 'lines_per_patient', 'amount_per_patient',
    'controlled_line_share', 'controlled_patient_share', 'dead_patient_lines', 'same_day_duplicates',
    'max_daily_lines', 'max_daily_hours', 'distant_patient_share', 'shopper_patients'] %}
{%- set share_floor = var('fraud_share_floor', 0.03) %}
{%- set ratio_floor = var('fraud_ratio_floor', 0.2) %}
{%- set share_prior = var_int('fraud_share_prior', 5, 1) %}
{%- set denominators = {'controlled_line_share': 'n_drug_lines', 'controlled_patient_share': 'n_drug_patients',
    'distant_patient_share': 'n_patients'} %}
{%- set counts = ['n_lines', 'n_patients', 'dead_patient_lines', 'same_day_duplicates', 'max_daily_lines',
    'shopper_patients'] %}

with features as (
    select * from {{ ref('fraud_provider_features') }}
    {%- if month %}
    where month = '{{ month }}-01'::date
    {%- endif %}
),

{%- set rows = [] %}
{%- for name in features %}
    {%- do rows.append(["'" ~ name ~ "'", 'cast(features.' ~ name ~ ' as ' ~ double_type() ~ ')',
        'cast(' ~ ('features.' ~ denominators[name] if name in denominators else 'null') ~ ' as ' ~ double_type() ~ ')']) %}
{%- endfor %}

long as (
    select features.month, features.provider_id, features.peer_group, f.feature, f.value, f.n
    from features
    {{ lateral_rows(rows, 'f', ['feature', 'value', 'n']) }}
    where f.value is not null
),

medians as (
    select month, peer_group, feature, count(*) as n_peers,
        percentile_cont(0.5) within group (order by value) as median,
        avg(value) as mean
    from long
    group by month, peer_group, feature
    having count(*) >= {{ var_int('fraud_min_peers', 5, 2) }}
),

spreads as (
    select long.month, long.peer_group, long.feature,
        percentile_cont(0.5) within group (order by abs(long.value - medians.median)) as mad,
        avg(abs(long.value - medians.median)) as mean_ad
    from long
    inner join medians using (month, peer_group, feature)
    group by long.month, long.peer_group, long.feature
),

shrunk as (
    select
        long.*,
        medians.n_peers,
        medians.median,
        medians.mean,
        case
            when long.n is null then long.value
            else (long.value * long.n + {{ share_prior }} * medians.median) / (long.n + {{ share_prior }})
        end as scored_value
    from long
    inner join medians using (month, peer_group, feature)
),

final as (
    select
        shrunk.month,
        shrunk.provider_id,
        shrunk.peer_group,
        shrunk.feature,
        shrunk.value,
        shrunk.n_peers::int as n_peers,
        shrunk.median,
        spreads.mad,
        coalesce((shrunk.scored_value - shrunk.median) / nullif(greatest(
            case when spreads.mad > 0 then 1.4826 * spreads.mad else 1.2533 * spreads.mean_ad end,
            case
                when shrunk.feature in ({{ "'" ~ counts | join("', '") ~ "'" }}) then sqrt(shrunk.mean + 1)
                when shrunk.feature like '%share' then greatest({{ share_floor }}, sqrt(
                    greatest(shrunk.median, {{ share_floor }}) * (1 - greatest(shrunk.median, {{ share_floor }}))
                    / (coalesce(shrunk.n, 0) + {{ share_prior }})))
                else {{ ratio_floor }} * abs(shrunk.median)
            end
        ), 0), 0) as robust_z
    from shrunk
    inner join spreads using (month, peer_group, feature)
)

select * from final
