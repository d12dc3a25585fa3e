-- The time at risk of every subject lies inside the observation period that contains the index.
select survival.*
from {{ ref('fct_study_survival') }} as survival
left join {{ ref('int_observation_periods') }} as periods
    on survival.patient_id = periods.patient_id
    and survival.index_date between periods.observation_start and periods.observation_end
where periods.patient_id is null
    or survival.entry_date < periods.observation_start
    or survival.exit_date > periods.observation_end
