{#- Distinct patients per key and window of `window` flow months ending at each month of the
    CTE swept_months, from `relation` (one row per key x patient x month). One swept month:
    count(distinct) over the relation, which the caller has cut to that window. Every month:
    each month x covers the windows ending at x .. x + window - 1; a patient's months less than a
    window apart are merged into one run first, so that runs, not patients x windows, are
    expanded. Columns: month, the keys, `column`. -#}
{% macro patients_per_window(relation, keys, window, one_month, column) -%}
    {%- set k = keys | join(', ') -%}
    {%- if one_month %}
    select swept_months.month, {{ k }}, count(distinct patient_id) as {{ column }}
    from {{ relation }}
    cross join swept_months
    group by swept_months.month, {{ k }}
    {%- else %}
    select covered.month, {{ k }}, count(*) as {{ column }}
    from (
        select {{ k }}, {{ add_months('runs.first_month', 'offsets.i') }} as month
        from (
            select {{ k }}, patient_id, run, min(month) as first_month,
                cast((extract(year from max(month)) - extract(year from min(month))) * 12
                    + extract(month from max(month)) - extract(month from min(month)) as int)
                    + {{ window | int - 1 }} as last_offset
            from (
                select {{ k }}, patient_id, month,
                    sum(case when previous is null or month >= {{ add_months('previous', window | int) }}
                        then 1 else 0 end) over (partition by {{ k }}, patient_id order by month) as run
                from (
                    select {{ k }}, patient_id, month,
                        lag(month) over (partition by {{ k }}, patient_id order by month) as previous
                    from {{ relation }}
                ) as months
            ) as runs
            group by {{ k }}, patient_id, run
        ) as runs
        cross join lateral {{ int_series(0, 'runs.last_offset') }} as offsets (i)
    ) as covered
    inner join swept_months on swept_months.month = covered.month
    group by covered.month, {{ k }}
    {%- endif %}
{%- endmacro %}
