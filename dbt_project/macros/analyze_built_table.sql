{#-
  Post-hook of every model (dbt_project.yml): statistics for the table just built, before the
  next model of the same build reads it. A table made by `create table as` has none until
  autovacuum gets to it (never, for a table of a few rows): the planner then assumes 200
  distinct values per column and a row count from the page count (a one-row int_data_span was
  planned as 2,260 rows, multiplying every estimate it was joined to). Views need none; an
  incremental table is analyzed after each run (ANALYZE samples at most 30,000 rows per column
  statistics target: a fraction of a second however large the table).
-#}
{% macro analyze_built_table() -%}
    {%- if target.type == 'postgres' and model.config.materialized in ['table', 'incremental', 'seed'] -%}
        analyze {{ this }}
    {%- endif -%}
{%- endmacro %}
