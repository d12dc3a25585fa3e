{#- The flow month a fraud model sweeps (var fraud_month, 'YYYY-MM'), or none: every month.
    One-month sweeps are incremental (delete+insert of that month), which only the PostgreSQL
    target builds; on Spark the sweep rebuilds every month (docs/spark.md). -#}
{% macro fraud_month() -%}
    {%- set month = var('fraud_month', none) -%}
    {%- if month and target.type != 'postgres' -%}
        {{ exceptions.raise_compiler_error("var fraud_month (a one-month sweep) needs the PostgreSQL target: on "
            ~ target.type ~ " the fraud models are built for every month at once") }}
    {%- endif -%}
    {%- if month and not modules.re.match('^[0-9]{4}-(0[1-9]|1[0-2])$', month | string) -%}
        {{ exceptions.raise_compiler_error("var fraud_month must be YYYY-MM, got " ~ month) }}
    {%- endif -%}
    {{ return(month) }}
{%- endmacro %}
