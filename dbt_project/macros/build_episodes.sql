{#-
  Drug exposure episodes in one pass over the dispensings (no self-join).

  `source` is a relation or CTE name with one row per dispensing and the columns
  `partition_by` (list of column names: the patient x drug key), dispensing_id,
  dispensing_date, days_covered. `grace_days` and `end_delay_days` are SQL expressions
  (a number, or a column of `source` that is constant within a partition, e.g. a study
  setting). `stockpiling`, `min_purchases` and `purchase_window_days` are compile-time values.

  Covered end of a dispensing = dispensing_date + days_covered (the first day no longer
  covered). Without stockpiling an episode runs while each dispensing starts at most
  `grace_days` after the running maximum of the covered ends before it (gaps-and-islands on a
  running max). With stockpiling, an early refill is carried forward: its coverage starts at
  the covered end of the previous dispensings. That recurrence
      end_i = max(start_i, end_{i-1}) + days_i
  has the closed form  end_i = cum_days_i + max_{j <= i}(start_j - cum_days_{j-1}),
  a running max over a running sum, so it too is computed with window functions.
  Every window shares one ordering (partition, date, dispensing_id): one sort.

  Output: the partition columns, episode_start, episode_end (covered end + end delay),
  covered_end, first_dispensing_date, n_dispensings.
-#}
{% macro build_episodes(source, partition_by, grace_days, end_delay_days, stockpiling, min_purchases=1, purchase_window_days=0) %}
{%- set keys = partition_by | join(', ') -%}
{%- set w = 'partition by ' ~ keys ~ ' order by dispensing_date, dispensing_id' -%}
{%- if stockpiling %}
episode_running_sum as (
    select
        *,
        sum(days_covered) over ({{ w }} rows between unbounded preceding and current row)
            as cum_days
    from {{ source }}
),

episode_covered as (
    select
        {{ keys }},
        dispensing_id,
        dispensing_date,
        {{ grace_days }} as grace_days,
        {{ end_delay_days }} as end_delay_days,
        max(dispensing_date - (cum_days - days_covered)::int)
            over ({{ w }} rows between unbounded preceding and current row)
        + cum_days::int as covered_end,
        max(dispensing_date - (cum_days - days_covered)::int)
            over ({{ w }} rows between unbounded preceding and 1 preceding)
        + (cum_days - days_covered)::int as previous_end
    from episode_running_sum
),
{%- else %}
episode_covered as (
    select
        {{ keys }},
        dispensing_id,
        dispensing_date,
        {{ grace_days }} as grace_days,
        {{ end_delay_days }} as end_delay_days,
        dispensing_date + days_covered::int as covered_end,
        max(dispensing_date + days_covered::int)
            over ({{ w }} rows between unbounded preceding and 1 preceding) as previous_end
    from {{ source }}
),
{%- endif %}

episode_numbered as (
    select
        *,
        sum(case when previous_end is null or dispensing_date > previous_end + grace_days then 1 else 0 end)
            over ({{ w }} rows between unbounded preceding and current row) as episode_number
    from episode_covered
),

episode_grouped as (
    select
        {{ keys }},
        episode_number,
        min(dispensing_date) as first_dispensing_date,
        max(covered_end) as covered_end,
        max(end_delay_days) as end_delay_days,
        count(*)::int as n_dispensings
        {%- if min_purchases | int > 1 %},
        (array_agg(dispensing_date order by dispensing_date, dispensing_id))[{{ min_purchases | int }}]
            as nth_purchase_date
        {%- endif %}
    from episode_numbered
    group by {{ keys }}, episode_number
),

episodes as (
    select
        {{ keys }},
        episode_number::int as episode_number,
        {%- if min_purchases | int > 1 %}
        nth_purchase_date as episode_start,
        {%- else %}
        first_dispensing_date as episode_start,
        {%- endif %}
        covered_end + end_delay_days as episode_end,
        covered_end,
        first_dispensing_date,
        n_dispensings
    from episode_grouped
    {%- if min_purchases | int > 1 %}
    where n_dispensings >= {{ min_purchases | int }}
        {%- if purchase_window_days | int > 0 %}
        and nth_purchase_date - first_dispensing_date <= {{ purchase_window_days | int }}
        {%- endif %}
    {%- endif %}
)
{% endmacro %}
