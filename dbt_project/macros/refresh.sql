{#-
  Incremental refresh (docs/refresh.md). Each load writes meta.load_change: per run, patient
  and source, the earliest care date it changed. An incremental model keeps in
  intermediate.refresh_watermark the last load run it has consumed (with a fingerprint of its
  code and of the vars in its config refresh_vars); its next build recomputes, for each patient
  changed by a later run, only
  what lies from that patient's first changed date on (the model's "tail"), and replaces it:

    pre-hook   refresh_lock(): a shared lock against loads (a load holds it exclusively), so
               that no load commits between what the model reads and the run it records;
               then the model's scope, a temporary table built from refresh_changes();
    body       when is_incremental(), only the scoped patients' tails;
    strategy   `tail` (get_incremental_tail_sql): delete the target's rows of the scope from
               the scope's tail_from on, insert the body's rows;
    post-hook  refresh_mark(): record the last load run.

  A model whose fingerprint changed (its SQL, its settings or, for the study models, the study
  registry), or that has no watermark, is rebuilt from scratch like `--full-refresh`
  (should_full_refresh below): its stored rows may not even have the columns its new SQL reads.
-#}

{% macro refresh_setup() -%}
    {#- only what is missing: a role that may build in the schemas but not create one (a
        pathways or fraud run) must not need the database's CREATE right -#}
    {%- if target.type == 'postgres' -%}
    do $refresh_setup$
    begin
        if to_regnamespace('intermediate') is null then
            create schema intermediate;
        end if;
        if to_regclass('intermediate.refresh_watermark') is null then
            create table intermediate.refresh_watermark (
                model       text primary key,
                run_id      bigint      not null,
                fingerprint text        not null,
                built_at    timestamptz not null
            );
            comment on table intermediate.refresh_watermark is
              'veille: the last load run (meta.load_run) each incremental model has consumed (docs/refresh.md)';
        end if;
    end
    $refresh_setup$
    {%- elif target.type == 'spark' -%}
    {{ spark_sources() }}
    {%- endif -%}
{%- endmacro %}


