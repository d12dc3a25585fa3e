{{ config(materialized='table', schema='pathways', tags=['pathways']) }}
{#-
  Guideline concordance per indicator x patient x period, for every indicator of the registry
  (results.pathways_indicator_definition / _item, written from analyses/indicators/*.yml by
  `veille pathways run`): no SQL per indicator.

  Population and period:
  * window_kind calendar: patients with at least population_min_events dispensings of the
    population ATC prefixes in a calendar year Y; period = the window_length calendar years
    ending with Y (e.g. 2 for "an eye examination every two years").
  * window_kind after_index: the first hospital stay whose principal diagnosis starts with one
    of the population codes; period = window_length days from the discharge day (included).
  A period counts when it lies inside the data span (whole months), the patient is alive at its
  end and still observed 90 days before its end.
  Compliant = every required item found at least min_count times (distinct days) in the period:
  nabm (lab test codes, leading zeros ignored), ccam (ambulatory act codes), atc (dispensing ATC prefixes),
  visit_specialty (visits to these specialty codes).
  Prescriber = the professional who prescribed most of the patient's population dispensings in
  the period (any dispensing for after_index indicators), ties to the smallest id.
-#}
with definitions as (
    select
        *,
        {{ array_transform('population_codes', 'code', "code || '%'") }} as population_patterns
    from {{ source('pathways_registry', 'pathways_indicator_definition') }}
),

items as (
    select
        *,
        {{ array_transform('item_codes', 'code', "code || '%'") }} as item_patterns,
        {{ array_transform('item_codes', 'code', nabm_code('code')) }} as nabm_codes
    from {{ source('pathways_registry', 'pathways_indicator_item') }}
),

events as {{ not_materialized() }} (
    select * from {{ ref('int_pathways__care_events') }}
),

data_span as (
    select
        {{ dbt.cast(dbt.date_trunc('month', 'data_start'), 'date') }} as span_start,
        {{ add_months(dbt.cast(dbt.date_trunc('month', 'data_end'), 'date'), 1) }} - 1 as span_end
    from {{ ref('int_data_span') }}
),

patients as {{ not_materialized() }} (
    select patient_id, death_date, residence_dpt::{{ text_type() }} as department
    from {{ source('claims', 'patient') }}
),

observation as (
    select * from {{ ref('fct_observation_periods') }}
),

population_dispensings as (
    select
        definitions.indicator_id,
        events.patient_id,
        extract(year from events.event_date)::int as year,
        count(*) as dispensings
    from definitions
    inner join events
        on events.event_kind = 'dispensing'
        and {{ like_any('events.code', 'definitions.population_patterns') }}
    where definitions.population_kind = 'atc'
    group by definitions.indicator_id, events.patient_id, extract(year from events.event_date)
),

calendar_periods as (
    select
        definitions.indicator_id,
        population_dispensings.patient_id,
        make_date(population_dispensings.year - definitions.window_length + 1, 1, 1) as period_start,
        make_date(population_dispensings.year, 12, 31) as period_end
    from population_dispensings
    inner join definitions
        on population_dispensings.indicator_id = definitions.indicator_id
    where definitions.window_kind = 'calendar'
        and population_dispensings.dispensings >= definitions.population_min_events
),

index_stays as (
    select
        definitions.indicator_id,
        stays.patient_id,
        min(stays.discharge_date) as index_date
    from definitions
    inner join {{ source('claims', 'stay_diagnosis') }} as diagnoses
        on diagnoses.role = 'DP'
        and {{ like_any('diagnoses.icd10', 'definitions.population_patterns') }}
    inner join {{ source('claims', 'hospital_stay') }} as stays
        on diagnoses.stay_id = stays.stay_id
    where definitions.population_kind = 'hospital_dp'
    group by definitions.indicator_id, stays.patient_id
),

index_periods as (
    select
        index_stays.indicator_id,
        index_stays.patient_id,
        index_stays.index_date as period_start,
        index_stays.index_date + definitions.window_length - 1 as period_end
    from index_stays
    inner join definitions
        on index_stays.indicator_id = definitions.indicator_id
    where definitions.window_kind = 'after_index'
),

periods as (
    select all_periods.*
    from (
        select * from calendar_periods
        union all
        select * from index_periods
    ) as all_periods
    cross join data_span
    inner join patients
        on all_periods.patient_id = patients.patient_id
    where all_periods.period_start >= data_span.span_start
        and all_periods.period_end <= data_span.span_end
        and (patients.death_date is null or patients.death_date > all_periods.period_end)
        and exists (
            select 1
            from observation
            where observation.patient_id = all_periods.patient_id
                and observation.observation_start <= all_periods.period_end - 90
                and observation.observation_end >= all_periods.period_end - 90
        )
),

item_counts as (
    select
        periods.indicator_id,
        periods.patient_id,
        periods.period_start,
        items.item_number,
        items.min_count,
        count(distinct events.event_date) as found
    from periods
    inner join items
        on periods.indicator_id = items.indicator_id
    left join events
        on events.patient_id = periods.patient_id
        and events.event_date between periods.period_start and periods.period_end
        and case items.item_kind
            when 'nabm' then events.event_kind = 'lab_test' and {{ in_array('events.code', 'items.nabm_codes') }}
            when 'ccam' then events.event_kind = 'medical_act' and {{ in_array('events.code', 'items.item_codes') }}
            when 'atc' then events.event_kind = 'dispensing' and {{ like_any('events.code', 'items.item_patterns') }}
            when 'visit_specialty' then events.event_kind in ('gp_visit', 'specialist_visit')
                and {{ in_array('events.code', 'items.item_codes') }}
        end
    group by periods.indicator_id, periods.patient_id, periods.period_start, items.item_number, items.min_count
),

compliance as (
    select
        indicator_id,
        patient_id,
        period_start,
        bool_and(found >= min_count) as compliant
    from item_counts
    group by indicator_id, patient_id, period_start
),

prescriber_counts as (
    select
        periods.indicator_id,
        periods.patient_id,
        periods.period_start,
        events.professional_id,
        count(*) as dispensings
    from periods
    inner join definitions
        on periods.indicator_id = definitions.indicator_id
    inner join events
        on events.patient_id = periods.patient_id
        and events.event_kind = 'dispensing'
        and events.event_date between periods.period_start and periods.period_end
        and events.professional_id is not null
        and (definitions.population_kind <> 'atc' or {{ like_any('events.code', 'definitions.population_patterns') }})
    group by periods.indicator_id, periods.patient_id, periods.period_start, events.professional_id
),

prescribers as (
    select indicator_id, patient_id, period_start, prescriber_id
    from (
        select
            indicator_id,
            patient_id,
            period_start,
            professional_id as prescriber_id,
            row_number() over (
                partition by indicator_id, patient_id, period_start
                order by dispensings desc, professional_id
            ) as rank
        from prescriber_counts
    ) as ranked
    where rank = 1
),

final as (
    select
        periods.indicator_id,
        periods.patient_id,
        extract(year from periods.period_end)::int as year,
        periods.period_start,
        periods.period_end,
        patients.department,
        prescribers.prescriber_id,
        compliance.compliant
    from periods
    inner join compliance
        on periods.indicator_id = compliance.indicator_id
        and periods.patient_id = compliance.patient_id
        and periods.period_start = compliance.period_start
    inner join patients
        on periods.patient_id = patients.patient_id
    left join prescribers
        on periods.indicator_id = prescribers.indicator_id
        and periods.patient_id = prescribers.patient_id
        and periods.period_start = prescribers.period_start
)

select * from final
