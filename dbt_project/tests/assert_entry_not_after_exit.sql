-- entry <= exit in the survival table; index <= censoring in the cohort.
select cohort_id, patient_id, 'survival' as source
from {{ ref('fct_study_survival') }}
where entry_date > exit_date or index_date > entry_date
union all
select cohort_id, patient_id, 'cohort'
from {{ ref('fct_study_cohort') }}
where index_date > censor_date
