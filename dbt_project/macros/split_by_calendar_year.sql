{#-
  The rows of `relation` (with interval_start, interval_end as [start, end) dates and
  birth_year) cut at each 1 January: one row per calendar year touched, with the 5-year age band
  reached in that year (age = calendar year - birth year, 90+ pooled, -1 when unknown) and the
  days of the interval inside that year. `columns` are carried through.
-#}
{% macro split_by_calendar_year(relation, columns) %}
    select
        {% for c in columns %}{{ relation }}.{{ c }},
        {% endfor %}years.calendar_year,
        coalesce(least(greatest({{ int_div('years.calendar_year - ' ~ relation ~ '.birth_year', '5') }}, 0), 18), -1) as age_band,
        {{ days_between('least(' ~ relation ~ '.interval_end, make_date(years.calendar_year + 1, 1, 1))',
                        'greatest(' ~ relation ~ '.interval_start, make_date(years.calendar_year, 1, 1))') }} as days
    from {{ relation }}
    cross join lateral {{ int_series('extract(year from ' ~ relation ~ '.interval_start)::int', 'extract(year from ' ~ relation ~ '.interval_end - 1)::int') }} as years (calendar_year)
    where {{ relation }}.interval_start < {{ relation }}.interval_end
{% endmacro %}
