{{ config(tags=['study']) }}
{#-
  Outcome events: one row per outcome x patient x event day.
  * named algorithms (seeds outcome_algorithms / outcome_criteria / outcome_concept_sets);
  * generic code outcomes named in the study registry as `<kind>:<prefix>`:
    dp:K35 (a stay with DP starting with K35), dpdr:K35 (DP or DR), dx:K35 (any stay diagnosis
    role), ald:E11 (an ALD registration), act:JDFE (a CCAM act). Event date = stay admission date,
    ALD start date or act date.
-#}

with events as (
    select * from {{ ref('int_condition_events') }}
),

concept_sets as (
    select * from {{ ref('outcome_concept_sets') }}
),

criteria as (
    select * from {{ ref('outcome_criteria') }}
),

concept_hits as (
    select
        concept_sets.concept_set,
        events.patient_id,
        events.stay_id,
        events.event_date
    from events
    inner join concept_sets
        on events.vocabulary = concept_sets.vocabulary
        and events.code like concept_sets.code_prefix || '%'
        and (concept_sets.role = 'any' or concept_sets.role = events.role)
),

algorithm_events as (
    select
        criteria.outcome_id,
        hits.patient_id,
        hits.event_date
    from criteria
    inner join concept_hits as hits
        on criteria.concept_set = hits.concept_set
    where
        (
            criteria.same_stay_concept_set is null
            or exists (
                select 1
                from concept_hits as same_stay
                where same_stay.stay_id = hits.stay_id
                    and same_stay.concept_set = criteria.same_stay_concept_set
            )
        )
        and (
            criteria.act_concept_set is null
            or exists (
                select 1
                from concept_hits as acts
                where acts.patient_id = hits.patient_id
                    and acts.concept_set = criteria.act_concept_set
                    and acts.event_date between hits.event_date - coalesce(criteria.act_window_days, 0)
                    and hits.event_date + coalesce(criteria.act_window_days, 0)
            )
        )
),

generic_outcomes as (
    select distinct
        outcome_id,
        {{ dbt.split_part('outcome_id', "':'", 1) }} as kind,
        upper({{ dbt.split_part('outcome_id', "':'", 2) }}) as code_prefix
    from (
        select outcome_id from {{ ref('stg_study__cohort_outcomes') }}
        union all
        select outcome_id from {{ ref('stg_study__sccs_outcomes') }}
    ) as registry_outcomes
    where {{ regex_match('outcome_id', "'^(dp|dpdr|dx|ald|act):[A-Za-z0-9]+$'") }}
),

generic_events as (
    select
        generic_outcomes.outcome_id,
        events.patient_id,
        events.event_date
    from generic_outcomes
    inner join events
        on events.code like generic_outcomes.code_prefix || '%'
        and (
            (generic_outcomes.kind = 'dp' and events.role = 'DP')
            or (generic_outcomes.kind = 'dpdr' and events.role in ('DP', 'DR'))
            or (generic_outcomes.kind = 'dx' and events.role in ('DP', 'DR', 'DAS'))
            or (generic_outcomes.kind = 'ald' and events.role = 'ALD')
            or (generic_outcomes.kind = 'act' and events.role = 'act')
        )
),

final as (
    select outcome_id, patient_id, event_date from algorithm_events
    union
    select outcome_id, patient_id, event_date from generic_events
)

select * from final
