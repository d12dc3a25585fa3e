{#- A data-quality count, not a failure: the rows where `expression` is true, reported as a
    warning (`veille dbt build` lists each with its `what`, python/veille/dbt.py data_quality_lines). -#}
{% test veille_data_quality(model, expression, what) %}
{{ config(severity='warn') }}
select *
from {{ model }}
where {{ expression }}
{% endtest %}
