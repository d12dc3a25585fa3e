{#- Rebuilding a model must not drop the views that read it.

    dbt rebuilds a view or a table by renaming the old relation to <name>__dbt_backup, putting the
    new one in its place and dropping the backup with cascade. PostgreSQL binds a view to the
    relation it reads, not to its name, so the cascade dropped every view reading the model, and
    a partial build (`dbt build --select +tag:study`, `veille study run`) left the views outside
    its selection missing (fct_drug_episode_doses, fct_drug_cumulative_exposure, the fraud views).

    Before the backup is dropped, each view reading it is re-pointed at the new relation with
    `create or replace view` (its definition, with the backup's name replaced by the model's),
    which keeps the view, its grants and its comments. PostgreSQL allows that only when the
    view's columns keep their names and types; when they would change, the view is dropped as
    before and a warning names it. -#}
{% macro postgres__drop_relation(relation) -%}
    {%- set suffix = '__dbt_backup' -%}
    {%- set is_backup = relation.identifier is not none and relation.identifier.endswith(suffix) -%}
    {%- set target_name = relation.identifier[:-(suffix | length)] if is_backup else relation.identifier -%}
    {%- if is_backup -%}
        {%- do run_query(repoint_dependent_views_sql(relation, target_name)) -%}
    {%- endif -%}
    {%- set readers = [] -%}
    {%- if relation.identifier is not none -%}
        {%- set found = run_query(dependent_views_sql(
            [relation.schema ~ '.' ~ relation.identifier] + ([relation.schema ~ '.' ~ target_name] if is_backup else []))) -%}
        {%- for row in found.rows -%}
            {%- do readers.append(row[0] ~ '.' ~ row[1]) -%}
        {%- endfor -%}
    {%- endif -%}
    {% call statement('drop_relation', auto_begin=False) -%}
        {{ get_drop_sql(relation) }}
    {%- endcall %}
    {#- dbt updates its relation cache before this macro runs, by the links it read when the run
        started: the views re-pointed go back in, those the drop took go out (a later model of the
        same run would otherwise rename a view it thinks gone, or one it thinks still there) -#}
    {%- if readers -%}
        {%- set after = run_query(
            "select name, to_regclass(name) is not null from unnest(array['" ~ readers | join("','")
            ~ "']) as name order by name") -%}
        {%- for row in after.rows -%}
            {%- set schema_name, view_name = row[0].split('.') -%}
            {%- set view = api.Relation.create(database=relation.database, schema=schema_name,
                                               identifier=view_name, type='view') -%}
            {%- if row[1] -%}
                {%- do adapter.cache_added(view) -%}
            {%- else -%}
                {%- do adapter.cache_dropped(view) -%}
                {%- if is_backup -%}
                    {%- do exceptions.warn(
                        "veille: the view " ~ row[0] ~ " read " ~ relation.schema ~ "." ~ target_name
                        ~ " and could not be re-pointed at its rebuilt version (its columns would change): it was"
                        ~ " dropped; rebuild it (`dbt run --select " ~ view_name ~ "` for a model)") -%}
                {%- endif -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}


{#- Re-points the views reading `backup` at `schema.target_name`. A view whose columns would
    change is left reading the backup. -#}
{% macro repoint_dependent_views_sql(backup, target_name) -%}
do $veille$
declare
    dependent record;
begin
    -- one re-pointing at a time: two models rebuilt in parallel threads may share a reader, and
    -- each must read the definition the other left (lock held until this statement commits)
    perform pg_advisory_xact_lock(hashtext('veille.keep_dependent_views'));
    if to_regclass({{ dbt.string_literal(backup.schema ~ '.' ~ target_name) }}) is null then
        return;
    end if;
    for dependent in
        select view_oid::regclass::text as name, pg_get_viewdef(view_oid) as definition
        from ({{ dependent_views_sql([backup.schema ~ '.' ~ backup.identifier], recursive=false) | indent(8) }}) as readers
    loop
        begin
            execute format('create or replace view %s as %s', dependent.name,
                           replace(dependent.definition, {{ dbt.string_literal(backup.identifier) }},
                                   {{ dbt.string_literal(target_name) }}));
        exception when others then
            null;  -- columns changed: the drop takes the view with the backup
        end;
    end loop;
end
$veille$
{%- endmacro %}


{#- Every view reading one of `relations` (schema.name), directly or (recursive) through other
    views: (schema, view, oid) rows. -#}
{% macro dependent_views_sql(relations, recursive=true) -%}
with recursive reader (oid) as (
    select rule.ev_class
    from pg_depend as dep
    inner join pg_rewrite as rule on rule.oid = dep.objid
    where dep.classid = 'pg_rewrite'::regclass
      and dep.refobjid in ({%- for r in relations %}to_regclass({{ dbt.string_literal(r) }}){{ ", " if not loop.last }}{% endfor -%})
      and rule.ev_class <> dep.refobjid
    {%- if recursive %}
    union
    select rule.ev_class
    from reader
    inner join pg_depend as dep on dep.refobjid = reader.oid and dep.classid = 'pg_rewrite'::regclass
    inner join pg_rewrite as rule on rule.oid = dep.objid
    where rule.ev_class <> dep.refobjid
    {%- endif %}
)
select distinct view_schema.nspname, view_class.relname, view_class.oid as view_oid
from reader
inner join pg_class as view_class on view_class.oid = reader.oid
inner join pg_namespace as view_schema on view_schema.oid = view_class.relnamespace
where view_class.relkind = 'v'
{%- endmacro %}
