{{ config(
    materialized='incremental', incremental_strategy='delete+insert', unique_key='month',
    schema='fraud', tags=['fraud'], indexes=[{'columns': ['month', 'provider_id']}]
) }}
{#- Provider x month x feature: robust z-score against the peer group of the month,
    (value - median) / (1.4826 MAD); when the MAD is 0, 1.2533 x the mean absolute deviation
    stands in; count features use at least sqrt(median + 1) as the scale (a Poisson floor, so
    that 1 against a median of 0 is not an outlier), share features at least var
    fraud_share_floor (0.03, 3 percentage points), ratio features (per patient, hours a day) at
    least var fraud_ratio_floor (0.2) x the peer median, so that a provider within a few percent
    of very homogeneous peers is not an outlier; a scale of 0 gives a z-score of 0. Peer groups smaller than var fraud_min_peers
    (default 5) are not scored. -#}
{%- set month = var('fraud_month', none) %}
{%- set features = ['n_lines', 'n_patients', 'lines_per_patient', 'amount_per_patient',
    'controlled_line_share', 'controlled_patient_share', 'dead_patient_lines', 'same_day_duplicates',
    'max_daily_lines', 'max_daily_hours', 'distant_patient_share', 'shopper_patients'] %}
{%- set share_floor = var('fraud_share_floor', 0.03) %}
{%- set ratio_floor = var('fraud_ratio_floor', 0.2) %}
{%- set counts = ['n_lines', 'n_patients', 'dead_patient_lines', 'same_day_duplicates', 'max_daily_lines',
    'shopper_patients'] %}

with features as (
    select * from {{ ref('fraud_provider_features') }}
    {%- if month %}
    where month = '{{ month }}-01'::date
    {%- endif %}
),

long as (
    select features.month, features.provider_id, features.peer_group, f.feature, f.value
    from features
    cross join lateral (
        values
        {%- for name in features %}
            ('{{ name }}', features.{{ name }}::double precision){{ "," if not loop.last }}
        {%- endfor %}
    ) as f (feature, value)
    where f.value is not null
),

medians as (
    select month, peer_group, feature, count(*) as n_peers,
        percentile_cont(0.5) within group (order by value) as median
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

final as (
    select
        long.month,
        long.provider_id,
        long.peer_group,
        long.feature,
        long.value,
        medians.n_peers::int as n_peers,
        medians.median,
        spreads.mad,
        coalesce((long.value - medians.median) / nullif(greatest(
            case when spreads.mad > 0 then 1.4826 * spreads.mad else 1.2533 * spreads.mean_ad end,
            case
                when long.feature in ({{ "'" ~ counts | join("', '") ~ "'" }}) then sqrt(medians.median + 1)
                when long.feature like '%share' then {{ share_floor }}
                else {{ ratio_floor }} * abs(medians.median)
            end
        ), 0), 0) as robust_z
    from long
    inner join medians using (month, peer_group, feature)
    inner join spreads using (month, peer_group, feature)
)

select * from final
