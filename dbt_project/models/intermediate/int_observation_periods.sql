{{ config(tags=['study'], refresh_vars=['trackloss_empty_months', 'trackloss_end_months']) }}
{#-
  Observation periods: from a patient's first claim to the last one, cut at trackloss (no claim
  during var trackloss_empty_months months: the period ends var trackloss_end_months months after
  the last claim before the gap) and at death. The last period ends at the end of the data unless
  the months before that end are empty too (trackloss).

  The spans of claims (int_observation_spans, incremental) carry the patient's own history; this
  model only adds what depends on the whole extract (its end) and on the referential (death), in
  one pass over the spans, so a new month of data, which moves the end of the data for everyone,
  costs a scan of the spans and not a new reading of every claim.
-#}
{%- set empty_months = var_int('trackloss_empty_months', 4, 1) %}
{%- set end_months = var_int('trackloss_end_months', 2) %}

with spans as (
    select
        patient_id,
        observation_start,
        last_claim_date,
        row_number() over (partition by patient_id order by observation_start) as span_number,
        lead(observation_start) over (partition by patient_id order by observation_start) is null as is_last
    from {{ ref('int_observation_spans') }}
),

data_span as (
    select * from {{ ref('int_data_span') }}
),

patients as (
    select patient_id, death_date from {{ ref('stg_claims__patients') }}
),

periods_ended as (
    select
        spans.patient_id,
        spans.span_number,
        spans.observation_start,
        spans.last_claim_date,
        case
            when spans.is_last and data_span.data_end <= {{ dbt.dateadd('month', empty_months, 'spans.last_claim_date') }}
                then data_span.data_end
            else least({{ dbt.cast(dbt.dateadd('month', end_months, 'spans.last_claim_date'), 'date') }}, data_span.data_end)
        end as censored_end,
        case
            when spans.is_last and data_span.data_end <= {{ dbt.dateadd('month', empty_months, 'spans.last_claim_date') }}
                then 'data_end'
            else 'trackloss'
        end as censored_reason,
        patients.death_date
    from spans
    cross join data_span
    inner join patients
        on spans.patient_id = patients.patient_id
),

final as (
    select
        patient_id,
        span_number::int as observation_period_number,
        observation_start,
        case when death_date <= censored_end then death_date else censored_end end as observation_end,
        case when death_date <= censored_end then 'death' else censored_reason end as end_reason,
        last_claim_date
    from periods_ended
    where (death_date is null or observation_start <= death_date)
        and observation_start <= censored_end
)

select * from final