{#-
  dbt's should_full_refresh(), extended: a refreshed model (strategy tail or subjects) is built
  in full when its watermark is missing or holds another fingerprint. is_incremental() and the
  incremental materialization both ask this macro, so the model's body, its scope pre-hook and
  its strategy agree.
-#}
{% macro should_full_refresh() -%}
    {%- set configured = config.get('full_refresh') -%}
    {%- if configured is none -%}
        {%- set configured = flags.FULL_REFRESH -%}
    {%- endif -%}
    {%- if target.type != 'postgres' -%}
        {#- other engines (spark) have no watermark: every model is built in full -#}
        {{- return(true) -}}
    {%- endif -%}
    {%- if configured or not execute or config.get('incremental_strategy') not in ('tail', 'subjects') -%}
        {{- return(configured) -}}
    {%- endif -%}
    {%- set query -%}
        select exists (
            select 1
            from intermediate.refresh_watermark as w
            where w.model = '{{ this.identifier }}' and w.fingerprint = '{{ refresh_fingerprint() }}'
        )
    {%- endset -%}
    {{- return(not run_query(query).columns[0].values()[0]) -}}
{%- endmacro %}


{% macro refresh_lock() -%}
    {%- if target.type == 'postgres' -%}
    select pg_advisory_xact_lock_shared(4242001)
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}


{#- What a model's result depends on besides the claims: its SQL and that of every node upstream
    of it (models, seeds), the vars named in their config refresh_vars (each model declares the
    vars its own SQL reads), and, with config refresh_registry, the study registry's rows (the
    cohort definitions with their resolved study start; not the moving end of the data). -#}
{% macro refresh_fingerprint() -%}
    {%- set parts = [model.checksum.checksum] -%}
    {%- set vars_used = model.config.get('refresh_vars', []) | list -%}
    {%- for node_id in refresh_upstream(model) -%}
        {%- set node = graph.nodes[node_id] -%}
        {%- do parts.append(node_id ~ ':' ~ node.checksum.checksum) -%}
        {%- do vars_used.extend(node.config.get('refresh_vars', [])) -%}
    {%- endfor -%}
    {%- for v in vars_used | unique | sort -%}
        {%- do parts.append(v ~ '=' ~ (var(v, none) | string)) -%}
    {%- endfor -%}
    {%- if model.config.get('refresh_registry') and execute -%}
        {%- do parts.append(study_registry_hash()) -%}
    {%- endif -%}
    {{- local_md5(parts | sort | join('|')) -}}
{%- endmacro %}


{#- Every node upstream of `node` whose SQL or data its fingerprint holds (refresh_inputs, followed
    up the graph). -#}
{% macro refresh_upstream(node) -%}
    {%- set seen = [] -%}
    {%- set queue = refresh_inputs(node) -%}
    {%- for node_id in queue -%}
        {%- if node_id not in seen and node_id in graph.nodes -%}
            {%- do seen.append(node_id) -%}
            {%- do queue.extend(refresh_inputs(graph.nodes[node_id])) -%}
        {%- endif -%}
    {%- endfor -%}
    {{- return(seen) -}}
{%- endmacro %}


{#- `dbt run-operation print_refresh_upstream --args '{model: int_drug_episodes_built}'`: the
    nodes whose edit makes the model rebuild in full at its next incremental build, one a line. -#}
{% macro print_refresh_upstream(model) -%}
    {%- for node_id in refresh_upstream(graph.nodes['model.veille.' ~ model]) | sort -%}
        {{- print(node_id) -}}
    {%- endfor -%}
{%- endmacro %}


{#- The upstream nodes a node's result depends on: all of depends_on, less those its config
    refresh_conditional_inputs ties to a var value that is not the current one. E.g.
    int_drug_dispensings reads int_drug_pack_doses only with days_covered_mode ddd
    ({'int_drug_pack_doses': ['days_covered_mode', 'ddd']}): in the other modes an edit of the
    dose seeds does not force the episodes to rebuild. -#}
{% macro refresh_inputs(node) -%}
    {%- set conditions = node.config.get('refresh_conditional_inputs', {}) -%}
    {%- set inputs = [] -%}
    {%- for node_id in node.depends_on.nodes -%}
        {%- set condition = conditions.get(node_id.split('.')[-1]) -%}
        {%- if condition is none or (var(condition[0], none) | string) == (condition[1] | string) -%}
            {%- do inputs.append(node_id) -%}
        {%- endif -%}
    {%- endfor -%}
    {{- return(inputs) -}}
{%- endmacro %}


{#- md5 of the study registry as the incremental study models read it: the resolved cohorts,
    their study start included (the start of the data when the study has none) and their period
    end excluded (it follows the data monthly; no incremental study model's rows depend on it).
    Each of those models is downstream of int_study_cohorts; none reads the cohort outcomes. -#}
{% macro study_registry_hash() -%}
    {%- set cohorts = graph.nodes['model.' ~ project_name ~ '.int_study_cohorts'].relation_name -%}
    {%- set query -%}
        select coalesce(md5(string_agg((to_jsonb(c) - 'period_end')::text, '|' order by c.cohort_id)), '')
        from {{ cohorts }} as c
    {%- endset -%}
    {{- return(run_query(query).columns[0].values()[0]) -}}
{%- endmacro %}


{#- The last load run this model consumed with its current fingerprint (-1: none, all runs). -#}
{% macro refresh_consumed_run() -%}
    (
        select coalesce(max(w.run_id), -1)
        from intermediate.refresh_watermark as w
        where w.model = '{{ this.identifier }}'
            and w.fingerprint = '{{ refresh_fingerprint() }}'
    )
{%- endmacro %}


{#- The sources of claim days (int_patient_activity_dates, int_observation_spans). -#}
{% macro activity_sources() -%}
    {{- return(['dispensing', 'service_line', 'medical_act', 'lab_test', 'hospital_stay']) -}}
{%- endmacro %}


{#-
  Per patient, the earliest date changed by the load runs this model has not consumed, over
  `sources` (meta.load_change.source). A change of the drug referential (source drug) counts
  for every patient, from -infinity, when 'drug' is among the sources.
-#}
{% macro refresh_changes(sources) -%}
    select patient_id, min(first_date) as changed_from
    from (
        select c.patient_id, c.first_date
        from meta.load_change as c
        where c.run_id > {{ refresh_consumed_run() }}
            and c.source in ('{{ sources | join("', '") }}')
            and c.patient_id is not null
        {%- if 'drug' in sources %}
        union all
        select p.patient_id, '-infinity'::date
        from claims.patient as p
        where exists (
            select 1
            from meta.load_change as c
            where c.source = 'drug' and c.run_id > {{ refresh_consumed_run() }}
        )
        {%- endif %}
    ) as changes
    group by patient_id
{%- endmacro %}


{% macro refresh_mark() -%}
    {%- if target.type != 'postgres' -%}
    select 1
    {%- else -%}
    insert into intermediate.refresh_watermark (model, run_id, fingerprint, built_at)
    select '{{ this.identifier }}', coalesce(max(run_id), 0), '{{ refresh_fingerprint() }}', now()
    from meta.load_run
    on conflict (model) do update set
        run_id = excluded.run_id, fingerprint = excluded.fingerprint, built_at = excluded.built_at
    {%- endif -%}
{%- endmacro %}


{#-
  Custom incremental strategy `tail`: config tail_scope (a temporary table made by the model's
  pre-hook), tail_key (columns the target and the scope share) and tail_column (the target's
  rows with tail_column >= scope.tail_from are replaced).
-#}
{% macro get_incremental_tail_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set columns = arg_dict['dest_columns'] | map(attribute='quoted') | join(', ') -%}
    delete from {{ target }} as t
    using {{ config.get('tail_scope') }} as s
    where {% for key in config.get('tail_key') %}t.{{ key }} = s.{{ key }} and {% endfor -%}
        t.{{ config.get('tail_column') }} >= s.tail_from;
    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ arg_dict['temp_relation'] }}
{%- endmacro %}


{#- A tail scope `name`: the patients changed over `sources` and the day their rows are rebuilt
    from (int_patient_activity_dates, int_study_group_dispensings: a row is only ever its day's). -#}
{% macro changes_scope(name, sources) -%}
    {%- if not is_incremental() %}select 1{% else -%}
    create temporary table {{ name }} on commit drop as
    select patient_id, changed_from as tail_from
    from ({{ refresh_changes(sources) }}) as changes;
    analyze {{ name }}
    {%- endif %}
{%- endmacro %}


{% macro activity_scope() -%}
    {{- changes_scope('activity_scope', activity_sources()) -}}
{%- endmacro %}

{#-
  The rows of `relation` a tail scope rebuilds (incremental runs): for each changed patient of
  the temporary table `scope`, the index range of his rows from tail_from on (LATERAL with
  OFFSET 0, so that the planner keeps one index range scan a patient rather than hashing the
  whole table: 0.29 s against 0.83 s for the dispensings of one flow month on the stress
  extract, and the gap grows with the table). A full build reads the whole relation.
-#}
{% macro tail_rows(relation, date_column, scope) -%}
    {%- if is_incremental() -%}
    select changed.*
    from {{ scope }} as scope
    cross join lateral (
        select *
        from {{ relation }} as source
        where source.patient_id = scope.patient_id and source.{{ date_column }} >= scope.tail_from
        offset 0
    ) as changed
    {%- else -%}
    select * from {{ relation }}
    {%- endif -%}
{%- endmacro %}


{#- One source of int_patient_activity_dates: (patient_id, activity_date). -#}
{% macro activity_rows(relation, date_column) -%}
    select patient_id, {{ date_column }} as activity_date
    from ({{ tail_rows(relation, date_column, 'activity_scope') }}) as claims
{%- endmacro %}


{#-
  int_observation_spans: per changed patient (changed from day d), the span still open at d
  (its last claim at most trackloss_empty_months months before d; open_start when it started
  before d), the day its rows are replaced from (tail_from) and the day the claims are read from
  (read_from: the open span's claims of the gap before d, enough to carry it on).
-#}
{% macro span_scope() -%}
    {%- if not is_incremental() %}select 1{% else -%}
    {%- set empty_months = var_int('trackloss_empty_months', 4, 1) | int -%}
    create temporary table span_scope on commit drop as
    with changes as (
        {{ refresh_changes(activity_sources()) }}
    ),

    open_spans as (
        select spans.patient_id, min(spans.observation_start) as open_start
        from {{ this }} as spans
        inner join changes
            on spans.patient_id = changes.patient_id
        where {{ dbt.dateadd('month', empty_months, 'spans.last_claim_date') }} >= changes.changed_from
        group by spans.patient_id
    )

    select
        changes.patient_id,
        case when open_spans.open_start < changes.changed_from then open_spans.open_start end as open_start,
        least(open_spans.open_start, changes.changed_from) as tail_from,
        case
            when open_spans.open_start < changes.changed_from
                then greatest(
                    open_spans.open_start,
                    {{ dbt.cast(dbt.dateadd('month', -empty_months, 'changes.changed_from'), 'date') }} - 31
                )
            else changes.changed_from
        end as read_from
    from changes
    left join open_spans
        on changes.patient_id = open_spans.patient_id;
    analyze span_scope
    {%- endif %}
{%- endmacro %}
