{#-
  planner_settings(): the pre-hook of every model (dbt_project.yml). Planner settings for one
  model's build, as `set local` (they end with the model's transaction); PostgreSQL only.
  `veille dbt explain` applies the same settings (python/veille/dbt.py, planner_settings).

  * A table model is built with enable_nestloop off. A nested loop is the one join whose cost
    grows with the product of its inputs; the planner picks it when it believes one side holds
    a row or two, and an estimate through a join of derived results (an aggregate of
    expressions, a CTE) can be off by 10^5 (scan_pair_counts: 1 row estimated, 323,499 read,
    each against 3,615 pairs: 57 s; 1.2 s with a hash join). Joins with no equality to hash or
    merge on (LIKE prefixes, ranges alone, LATERAL) still run as nested loops: PostgreSQL uses
    a disabled plan when it has no other. An incremental model's full build is a table
    build; its incremental runs are left alone: they find the changed rows through indexes.
  * A model adds its own in `meta: {planner: {setting: value}}`, for a plan that should not
    depend on an estimate at all (int_patient_activity_dates: enable_hashagg off).
-#}
{% macro planner_settings() -%}
    {%- if target.type == 'postgres' -%}
        {%- set settings = {} -%}
        {%- if model.config.materialized == 'table' or (model.config.materialized == 'incremental' and not is_incremental()) -%}
            {%- do settings.update({'enable_nestloop': 'off'}) -%}
        {%- endif -%}
        {%- do settings.update(model.config.get('meta', {}).get('planner', {})) -%}
        {%- for name, value in settings.items() %}
        set local {{ name }} = {{ value }};
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
