{{ config(materialized='table', tags=['scan_ddi']) }}
{#-
  The interaction screen's counting mart (issue 25): one row per drug pair of
  scan_ddi_coexposure x outcome (ICD-10 3-character code) with at least var scan_min_events
  (default 3, as scan_pair_counts) new onsets in joint exposure:
  * patients_ab, days_ab: the pair's co-exposed patients and joint days;
  * o_ab: new onsets (scan_outcome_onsets) inside a joint interval [joint_start, joint_end);
  * e_ab_base: the count expected in the joint days from the whole population's outcome rates,
    sum over strata (calendar year x 5-year age band x sex) of the joint days
    (scan_ddi_pair_time) times the stratum's rate (scan_outcome_rates), summed as numeric as
    scan_pair_counts sums its expected counts;
  * o_a, e_a, o_b, e_b: each drug's own observed and expected counts for the outcome
    (scan_pair_counts.oe_observed, oe_expected at the same drug level). A joint interval lies
    inside an episode of each drug, so o_a >= o_ab >= scan_min_events and scan_pair_counts has
    the row; 0 if it ever had not;
  * o_total: every new onset of the outcome in the population's at-risk time, the sum of the
    cases behind the strata's rates (so that the sum over all strata of person-days x rate is
    o_total).
  One drug's episodes of a patient do not overlap (grace merge, end_delay_days <= grace_days),
  so neither do a pair's joint intervals of one patient, and every onset counts once.
-#}
{%- set min_events = var_int('scan_min_events', 3, 1) | int %}

with coexposure as (
    select * from {{ ref('scan_ddi_coexposure') }}
),

pair_time as (
    select * from {{ ref('scan_ddi_pair_time') }}
),

onsets as (
    select * from {{ ref('scan_outcome_onsets') }}
    where outcome_level = 'icd3'
),

outcome_rates as (
    select * from {{ ref('scan_outcome_rates') }}
    where outcome_level = 'icd3'
),

single_counts as (
    select * from {{ ref('scan_pair_counts') }}
    where outcome_level = 'icd3'
),

pairs as (
    select
        drug_level,
        drug_a,
        drug_b,
        count(distinct patient_id) as patients_ab,
        sum(joint_days) as days_ab
    from coexposure
    group by drug_level, drug_a, drug_b
),

joint_onsets as (
    select
        coexposure.drug_level,
        coexposure.drug_a,
        coexposure.drug_b,
        onsets.outcome_code,
        count(*) as o_ab
    from onsets
    inner join coexposure
        on onsets.patient_id = coexposure.patient_id
        and onsets.onset_date >= coexposure.joint_start
        and onsets.onset_date < coexposure.joint_end
    group by coexposure.drug_level, coexposure.drug_a, coexposure.drug_b, onsets.outcome_code
    having count(*) >= {{ min_events }}
),

joint_expected as (
    select
        joint_onsets.drug_level,
        joint_onsets.drug_a,
        joint_onsets.drug_b,
        joint_onsets.outcome_code,
        -- numeric, as scan_pair_counts: a sum of doubles depends on the order of its terms
        sum((pair_time.joint_days * outcome_rates.cases_per_day)::{{ numeric_type() }}) as e_ab_base
    from joint_onsets
    inner join pair_time
        on joint_onsets.drug_level = pair_time.drug_level
        and joint_onsets.drug_a = pair_time.drug_a
        and joint_onsets.drug_b = pair_time.drug_b
    inner join outcome_rates
        on joint_onsets.outcome_code = outcome_rates.outcome_code
        and pair_time.calendar_year = outcome_rates.calendar_year
        and pair_time.age_band = outcome_rates.age_band
        and pair_time.sex = outcome_rates.sex
    group by joint_onsets.drug_level, joint_onsets.drug_a, joint_onsets.drug_b, joint_onsets.outcome_code
),

outcome_totals as (
    select outcome_code, sum(cases) as o_total
    from outcome_rates
    group by outcome_code
),

final as (
    select
        joint_onsets.drug_level,
        joint_onsets.drug_a,
        joint_onsets.drug_b,
        joint_onsets.outcome_code,
        pairs.patients_ab::bigint as patients_ab,
        pairs.days_ab::bigint as days_ab,
        joint_onsets.o_ab::bigint as o_ab,
        coalesce(joint_expected.e_ab_base, 0)::{{ double_type() }} as e_ab_base,
        coalesce(single_a.oe_observed, 0)::bigint as o_a,
        coalesce(single_a.oe_expected, 0)::{{ double_type() }} as e_a,
        coalesce(single_b.oe_observed, 0)::bigint as o_b,
        coalesce(single_b.oe_expected, 0)::{{ double_type() }} as e_b,
        coalesce(outcome_totals.o_total, 0)::bigint as o_total
    from joint_onsets
    inner join pairs
        on joint_onsets.drug_level = pairs.drug_level
        and joint_onsets.drug_a = pairs.drug_a
        and joint_onsets.drug_b = pairs.drug_b
    left join joint_expected
        on joint_onsets.drug_level = joint_expected.drug_level
        and joint_onsets.drug_a = joint_expected.drug_a
        and joint_onsets.drug_b = joint_expected.drug_b
        and joint_onsets.outcome_code = joint_expected.outcome_code
    left join single_counts as single_a
        on joint_onsets.drug_level = single_a.drug_level
        and joint_onsets.drug_a = single_a.drug_code
        and joint_onsets.outcome_code = single_a.outcome_code
    left join single_counts as single_b
        on joint_onsets.drug_level = single_b.drug_level
        and joint_onsets.drug_b = single_b.drug_code
        and joint_onsets.outcome_code = single_b.outcome_code
    left join outcome_totals
        on joint_onsets.outcome_code = outcome_totals.outcome_code
)

select * from final
