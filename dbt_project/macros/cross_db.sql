{#-
  SQL that PostgreSQL and Spark spell differently (docs/spark.md). Everything else in the models
  is written once, in the SQL both engines read, or with dbt's cross-database macros
  (dbt.dateadd, dbt.datediff, dbt.type_string...).
-#}

{#- the type of free text: text (PostgreSQL), string (Spark) -#}
{% macro text_type() -%}
    {{ return(adapter.dispatch('text_type', 'veille')()) }}
{%- endmacro %}
{% macro default__text_type() %}{{ return('text') }}{% endmacro %}
{% macro spark__text_type() %}{{ return('string') }}{% endmacro %}

{#- expr matches the regular expression pattern (a SQL string literal without backslashes: write
    [0-9], not \d, as the two engines read backslashes in literals differently) -#}
{% macro regex_match(expr, pattern) -%}
    {{ return(adapter.dispatch('regex_match', 'veille')(expr, pattern)) }}
{%- endmacro %}
{% macro default__regex_match(expr, pattern) %}({{ expr }} ~ {{ pattern }}){% endmacro %}
{% macro spark__regex_match(expr, pattern) %}({{ expr }} rlike {{ pattern }}){% endmacro %}

{#- one row per element of an array column, in a select list: unnest / explode -#}
{% macro unnest_array(expr) -%}
    {{ return(adapter.dispatch('unnest_array', 'veille')(expr)) }}
{%- endmacro %}
{% macro default__unnest_array(expr) %}unnest({{ expr }}){% endmacro %}
{% macro spark__unnest_array(expr) %}explode({{ expr }}){% endmacro %}

{#- whole days from date `earlier` to date `later` (an integer): later - earlier (PostgreSQL), datediff
    (Spark, where the difference of two dates is an interval) -#}
{% macro days_between(later, earlier) -%}
    {{ return(adapter.dispatch('days_between', 'veille')(later, earlier)) }}
{%- endmacro %}
{% macro default__days_between(later, earlier) %}({{ later }} - {{ earlier }}){% endmacro %}
{% macro spark__days_between(later, earlier) %}datediff({{ later }}, {{ earlier }}){% endmacro %}

{#- date `expr` plus `years` years (an integer expression; 29 February goes to 28 February) -#}
{% macro add_years(expr, years) -%}
    {{ return(adapter.dispatch('add_years', 'veille')(expr, years)) }}
{%- endmacro %}
{% macro default__add_years(expr, years) %}({{ expr }} + make_interval(years => {{ years }}))::date{% endmacro %}
{% macro spark__add_years(expr, years) %}add_months({{ expr }}, 12 * ({{ years }})){% endmacro %}

{#- the integers from start to stop, as a set-returning function for `cross join lateral ... as
    alias (column)`: empty when stop < start on both engines (Spark's sequence would count down) -#}
{% macro int_series(start, stop) -%}
    {{ return(adapter.dispatch('int_series', 'veille')(start, stop)) }}
{%- endmacro %}
{% macro default__int_series(start, stop) %}generate_series({{ start }}, {{ stop }}){% endmacro %}
{% macro spark__int_series(start, stop) %}explode(case when ({{ start }}) <= ({{ stop }}) then sequence({{ start }}, {{ stop }}) end){% endmacro %}

{#- integer division of two integer expressions, truncated toward zero (Spark's / gives a double) -#}
{% macro int_div(a, b) -%}
    {{ return(adapter.dispatch('int_div', 'veille')(a, b)) }}
{%- endmacro %}
{% macro default__int_div(a, b) %}(({{ a }}) / ({{ b }})){% endmacro %}
{% macro spark__int_div(a, b) %}(({{ a }}) div ({{ b }})){% endmacro %}

{#- the 8-byte floating point type -#}
{% macro double_type() -%}
    {{ return(adapter.dispatch('double_type', 'veille')()) }}
{%- endmacro %}
{% macro default__double_type() %}{{ return('double precision') }}{% endmacro %}
{% macro spark__double_type() %}{{ return('double') }}{% endmacro %}

{#- exact decimal arithmetic: numeric (PostgreSQL, any precision), decimal(38, 18) on Spark, whose
    bare `numeric` is decimal(10, 0) and would round to whole numbers -#}
{% macro numeric_type() -%}
    {{ return(adapter.dispatch('numeric_type', 'veille')()) }}
{%- endmacro %}
{% macro default__numeric_type() %}{{ return('numeric') }}{% endmacro %}
{% macro spark__numeric_type() %}{{ return('decimal(38, 18)') }}{% endmacro %}

{#- date `expr` plus `n` months (an integer expression), a date: the 31st goes to the month's last day -#}
{% macro add_months(expr, n) -%}
    {{ return(adapter.dispatch('add_months', 'veille')(expr, n)) }}
{%- endmacro %}
{% macro default__add_months(expr, n) %}({{ expr }} + make_interval(months => {{ n }}))::date{% endmacro %}
{% macro spark__add_months(expr, n) %}add_months({{ expr }}, {{ n }}){% endmacro %}

{#- a CTE that PostgreSQL must not materialize (`as not materialized`): Spark inlines CTEs anyway -#}
{% macro not_materialized() -%}
    {{ return(adapter.dispatch('not_materialized', 'veille')()) }}
{%- endmacro %}
{% macro default__not_materialized() %}not materialized{% endmacro %}
{% macro spark__not_materialized() %}{% endmacro %}

{#- an array made of `expr` (in terms of `var`) for each element of `array` -#}
{% macro array_transform(array, var, expr) -%}
    {{ return(adapter.dispatch('array_transform', 'veille')(array, var, expr)) }}
{%- endmacro %}
{% macro default__array_transform(array, var, expr) %}array(select {{ expr }} from unnest({{ array }}) as {{ var }}){% endmacro %}
{% macro spark__array_transform(array, var, expr) %}transform({{ array }}, {{ var }} -> {{ expr }}){% endmacro %}

{#- `expr` LIKE one of the patterns of array `patterns` -#}
{% macro like_any(expr, patterns) -%}
    {{ return(adapter.dispatch('like_any', 'veille')(expr, patterns)) }}
{%- endmacro %}
{% macro default__like_any(expr, patterns) %}({{ expr }} like any ({{ patterns }})){% endmacro %}
{% macro spark__like_any(expr, patterns) %}exists({{ patterns }}, pattern -> {{ expr }} like pattern){% endmacro %}

{#- `expr` equals one of the elements of array `values` -#}
{% macro in_array(expr, values) -%}
    {{ return(adapter.dispatch('in_array', 'veille')(expr, values)) }}
{%- endmacro %}
{% macro default__in_array(expr, values) %}({{ expr }} = any ({{ values }})){% endmacro %}
{% macro spark__in_array(expr, values) %}array_contains({{ values }}, {{ expr }}){% endmacro %}

{#- the values of `expr` joined by `delimiter` (a SQL string literal) in the order of `order_by`
    (one column): dbt.listagg, whose Spark version ignores the order -#}
{% macro ordered_listagg(expr, delimiter, order_by) -%}
    {{ return(adapter.dispatch('ordered_listagg', 'veille')(expr, delimiter, order_by)) }}
{%- endmacro %}
{% macro default__ordered_listagg(expr, delimiter, order_by) %}{{ dbt.listagg(expr, delimiter, 'order by ' ~ order_by) }}{% endmacro %}
{% macro spark__ordered_listagg(expr, delimiter, order_by) -%}
    array_join(transform(array_sort(collect_list(named_struct('k', {{ order_by }}, 'v', {{ expr }}))), item -> item.v), {{ delimiter }})
{%- endmacro %}

{#- a CTE that PostgreSQL must materialize (`as materialized`, an optimisation fence): Spark has no
    such hint -#}
{% macro cte_materialized() -%}
    {{ return(adapter.dispatch('cte_materialized', 'veille')()) }}
{%- endmacro %}
{% macro default__cte_materialized() %}materialized{% endmacro %}
{% macro spark__cte_materialized() %}{% endmacro %}

{#- the distinct non-null values of `expr` as a sorted array, in an aggregate -#}
{% macro sorted_distinct_array(expr) -%}
    {{ return(adapter.dispatch('sorted_distinct_array', 'veille')(expr)) }}
{%- endmacro %}
{% macro default__sorted_distinct_array(expr) %}array_remove(array_agg(distinct {{ expr }} order by {{ expr }}), null){% endmacro %}
{% macro spark__sorted_distinct_array(expr) %}array_sort(collect_set({{ expr }})){% endmacro %}

{#- one row per row of the FROM item before it and per entry of `rows` (each a list of SQL
    expressions, which may name that item's columns), the entries' values in columns `columns` of
    `alias`; placed where a join would be: `cross join lateral (values ...)` on PostgreSQL,
    `lateral view stack(...)` on Spark. The values of one column must share a type. -#}
{% macro lateral_rows(rows, alias, columns) -%}
    {{ return(adapter.dispatch('lateral_rows', 'veille')(rows, alias, columns)) }}
{%- endmacro %}
{% macro default__lateral_rows(rows, alias, columns) -%}
    cross join lateral (
        values
        {%- for row in rows %}
            ({{ row | join(', ') }}){{ "," if not loop.last }}
        {%- endfor %}
    ) as {{ alias }} ({{ columns | join(', ') }})
{%- endmacro %}
{% macro spark__lateral_rows(rows, alias, columns) -%}
    lateral view stack({{ rows | length }},
        {%- for row in rows %}
            {{ row | join(', ') }}{{ "," if not loop.last }}
        {%- endfor %}
    ) {{ alias }} as {{ columns | join(', ') }}
{%- endmacro %}

{#- num / den rounded to `digits` decimals, for exact expressions num and den (integers, or
    decimals of up to 18 decimals), in exact decimal arithmetic: a ratio that is a tie (1.20625 to
    4 decimals) rounds the same on both engines, which a double does not (PostgreSQL casts a
    double to numeric with 15 significant digits, Spark with all of them: 1.2062499999999998
    rounds to 1.2063 on one and 1.2062 on the other). On Spark the operands are decimal(38, 18)
    and decimal(18, 0), so that the quotient keeps 18 decimals: Spark sizes a quotient's scale
    from its operands' types, and a sum of decimal(38, 3) over a bigint keeps only 6 decimals,
    which rounded again to 4 can differ from PostgreSQL's (stress profile, 200,000 patients). -#}
{% macro rounded_ratio(num, den, digits) -%}
    {{ return(adapter.dispatch('rounded_ratio', 'veille')(num, den, digits)) }}
{%- endmacro %}
{% macro default__rounded_ratio(num, den, digits) %}round(cast({{ num }} as numeric) / ({{ den }}), {{ digits }}){% endmacro %}
{% macro spark__rounded_ratio(num, den, digits) %}round(cast({{ num }} as decimal(38, 18)) / cast({{ den }} as decimal(18, 0)), {{ digits }}){% endmacro %}

{#- a double rounded to `digits` decimals through its 15 significant digits, as PostgreSQL casts a
    double to numeric: the last bits of a double (which depend on the order a sum or an average
    was taken in) do not decide the rounding of a tie on one engine and not on the other -#}
{% macro round_double(expr, digits) -%}
    {{ return(adapter.dispatch('round_double', 'veille')(expr, digits)) }}
{%- endmacro %}
{% macro default__round_double(expr, digits) %}round(cast({{ expr }} as numeric), {{ digits }}){% endmacro %}
{% macro spark__round_double(expr, digits) -%}
    case when ({{ expr }}) is not null
        then round(cast(format_string('%.14e', cast({{ expr }} as double)) as decimal(38, 18)), {{ digits }}) end
{%- endmacro %}

{#- the type of doses and DDDs: exact decimals with 6 digits after the point on both engines -#}
{% macro dose_type() -%}
    {{ return(adapter.dispatch('dose_type', 'veille')()) }}
{%- endmacro %}
{% macro default__dose_type() %}{{ return('numeric(18, 6)') }}{% endmacro %}
{% macro spark__dose_type() %}{{ return('decimal(18, 6)') }}{% endmacro %}

{#- num / den as an exact decimal rounded to `digits` (a dose over a DDD: rounded_ratio's integer
    denominator would truncate a DDD of 7.5 mg on Spark) -#}
{% macro decimal_ratio(num, den, digits) -%}
    {{ return(adapter.dispatch('decimal_ratio', 'veille')(num, den, digits)) }}
{%- endmacro %}
{% macro default__decimal_ratio(num, den, digits) %}round(cast({{ num }} as numeric) / cast({{ den }} as numeric), {{ digits }}){% endmacro %}
{% macro spark__decimal_ratio(num, den, digits) %}round(cast({{ num }} as decimal(38, 12)) / cast({{ den }} as decimal(24, 12)), {{ digits }}){% endmacro %}
