{#- Validated episode settings from vars (a bad value stops the build with one readable line). -#}
{% macro episode_code_length() -%}
    {%- set level = var('episode_level', 'atc7') -%}
    {%- set lengths = {'atc7': 7, 'atc5': 5, 'atc4': 4} -%}
    {%- if level not in lengths -%}
        {{ exceptions.raise_compiler_error("var episode_level must be atc7, atc5 or atc4, got " ~ level) }}
    {%- endif -%}
    {{ lengths[level] }}
{%- endmacro %}

{% macro days_covered_mode() -%}
    {%- set mode = var('days_covered_mode', 'fixed') -%}
    {%- if mode not in ['fixed', 'units', 'ddd'] -%}
        {{ exceptions.raise_compiler_error("var days_covered_mode must be fixed, units or ddd, got " ~ mode) }}
    {%- endif -%}
    {{ mode }}
{%- endmacro %}

{% macro var_bool(name, default) -%}
    {%- set value = var(name, default) -%}
    {%- if value in [true, 'true', 'True', 1, '1'] -%}true
    {%- elif value in [false, 'false', 'False', 0, '0'] -%}false
    {%- else -%}{{ exceptions.raise_compiler_error("var " ~ name ~ " must be true or false, got " ~ value) }}
    {%- endif -%}
{%- endmacro %}

{% macro var_int(name, default, minimum=0) -%}
    {%- set value = var(name, default) -%}
    {%- if value is not number and not (value is string and value.isdigit()) -%}
        {{ exceptions.raise_compiler_error("var " ~ name ~ " must be a whole number, got " ~ value) }}
    {%- endif -%}
    {%- if value | int < minimum -%}
        {{ exceptions.raise_compiler_error("var " ~ name ~ " must be at least " ~ minimum ~ ", got " ~ value) }}
    {%- endif -%}
    {{ value | int }}
{%- endmacro %}


{#- The most days one dispensing covers in the units and ddd modes (10 years): a pack with
    absurd units or DDDs in the referential cannot overflow the days (an int) nor make an
    endless episode. -#}
{% macro max_days_covered() -%}3660{%- endmacro %}
