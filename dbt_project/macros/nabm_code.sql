{#-
  A NABM code as the pathways models compare it: trimmed, without leading zeros ('0592' =
  '592'), '0' when nothing is left. One definition for the care events, the indicator items and
  the monitoring items.
-#}
{% macro nabm_code(expression) -%}
    coalesce(nullif(trim(leading '0' from trim({{ expression }})), ''), '0')
{%- endmacro %}
