{#-
  The monitoring items of the pathways models: var pathways_monitoring_items (item name ->
  {nabm: [...], ccam: [...], specialty: [...]}), checked; the defaults follow the French
  follow-up of type 2 diabetes (HbA1c, creatinine, lipids, microalbuminuria, eye examination,
  endocrinologist). NABM codes in their official 4-digit form; leading zeros are ignored.
-#}
{% macro pathways_monitoring_items() %}
    {%- set items = var('pathways_monitoring_items', {
        'hba1c': {'nabm': ['1577']},
        'creatinine': {'nabm': ['0592']},
        'lipids': {'nabm': ['0996']},
        'microalbumin': {'nabm': ['1133']},
        'eye_exam': {'ccam': ['BGQP002', 'BGQP007'], 'specialty': ['15']},
        'endocrinology': {'specialty': ['42']},
    }) %}
    {%- set kinds = ['nabm', 'ccam', 'specialty'] %}
    {%- if items is not mapping or not items %}
        {{ exceptions.raise_compiler_error("var pathways_monitoring_items must map item names to codes, e.g. {hba1c: {nabm: ['1577']}}") }}
    {%- endif %}
    {%- for item, sources in items.items() %}
        {%- if sources is not mapping or not modules.re.match('^[a-z][a-z0-9_]*$', item | string) %}
            {{ exceptions.raise_compiler_error("var pathways_monitoring_items, item " ~ item ~ ": a lower-case name mapping nabm, ccam or specialty to a list of codes") }}
        {%- endif %}
        {%- for source, codes in sources.items() %}
            {%- if source not in kinds or codes is string or codes is not iterable %}
                {{ exceptions.raise_compiler_error("var pathways_monitoring_items, item " ~ item ~ ": '" ~ source ~ "' must be nabm, ccam or specialty with a list of codes") }}
            {%- endif %}
            {%- for code in codes %}
                {%- if not modules.re.match('^[A-Za-z0-9]+$', code | string | trim) %}
                    {{ exceptions.raise_compiler_error("var pathways_monitoring_items, item " ~ item ~ ": code '" ~ code ~ "' is not a code (letters and digits)") }}
                {%- endif %}
            {%- endfor %}
        {%- endfor %}
    {%- endfor %}
    {{ return(items) }}
{% endmacro %}
