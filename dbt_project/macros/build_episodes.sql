{#-
  Drug exposure episodes in one pass over the dispensings (no self-join, no aggregation).

  `source` is a relation or CTE name with one row per dispensing and the columns
  `partition_by` (list of column names: the patient x drug key), dispensing_id,
  dispensing_date, days_covered. `grace_days` and `end_delay_days` are SQL expressions
  (a number, or a column of `source` that is constant within a partition, e.g. a study
  setting). `stockpiling`, `min_purchases` and `purchase_window_days` are compile-time values.

  Covered end of a dispensing = dispensing_date + days_covered (the first day no longer
  covered). Without stockpiling a dispensing continues the episode when it starts at most
  `grace_days` after the running maximum of the covered ends before it (gaps and islands on a
  running max). With stockpiling an early refill is carried forward: its coverage starts at the
  covered end of the dispensings before it. That recurrence
      end_i = max(start_i, end_{i-1}) + days_i
  has the closed form  end_i = cum_days_i + max_{j <= i}(start_j - cum_days_{j-1}),
  a running max over a running sum, so it is a window function too.

  Every window shares one ordering (partition, date, dispensing_id): the rows are sorted once.
  A dispensing closes an episode when the next one starts more than grace_days after the
  covered end so far (lead vs running max). Only closing rows are kept (one per episode); on
  those, the episode's first date is the next_date of the closing row before it (or the
  partition's first date) and its number of dispensings the difference of row numbers. So there
  is no GROUP BY and no second pass over all rows: the full-width work is one sort and two
  window nodes (three with stockpiling). With min_purchases = n > 1 the n-th purchase of an
  episode is read the same way (lead(date, n) on the closing row before it, nth_value for the
  first episode).

  Output: the partition columns, episode_number, episode_start, episode_end (covered end + end
  delay), covered_end, first_dispensing_date, last_dispensing_date, n_dispensings.
-#}
{% macro build_episodes(source, partition_by, grace_days, end_delay_days, stockpiling, min_purchases=1, purchase_window_days=0) %}
{%- set keys = partition_by | join(', ') -%}
{%- set w = 'partition by ' ~ keys ~ ' order by dispensing_date, dispensing_id' -%}
{%- set running = 'rows between unbounded preceding and current row' -%}
{%- set n = min_purchases | int -%}
{%- if stockpiling %}
episode_running_sum as (
    select
        {{ keys }},
        dispensing_id,
        dispensing_date,
        days_covered,
        {{ grace_days }} as grace_days,
        {{ end_delay_days }} as end_delay_days,
        sum(days_covered) over ({{ w }} {{ running }})::int as cum_days
    from {{ source }}
),
{%- endif %}

episode_rows as (
    select
        {{ keys }},
        dispensing_id,
        dispensing_date,
        {%- if stockpiling %}
        grace_days,
        end_delay_days,
        max(dispensing_date - (cum_days - days_covered)) over ({{ w }} {{ running }}) + cum_days as covered_end,
        {%- else %}
        {{ grace_days }} as grace_days,
        {{ end_delay_days }} as end_delay_days,
        max(dispensing_date + days_covered) over ({{ w }} {{ running }}) as covered_end,
        {%- endif %}
        row_number() over ({{ w }}) as row_number,
        first_value(dispensing_date) over ({{ w }}) as partition_first_date,
        {%- if n > 1 %}
        nth_value(dispensing_date, {{ n }}) over ({{ w }}) as partition_nth_date,
        lead(dispensing_date, {{ n }}) over ({{ w }}) as next_nth_date,
        {%- endif %}
        lead(dispensing_date) over ({{ w }}) as next_date
    from {{ 'episode_running_sum' if stockpiling else source }}
),

episode_closing_rows as (
    select
        {{ keys }},
        covered_end,
        end_delay_days,
        row_number() over ({{ w }}) as episode_number,
        coalesce(lag(next_date) over ({{ w }}), partition_first_date) as first_dispensing_date,
        dispensing_date as last_dispensing_date,
        {%- if n > 1 %}
        case
            when lag(row_number) over ({{ w }}) is null then partition_nth_date
            else lag(next_nth_date) over ({{ w }})
        end as nth_purchase_date,
        {%- endif %}
        row_number - coalesce(lag(row_number) over ({{ w }}), 0) as n_dispensings
    from episode_rows
    where next_date is null or next_date > covered_end + grace_days
),

episodes as (
    select
        {{ keys }},
        episode_number::int as episode_number,
        {%- if n > 1 %}
        nth_purchase_date as episode_start,
        {%- else %}
        first_dispensing_date as episode_start,
        {%- endif %}
        covered_end + end_delay_days as episode_end,
        covered_end,
        first_dispensing_date,
        last_dispensing_date,
        n_dispensings::int as n_dispensings
    from episode_closing_rows
    {%- if n > 1 %}
    where n_dispensings >= {{ n }}
        {%- if purchase_window_days | int > 0 %}
        and {{ days_between('nth_purchase_date', 'first_dispensing_date') }} <= {{ purchase_window_days | int }}
        {%- endif %}
    {%- endif %}
)
{% endmacro %}


{#- build_episodes with the project's episode vars (grace_days, end_delay_days, stockpiling and,
    when `purchases`, min_purchases and purchase_window_days). -#}
{% macro build_project_episodes(source, partition_by, purchases=false) %}
{{- build_episodes(
    source,
    partition_by,
    grace_days=var_int('grace_days', 30),
    end_delay_days=var_int('end_delay_days', 0),
    stockpiling=(var_bool('stockpiling', true) | trim == 'true'),
    min_purchases=(var_int('min_purchases', 1, 1) | int) if purchases else 1,
    purchase_window_days=(var_int('purchase_window_days', 0) | int) if purchases else 0,
) -}}
{% endmacro %}
