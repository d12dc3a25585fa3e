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
    {%- set dependents = [] -%}
    {%- if relation.identifier is not none and relation.identifier.endswith(suffix) -%}
        {%- set target_name = relation.identifier[:-(suffix | length)] -%}
        {%- set found = run_query(keep_dependent_views_sql(relation, target_name)) -%}
        {%- for row in found.rows -%}
            {%- do dependents.append(row[0]) -%}
        {%- endfor -%}
    {%- endif -%}
    {% call statement('drop_relation', auto_begin=False) -%}
        {{ get_drop_sql(relation) }}
    {%- endcall %}
    {%- if dependents -%}
        {%- set lost = run_query(
            "select name from unnest(array['" ~ dependents | join("','") ~ "']) as name"
            ~ " where to_regclass(name) is null order by name") -%}
        {%- for row in lost.rows -%}
            {%- do exceptions.warn(
                "veille: the view " ~ row[0] ~ " read " ~ relation.schema ~ "." ~ target_name
                ~ " and could not be re-pointed at its rebuilt version (its columns would change): it was"
                ~ " dropped; rebuild it (`dbt run --select " ~ row[0].split('.')[-1] ~ "` for a model)") -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}


{#- Re-points the views reading `backup` at `schema.target_name` and returns their names
    (schema.view, one row each); a view whose columns would change is left reading the backup. -#}
{% macro keep_dependent_views_sql(backup, target_name) -%}
do $veille$
declare
    dependent record;
begin
    if to_regclass({{ dbt.string_literal(backup.schema ~ '.' ~ target_name) }}) is null then
        return;
    end if;
    for dependent in
        select distinct view_class.oid::regclass::text as name, pg_get_viewdef(view_class.oid) as definition
        from pg_depend as dep
        inner join pg_rewrite as rule on rule.oid = dep.objid
        inner join pg_class as view_class on view_class.oid = rule.ev_class
        where dep.classid = 'pg_rewrite'::regclass
          and dep.refobjid = to_regclass({{ dbt.string_literal(backup.schema ~ '.' ~ backup.identifier) }})
          and view_class.oid <> dep.refobjid
          and view_class.relkind = 'v'
    loop
        begin
            execute format('create or replace view %s as %s', dependent.name,
                           replace(dependent.definition, {{ dbt.string_literal(backup.identifier) }},
                                   {{ dbt.string_literal(target_name) }}));
        exception when others then
            null;  -- columns changed: the drop below takes the view with the backup
        end;
    end loop;
end
$veille$;
select view_class.oid::regclass::text as name
from pg_depend as dep
inner join pg_rewrite as rule on rule.oid = dep.objid
inner join pg_class as view_class on view_class.oid = rule.ev_class
where dep.classid = 'pg_rewrite'::regclass
  and dep.refobjid in (
      to_regclass({{ dbt.string_literal(backup.schema ~ '.' ~ backup.identifier) }}),
      to_regclass({{ dbt.string_literal(backup.schema ~ '.' ~ target_name) }}))
  and view_class.oid not in (
      to_regclass({{ dbt.string_literal(backup.schema ~ '.' ~ backup.identifier) }}),
      to_regclass({{ dbt.string_literal(backup.schema ~ '.' ~ target_name) }}))
  and view_class.relkind = 'v'
group by 1
{%- endmacro %}
