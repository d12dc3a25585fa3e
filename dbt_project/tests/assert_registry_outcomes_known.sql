-- Every outcome named in the study registry is a seeded algorithm or a generic code outcome.
select cohort_outcomes.cohort_id, cohort_outcomes.outcome_id
from {{ ref('stg_study__cohort_outcomes') }} as cohort_outcomes
left join {{ ref('outcome_algorithms') }} as algorithms
    on cohort_outcomes.outcome_id = algorithms.outcome_id
where algorithms.outcome_id is null
    and not {{ regex_match('cohort_outcomes.outcome_id', "'^(dp|dpdr|dx|ald|act):[A-Za-z0-9]+$'") }}
