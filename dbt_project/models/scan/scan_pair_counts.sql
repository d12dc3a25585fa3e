{{ config(materialized='table', tags=['scan']) }}
{#-
  The screen's counting mart: one row per drug (ATC7, ATC5) x outcome (ICD-10 3-character code,
  block) pair with at least var scan_min_events (default 3) events for one method:
  * sequence symmetry: drug_first, outcome_first, nsr_numerator, nsr_denominator;
  * observed vs expected: new outcomes during the drug's exposure episodes (observed) and the
    expected count, sum over strata of the exposed person-days times the stratum's outcome
    rate in the whole population (scan_outcome_rates: calendar year x 5-year age band x sex);
    the same restricted to the long-term part of the episodes, at least var scan_latency_days
    (365) after their first day (oe_latent_observed, oe_latent_expected);
  * tree scan: risk_events (exposed), control_events (the new users' other observed days),
    summed over the block's leaves at block level.
-#}
{%- set min_events = var_int('scan_min_events', 3, 1) | int %}
{%- set latency = var_int('scan_latency_days', 365, 1) | int %}

with onsets as (
    select * from {{ ref('scan_outcome_onsets') }}
),

episodes as (
    select * from {{ ref('scan_drug_episodes') }}
),

ssa as (
    select * from {{ ref('scan_sequence_symmetry') }}
),

tree_leaves as (
    select * from {{ ref('scan_tree_events') }}
),

observed as (
    select
        episodes.drug_level,
        episodes.drug_code,
        onsets.outcome_level,
        onsets.outcome_code,
        count(*) as observed,
        count(*) filter (where onsets.onset_date >= episodes.episode_start + {{ latency }}) as latent_observed
    from onsets
    inner join episodes
        on onsets.patient_id = episodes.patient_id
        and onsets.onset_date >= episodes.exposed_start
        and onsets.onset_date < episodes.exposed_end
    group by 1, 2, 3, 4
),

tree as (
    select drug_level, drug_code, 'icd3' as outcome_level, icd3 as outcome_code,
        sum(risk_events) as risk_events, sum(control_events) as control_events
    from tree_leaves
    group by 1, 2, 3, 4
    union all
    select drug_level, drug_code, 'block', block_code, sum(risk_events), sum(control_events)
    from tree_leaves
    where block_code is not null
    group by 1, 2, 3, 4
),

pairs as (
    select drug_level, drug_code, outcome_level, outcome_code from ssa
    where drug_first + outcome_first >= {{ min_events }}
    union
    select drug_level, drug_code, outcome_level, outcome_code from observed
    where observed >= {{ min_events }}
    union
    -- the tree's control events span the whole observation of a drug's users: only its
    -- exposed events make a pair worth scanning
    select drug_level, drug_code, outcome_level, outcome_code from tree
    where risk_events >= {{ min_events }}
),

exposed_time as (
    select * from {{ ref('scan_exposed_person_time') }}
),

outcome_rates as (
    select * from {{ ref('scan_outcome_rates') }}
),

expected as (
    select
        pairs.drug_level,
        pairs.drug_code,
        pairs.outcome_level,
        pairs.outcome_code,
        -- summed as numeric: a sum of doubles depends on the order of its terms (parallel
        -- workers, hash order), and two builds of the same data must give the same value
        sum((exposed_time.exposed_days * outcome_rates.cases_per_day)::{{ numeric_type() }})
            filter (where exposed_time.exposure_window = 'any') as expected,
        sum((exposed_time.exposed_days * outcome_rates.cases_per_day)::{{ numeric_type() }})
            filter (where exposed_time.exposure_window = 'latent') as latent_expected
    from pairs
    inner join exposed_time
        on pairs.drug_level = exposed_time.drug_level
        and pairs.drug_code = exposed_time.drug_code
    inner join outcome_rates
        on pairs.outcome_level = outcome_rates.outcome_level
        and pairs.outcome_code = outcome_rates.outcome_code
        and exposed_time.calendar_year = outcome_rates.calendar_year
        and exposed_time.age_band = outcome_rates.age_band
        and exposed_time.sex = outcome_rates.sex
    group by 1, 2, 3, 4
),

final as (
    select
        pairs.drug_level,
        pairs.drug_code,
        pairs.outcome_level,
        pairs.outcome_code,
        coalesce(ssa.drug_first, 0)::bigint as ssa_drug_first,
        coalesce(ssa.outcome_first, 0)::bigint as ssa_outcome_first,
        ssa.nsr_numerator,
        ssa.nsr_denominator,
        coalesce(observed.observed, 0)::bigint as oe_observed,
        coalesce(expected.expected, 0)::{{ double_type() }} as oe_expected,
        coalesce(observed.latent_observed, 0)::bigint as oe_latent_observed,
        coalesce(expected.latent_expected, 0)::{{ double_type() }} as oe_latent_expected,
        coalesce(tree.risk_events, 0)::bigint as tree_risk,
        coalesce(tree.control_events, 0)::bigint as tree_control
    from pairs
    left join ssa
        on pairs.drug_level = ssa.drug_level and pairs.drug_code = ssa.drug_code
        and pairs.outcome_level = ssa.outcome_level and pairs.outcome_code = ssa.outcome_code
    left join observed
        on pairs.drug_level = observed.drug_level and pairs.drug_code = observed.drug_code
        and pairs.outcome_level = observed.outcome_level and pairs.outcome_code = observed.outcome_code
    left join expected
        on pairs.drug_level = expected.drug_level and pairs.drug_code = expected.drug_code
        and pairs.outcome_level = expected.outcome_level and pairs.outcome_code = expected.outcome_code
    left join tree
        on pairs.drug_level = tree.drug_level and pairs.drug_code = tree.drug_code
        and pairs.outcome_level = tree.outcome_level and pairs.outcome_code = tree.outcome_code
)

select * from final
