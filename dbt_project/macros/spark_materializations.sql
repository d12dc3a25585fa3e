{#-
  On the spark target every incremental model is built in full, as a table: the incremental
  refresh (docs/refresh.md) needs the load log's changes and row deletes, which the Parquet
  tables of `veille flatten` do not have. dbt-spark's own incremental materialization would
  refuse the project's strategies (tail, subjects) before anything else.
-#}
{% materialization incremental, adapter='spark' %}
    {{ return(materialization_table_spark()) }}
{% endmaterialization %}


{#-
  Seeds on Spark: dbt-spark binds each value into the SQL text, and in session mode an empty
  cell became the string 'None'. The values are written as literals here, an empty cell as
  NULL, quotes and backslashes escaped.
-#}
{% macro spark__load_csv_rows(model, agate_table) %}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {%- set statements = [] -%}
    {%- for chunk in agate_table.rows | batch(get_batch_size()) -%}
        {%- set sql -%}
            insert into {{ this.render() }} values
            {% for row in chunk -%}
                ({%- for col_name in agate_table.column_names -%}
                    {%- set type = column_override.get(col_name, adapter.convert_type(agate_table, loop.index0)) -%}
                    {%- set value = row[loop.index0] -%}
                    {%- if value is none -%}
                    cast(null as {{ type }})
                    {%- else -%}
                    cast('{{ value | string | replace("\\", "\\\\") | replace("'", "\\'") }}' as {{ type }})
                    {%- endif -%}
                    {%- if not loop.last %}, {% endif -%}
                {%- endfor -%})
                {%- if not loop.last %},{% endif %}
            {% endfor %}
        {%- endset -%}
        {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
        {%- if loop.first -%}{%- do statements.append(sql) -%}{%- endif -%}
    {%- endfor -%}
    {{ return(statements[0]) }}
{% endmacro %}
