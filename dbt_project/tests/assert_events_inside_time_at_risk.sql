-- An event is the exit, between entry and censoring; a subject without event has no event date.
select survival.*
from {{ ref('fct_study_survival') }} as survival
inner join {{ ref('fct_study_cohort') }} as cohort
    on survival.cohort_id = cohort.cohort_id
    and survival.patient_id = cohort.patient_id
where (survival.event = 1 and (
        survival.event_date is null
        or survival.event_date <> survival.exit_date
        or survival.event_date < survival.entry_date
        or survival.event_date > cohort.censor_date
    ))
    or (survival.event = 0 and (survival.event_date is not null or survival.exit_date <> cohort.censor_date))
