{#- The category of a cumulative value cut at ascending thresholds (a dbt var, a list of
    numbers): 0 below the first, k from the k-th on. Fails the compile on a list that is not
    ascending positive numbers. -#}
{% macro category_number(expr, var_name, default) -%}
    {%- set thresholds = var(var_name, default) -%}
    {%- if thresholds is string or thresholds is number or thresholds | length == 0 -%}
        {{ exceptions.raise_compiler_error("var " ~ var_name ~ " must be a list of ascending positive numbers, got " ~ thresholds) }}
    {%- endif -%}
    {%- for t in thresholds -%}
        {%- if t is not number or t <= 0 or (not loop.first and t <= thresholds[loop.index0 - 1]) -%}
            {{ exceptions.raise_compiler_error("var " ~ var_name ~ " must be a list of ascending positive numbers, got " ~ thresholds) }}
        {%- endif -%}
    {%- endfor -%}
    case
    {%- for t in thresholds | reverse %}
        when {{ expr }} >= {{ t }} then {{ thresholds | length - loop.index0 }}
    {%- endfor %}
        else 0
    end
{%- endmacro %}
