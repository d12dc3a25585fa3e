{#-
  The study models (docs/refresh.md, "Study models"). Their rows belong to a cohort subject
  (cohort_id, patient_id). Two temporary tables scope an incremental build, and strategy
  `subjects` deletes the target's rows of both and inserts the body's, which reads the same scope
  through in_study_scope():
    scope_patients   whole patients;
    scope_subjects   single subjects.
-#}

{#- The sources of meta.load_change a study model reads (all of them). -#}
{% macro study_sources() -%}
    {{- return(activity_sources() + ['ald', 'death', 'patient', 'drug']) -}}
{%- endmacro %}


{#- Every patient a load run not consumed changed. For the models that read a patient's whole
    history: a cohort's entry criteria (a non-user comparator never used the exposure; a new
    user's index is his first use ever). -#}
{% macro study_scope() -%}
    {%- if not is_incremental() %}select 1{% else -%}
    create temporary table scope_patients on commit drop as
    select patient_id
    from ({{ refresh_changes(study_sources()) }}) as changes;
    analyze scope_patients;
    create temporary table scope_subjects on commit drop as
    select ''::text as cohort_id, 0::bigint as patient_id where false
    {%- endif %}
{%- endmacro %}


{#-
  For the models of a subject's state at index (int_study_baseline_covariates,
  fct_study_covariate_class: what happened before the index, stored with the index): the
  subjects of int_study_followup changed on or before their index, those whose index is not the
  stored one or that entered it, and those that left it. The stored index is needed: a non-user
  comparator must never have used the exposure, even after his index, so an exposed subject whose
  exposure is cancelled becomes a comparator indexed (first other dispensing after the washout)
  before the change. with_classes: only cohorts with covariate_atc classes have rows.
-#}
{% macro subject_scope(with_classes=false) -%}
    {%- if not is_incremental() %}select 1{% else -%}
    create temporary table scope_patients on commit drop as
    select 0::bigint as patient_id where false;
    create temporary table scope_subjects on commit drop as
    with followup as (
        select cohort_id, patient_id, index_date from {{ ref('int_study_followup') }}
        {%- if with_classes %}
        where cohort_id in (select cohort_id from {{ ref('int_study_cohorts') }} where cardinality(covariate_atc) > 0)
        {%- endif %}
    ),

    changes as (
        {{ refresh_changes(study_sources()) }}
    )

    select followup.cohort_id, followup.patient_id
    from followup
    inner join changes
        on followup.patient_id = changes.patient_id
    where changes.changed_from <= followup.index_date
    union
    select followup.cohort_id, followup.patient_id
    from followup
    where not exists (
        select 1 from {{ this }} as stored
        where stored.cohort_id = followup.cohort_id
            and stored.patient_id = followup.patient_id
            and stored.index_date = followup.index_date
    )
    union
    select stored.cohort_id, stored.patient_id
    from {{ this }} as stored
    where not exists (
        select 1 from followup
        where followup.cohort_id = stored.cohort_id and followup.patient_id = stored.patient_id
    );
    analyze scope_subjects
    {%- endif %}
{%- endmacro %}


{#- The rows of the study scope (true in a full build); cohort_column none: its patients only. -#}
{% macro in_study_scope(cohort_column='cohort_id', patient_column='patient_id') -%}
    {%- if is_incremental() -%}
    ({{ patient_column }} in (select patient_id from scope_patients)
        {%- if cohort_column %}
        or ({{ cohort_column }}, {{ patient_column }}) in (select cohort_id, patient_id from scope_subjects)
        {%- endif %})
    {%- else -%}
    true
    {%- endif -%}
{%- endmacro %}


{% macro get_incremental_subjects_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set columns = arg_dict['dest_columns'] | map(attribute='quoted') | join(', ') -%}
    delete from {{ target }}
    where {{ in_study_scope() }};
    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ arg_dict['temp_relation'] }}
{%- endmacro %}
