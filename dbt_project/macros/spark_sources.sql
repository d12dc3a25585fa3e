{#-
  spark_sources(): on the spark target (docs/spark.md), the first thing a run does (on-run-start,
  through refresh_setup): each source table of the project, as written by `veille flatten`
  under var parquet_root (<root>/<schema>/<table>/*.parquet), is declared as a table of the
  Spark catalog over those files. Declarations are replaced on each run, so that a new flatten
  in the same folder is read as it is.
-#}
{% macro spark_sources() -%}
    {%- if execute -%}
        {%- set root = var('parquet_root', env_var('VEILLE_PARQUET', '')) or none -%}
        {%- if root is none -%}
            {{ exceptions.raise_compiler_error("the spark target reads the Parquet of `veille flatten`: set VEILLE_PARQUET (or var parquet_root) to the folder it wrote") }}
        {%- endif -%}
        {%- set seen = [] -%}
        {%- for node in graph.sources.values() -%}
            {%- if node.package_name == project_name -%}
                {%- if node.schema not in seen -%}
                    {%- do run_query('create database if not exists ' ~ node.schema) -%}
                    {%- do seen.append(node.schema) -%}
                {%- endif -%}
                {%- do run_query('drop table if exists ' ~ node.schema ~ '.' ~ node.identifier) -%}
                {%- do run_query('create table ' ~ node.schema ~ '.' ~ node.identifier ~ " using parquet location '"
                                 ~ root ~ '/' ~ node.schema ~ '/' ~ node.identifier ~ "'") -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
