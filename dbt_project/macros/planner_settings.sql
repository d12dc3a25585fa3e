{#-
  Planner settings for one model's build, as `set local` in a pre-hook (they end with the
  model's transaction). PostgreSQL only: nothing on another adapter.

  table_planner_settings(), the pre-hook of every model (dbt_project.yml): a table model is
  built with enable_nestloop off. A nested loop is the one join whose cost grows with the
  product of its inputs; the planner picks it when it believes one side holds a row or two, and
  an estimate through a join of derived results (an aggregate of expressions, a CTE) can be off
  by 10^5 (scan_pair_counts: 1 row estimated, 323,499 read, each against 3,615 pairs: 57 s, 1.2 s
  with a hash join). Joins with no equality to hash or merge on (LIKE prefixes, ranges alone,
  LATERAL) still run as nested loops: PostgreSQL uses a disabled plan when it has no other.
  Incremental models are left alone: their monthly runs find a month's rows through indexes.

  planner_settings({'enable_hashagg': 'off'}): more settings for one model, in its own config,
  for a plan that should not depend on an estimate at all.
-#}
{% macro table_planner_settings() -%}
    {%- if target.type == 'postgres' and model.config.materialized == 'table' -%}
        set local enable_nestloop = off
    {%- endif -%}
{%- endmacro %}

{% macro planner_settings(settings) -%}
    {%- if target.type == 'postgres' -%}
        {%- for name, value in settings.items() %}
        set local {{ name }} = {{ value }};
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
