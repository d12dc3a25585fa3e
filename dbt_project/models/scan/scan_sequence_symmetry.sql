{{ config(materialized='table', tags=['scan']) }}
{#-
  Sequence symmetry counts per drug x outcome: patients whose new use and new outcome fall at
  most var scan_ssa_window_days (default 365) apart, drug first vs outcome first (same-day
  pairs are dropped). The null-effect sequence ratio comes from the marginal trends: with u(m)
  the new users of the drug in calendar month m and r(n) the new cases of the outcome in month
  n (whole population), P(drug first) = sum_m u(m) F(m) / sum_m u(m) G(m), where
  F(m) = r(m) / 2 + r(m+1) + ... + r(m+w) and G(m) = r(m-w) + ... + r(m+w), w the window in
  months (window days / 30.4375, rounded). nsr_numerator and nsr_denominator are those sums.
-#}
{%- set window_days = var_int('scan_ssa_window_days', 365, 1) | int %}
{%- set window_months = [((window_days / 30.4375) | round | int), 1] | max %}

with initiations as (
    select * from {{ ref('scan_drug_initiations') }}
),

onsets as (
    select * from {{ ref('scan_outcome_onsets') }}
),

pair_counts as (
    select
        initiations.drug_level,
        initiations.drug_code,
        onsets.outcome_level,
        onsets.outcome_code,
        count(*) filter (where onsets.onset_date > initiations.initiation_date) as drug_first,
        count(*) filter (where onsets.onset_date < initiations.initiation_date) as outcome_first
    from initiations
    inner join onsets
        on initiations.patient_id = onsets.patient_id
    where onsets.onset_date <> initiations.initiation_date
        and abs({{ days_between('onsets.onset_date', 'initiations.initiation_date') }}) <= {{ window_days }}
    group by initiations.drug_level, initiations.drug_code, onsets.outcome_level, onsets.outcome_code
),

drug_months as (
    select
        drug_level,
        drug_code,
        (extract(year from initiation_date) * 12 + extract(month from initiation_date) - 1)::int as month_index,
        count(*) as new_users
    from initiations
    group by 1, 2, 3
),

outcome_months as (
    select
        outcome_level,
        outcome_code,
        (extract(year from onset_date) * 12 + extract(month from onset_date) - 1)::int as month_index,
        count(*) as new_cases
    from onsets
    group by 1, 2, 3
),

month_span as (
    select
        min(month_index) - {{ window_months }} as first_month,
        max(month_index) + {{ window_months }} as last_month
    from (
        select month_index from drug_months
        union all
        select month_index from outcome_months
    ) as all_months
),

outcome_grid as (
    select
        nodes.outcome_level,
        nodes.outcome_code,
        grid.month_index,
        coalesce(outcome_months.new_cases, 0) as new_cases
    from (select distinct outcome_level, outcome_code from outcome_months) as nodes
    cross join month_span
    cross join lateral {{ int_series('month_span.first_month', 'month_span.last_month') }} as grid (month_index)
    left join outcome_months
        on nodes.outcome_level = outcome_months.outcome_level
        and nodes.outcome_code = outcome_months.outcome_code
        and grid.month_index = outcome_months.month_index
),

outcome_windows as (
    select
        outcome_level,
        outcome_code,
        month_index,
        new_cases / 2.0 + coalesce(sum(new_cases) over (
            partition by outcome_level, outcome_code order by month_index
            rows between 1 following and {{ window_months }} following
        ), 0) as cases_after,
        sum(new_cases) over (
            partition by outcome_level, outcome_code order by month_index
            rows between {{ window_months }} preceding and {{ window_months }} following
        ) as cases_around
    from outcome_grid
),

trend as (
    select
        pair_counts.drug_level,
        pair_counts.drug_code,
        pair_counts.outcome_level,
        pair_counts.outcome_code,
        sum(drug_months.new_users * outcome_windows.cases_after)::{{ double_type() }} as nsr_numerator,
        sum(drug_months.new_users * outcome_windows.cases_around)::{{ double_type() }} as nsr_denominator
    from pair_counts
    inner join drug_months
        on pair_counts.drug_level = drug_months.drug_level
        and pair_counts.drug_code = drug_months.drug_code
    inner join outcome_windows
        on pair_counts.outcome_level = outcome_windows.outcome_level
        and pair_counts.outcome_code = outcome_windows.outcome_code
        and drug_months.month_index = outcome_windows.month_index
    group by 1, 2, 3, 4
),

final as (
    select
        pair_counts.drug_level,
        pair_counts.drug_code,
        pair_counts.outcome_level,
        pair_counts.outcome_code,
        pair_counts.drug_first,
        pair_counts.outcome_first,
        trend.nsr_numerator,
        trend.nsr_denominator
    from pair_counts
    inner join trend
        on pair_counts.drug_level = trend.drug_level
        and pair_counts.drug_code = trend.drug_code
        and pair_counts.outcome_level = trend.outcome_level
        and pair_counts.outcome_code = trend.outcome_code
)

select * from final
